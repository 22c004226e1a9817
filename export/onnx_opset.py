"""Which ONNX opset the export writes: torch-free, so `ibhfn-export trt` runs on a Jetson without torch."""

DEFAULT_OPSET = 18
MIN_OPSET = 17  # LayerNormalization (17) maps to TensorRT's native normalisation layer
