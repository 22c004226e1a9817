"""A function that consumes a stream of items in a background thread, fed through a bounded queue.

The runtime blends in such a thread, and writes in another that the first one feeds, while the
calling thread runs the engine, so that inference does not wait for blending, encoding and
compression (which GDAL and numpy do mostly without the GIL). The engine stays in the calling
thread: pycuda's context is per thread.
An error in either thread stops both, and the consumer's error is raised in the calling thread;
a stopped consumer sees its items end in `ConsumerStopped`, not in a normal end, so it never
mistakes a cut-off stream for a whole one.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from ibhfn.runtime.stage_thread import StageThread

Item = TypeVar("Item")


class _End:
    """The last item in the queue: there are no more."""


_END = _End()
_POLL_SECONDS = 0.1


class ConsumerStopped(Exception):
    """Raised into the consumer when the caller failed: the stream of items was cut off."""


class ConsumerThread(Generic[Item]):
    """Runs `consume(items)` in a thread over what is `put`, in order; a context manager."""

    def __init__(self, consume: Callable[[Iterator[Item]], None], *, depth: int, name: str) -> None:
        self._consume = consume
        self._queue: queue.Queue[Item | _End] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._took_all = False
        self._thread = StageThread(self._run, name)

    def __enter__(self) -> ConsumerThread[Item]:
        self._thread.start()
        return self

    def __exit__(self, exc_type: object, *exc_info: object) -> None:
        if exc_type is not None:  # the caller failed: stop the consumer, keep the caller's error
            self._thread.stop_and_wait()
            return
        try:
            self._hand(_END)
            self._thread.wait()
        except BaseException:  # interrupted while finishing: the consumer must not outlive this
            self._thread.stop_and_wait()
            raise
        if self._error is not None:
            raise self._error
        if not self._took_all:
            raise RuntimeError(f"{self._thread.name} stopped before taking every item")

    def put(self, item: Item) -> None:
        """Hand one item to the consumer, waiting while the queue is full; raise the consumer's error."""
        self._hand(item)

    def _hand(self, item: Item | _End) -> None:
        while True:
            if self._thread.ended:  # it stores its error before it ends, so this order is safe
                if self._error is not None:
                    raise self._error
                raise RuntimeError(f"{self._thread.name} stopped before taking every item")
            try:
                self._queue.put(item, timeout=_POLL_SECONDS)
                return
            except queue.Full:
                continue

    def _items(self) -> Iterator[Item]:
        while True:
            if self._thread.stop.is_set():
                raise ConsumerStopped
            try:
                item = self._queue.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                continue
            if isinstance(item, _End):
                self._took_all = True
                return
            yield item

    def _run(self) -> None:
        try:
            self._consume(self._items())
        except ConsumerStopped:
            pass
        except BaseException as exc:  # raised again in the calling thread
            self._error = exc
