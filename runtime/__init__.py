"""The lean runtime: tiled inference over GeoTIFF scenes on ONNX Runtime or TensorRT, without torch."""
