"""A background thread of the pipeline that its owner can stop, and always waits for, Ctrl-C included.

The runtime's threads read GDAL datasets and fill buffers that their owner closes or reuses once
they have ended, so the owner must never go on while one still runs. `Thread.join` cannot promise
that: on CPython 3.11, a join interrupted by Ctrl-C can mark a thread that is still running as
stopped, and the next join returns at once. So each thread sets an event as its last act, and its
owner waits on that event; an interrupt meanwhile stops the thread, is held until it has ended,
and is raised then.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

LAUNCH_SECONDS = 1.0  # a thread whose start was interrupted and that has not run by then never will


class StageThread:
    """Runs `target` in a daemon thread named `name`; `target` should watch `stop` and end soon once it is set."""

    def __init__(self, target: Callable[[], None], name: str) -> None:
        self.name = name
        self.stop = threading.Event()
        self._target = target
        self._launched = threading.Event()
        self._ended = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        self._launched.set()
        try:
            self._target()
        finally:
            self._ended.set()

    @property
    def ended(self) -> bool:
        """Whether the thread has finished running `target` (everything it stored before is visible)."""
        return self._ended.is_set()

    def start(self) -> None:
        """Start the thread; if an interrupt cuts the start short, stop the thread and wait for it first."""
        try:
            self._thread.start()
        except KeyboardInterrupt:
            self.stop.set()
            if self._launched.wait(LAUNCH_SECONDS):
                self.wait()
            raise

    def wait(self) -> None:
        """Wait until the thread has ended; an interrupt meanwhile stops it, and is raised once it has ended."""
        interrupted: KeyboardInterrupt | None = None
        while True:
            try:
                self._ended.wait()
                break
            except KeyboardInterrupt as exc:
                self.stop.set()
                interrupted = exc
        if interrupted is not None:
            raise interrupted

    def stop_and_wait(self) -> None:
        """Stop the thread and wait until it has ended."""
        self.stop.set()
        self.wait()
