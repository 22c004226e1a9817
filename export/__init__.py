"""Export: fold IB-HFN into its deploy form and write ONNX (FP32/FP16) and TensorRT engines."""
