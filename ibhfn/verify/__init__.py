"""Parity verification: does an exported engine reproduce its reference, within its precision's limits?

`parity` compares outputs sample by sample and aggregates them (`ParityAccumulator`),
`thresholds` holds the per-precision limits and `judge`s a summary, `report` writes the JSON and
HTML report. Nothing here runs an engine or imports torch.
"""
