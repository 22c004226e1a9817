"""The exceptions ibhfn raises on purpose; the command-line tools turn them into one-line messages."""

from __future__ import annotations


class IbhfnError(Exception):
    """A problem the user can act on; its message is one line naming the file and the problem."""

    exit_code = 2


class InputError(IbhfnError):
    """An input file or folder is missing, unreadable, or not what the tool expects."""


class ModelError(IbhfnError):
    """A checkpoint or engine cannot be loaded, or does not match the data or the tool."""


class ShapeError(IbhfnError):
    """An array has a shape the network or engine cannot take."""


class DependencyError(IbhfnError):
    """An optional dependency (TensorRT, CUDA bindings, torch, ...) is not installed."""


class VerificationFailed(IbhfnError):
    """An engine did not meet its parity thresholds against the reference."""

    exit_code = 1
