"""INT8 calibration: a QDQ ONNX from stratified SEN12MS-CR samples, measured on CPU.

Modules, top-down: `selection` (the stratified calibration set), `reader` (the quantizer's
`CalibrationDataReader` over it), `quantize` (ORT's static QDQ quantizer, ranges calibrated once,
float islands), `accuracy` (INT8 against FP32 on held-out val patches), `sensitivity` (layer groups
ranked, the worst left in float), `calibrate` (the library function) and `cli` (`ibhfn-calibrate`).
"""
