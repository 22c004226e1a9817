"""Hides what ONNX Runtime's quantizer prints and logs, and nothing else in the process.

The quantizer logs through the root logger (`logging.warning(...)`), through its own named
loggers, and prints progress with `print()`. Inside `hidden_quantizer_messages()` the root logger
keeps its level and handlers: a filter drops only the records whose source file lies in
`onnxruntime.quantization`, and its named loggers are raised to ERROR. What the calling thread
prints is captured and dropped while every other thread prints through (`captured_stdout`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

import onnxruntime.quantization

from ibhfn.runtime.thread_stdout import captured_stdout

QUANTIZER_FOLDER = str(Path(onnxruntime.quantization.__file__).resolve().parent)
QUANTIZER_LOGGER = "onnxruntime.quantization"  # parent of the quantizer's named loggers


class QuantizerRecords(logging.Filter):
    """Drops log records written by a source file of ONNX Runtime's quantizer."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(Path(record.pathname).resolve()).startswith(QUANTIZER_FOLDER)


@contextlib.contextmanager
def hidden_quantizer_messages() -> Iterator[None]:
    """Hide the quantizer's log records and prints inside the block; the caller reports what matters."""
    root, named = logging.getLogger(), logging.getLogger(QUANTIZER_LOGGER)
    records, level = QuantizerRecords(), named.level
    # logging.warning() would install a stderr handler on a root logger that has none (basicConfig)
    placeholder = logging.NullHandler() if not root.handlers else None
    if placeholder is not None:
        root.addHandler(placeholder)
    root.addFilter(records)
    named.setLevel(logging.ERROR)
    try:
        with captured_stdout():  # dropped: this thread's prints only, other threads print on
            yield
    finally:
        named.setLevel(level)
        root.removeFilter(records)
        if placeholder is not None:
            root.removeHandler(placeholder)
