"""What one thread prints, captured while a block runs; every other thread prints through.

`contextlib.redirect_stdout` swaps `sys.stdout` for the whole process, so another thread's prints
(a progress line, a worker's report) would vanish into the capture too. Here `sys.stdout` is a
stand-in only while some block is open: it sends the writes of each capturing thread to that
block's buffer and passes every other write on, and the last block to end puts the stream back.
"""

from __future__ import annotations

import contextlib
import io
import sys
import threading
from collections.abc import Iterator
from typing import Any, TextIO


class ThreadStdout:
    """A stand-in for sys.stdout: a capturing thread writes into its innermost block's buffer, others through."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.buffers: dict[int, list[io.StringIO]] = {}  # thread id -> its open blocks' buffers, innermost last

    def write(self, text: str) -> int:
        buffers = self.buffers.get(threading.get_ident())
        return buffers[-1].write(text) if buffers else self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


_lock = threading.Lock()
_stand_in: ThreadStdout | None = None


@contextlib.contextmanager
def captured_stdout() -> Iterator[io.StringIO]:
    """Collect what this thread prints inside the block into the buffer it yields."""
    global _stand_in
    captured, thread = io.StringIO(), threading.get_ident()
    with _lock:
        if _stand_in is None:
            _stand_in = ThreadStdout(sys.stdout)
            sys.stdout = _stand_in
        stand_in = _stand_in
        stand_in.buffers.setdefault(thread, []).append(captured)
    try:
        yield captured
    finally:
        with _lock:
            buffers = stand_in.buffers[thread]
            buffers.pop(next(i for i, buffer in enumerate(buffers) if buffer is captured))
            if not buffers:
                del stand_in.buffers[thread]
            if not stand_in.buffers:
                if sys.stdout is stand_in:  # else someone replaced it meanwhile: theirs stays
                    sys.stdout = stand_in.stream
                _stand_in = None
