"""INT8 calibration: a QDQ ONNX from stratified SEN12MS-CR samples, measured on CPU."""
