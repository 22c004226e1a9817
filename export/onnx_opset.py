"""Which ONNX opset the export writes: torch-free, so `ibhfn-export trt` runs on a Jetson without torch."""

DEFAULT_OPSET = 18
MIN_OPSET = 18  # LayerNormalization (17) maps to TensorRT's normalisation layer; torch.export writes 18 and
# cannot convert this network down to 17
