"""Parity verification: does an exported engine reproduce its reference, within its precision's limits?

Read in this order:
- `parity`: compares outputs sample by sample and aggregates them (`ParityAccumulator`, with the
  bounded `histogram`); `thresholds`: the per-precision limits and the verdict (`judge`);
  `report`: the JSON (`report_schema.json`) and the self-contained HTML page.
- `engine_pair`: the engine and its reference opened side by side and checked to be the same
  network; `reference`: a PyTorch checkpoint as a reference engine (the only module that imports
  torch, and only when the reference is a checkpoint).
- `samples`: SEN12MS-CR patches read with the engine's preprocessing; `scenes`: whole scenes
  restored through the tiled runtime and compared window by window.
- `runner`: `verify_dataset` and `verify_scenes`, which put the above together; `cli`: `ibhfn-verify`.
"""
