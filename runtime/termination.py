"""SIGTERM taken as Ctrl-C, so that a batch scheduler's stop (Slurm, Kubernetes) cleans up as an interrupt does.

Python ends a process on SIGTERM at once, leaving its temporary files in OUT; raised as
KeyboardInterrupt in the main thread instead, it stops the scene's threads, removes what the scene
was writing and exits with Ctrl-C's code. A second SIGTERM while that runs is ignored: the
scheduler's SIGKILL, which follows after its grace period, is what ends a cleanup that hangs.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """Raise KeyboardInterrupt, once."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def terminate_as_interrupt() -> None:
    """From now on, the first SIGTERM to this process raises KeyboardInterrupt in its main thread."""
    if threading.current_thread() is threading.main_thread():  # only the main thread may set handlers
        signal.signal(signal.SIGTERM, _interrupt)
