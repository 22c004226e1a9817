"""A function that consumes a stream of items in a background thread, fed through a bounded queue.

The runtime blends and writes in such a thread while the calling thread runs the engine, so
that inference does not wait for blending, encoding and compression (which GDAL and numpy do
mostly without the GIL). The engine stays in the calling thread: pycuda's context is per thread.
An error in either thread stops both, and the consumer's error is raised in the calling thread;
a stopped consumer sees its items end in `ConsumerStopped`, not in a normal end, so it never
mistakes a cut-off stream for a whole one.
"""

from __future__ import annotations

import queue
import threading
from typing import Callable, Generic, Iterator, TypeVar

Item = TypeVar("Item")

_END = object()
_POLL_SECONDS = 0.1


class ConsumerStopped(Exception):
    """Raised into the consumer when the caller failed: the stream of items was cut off."""


class ConsumerThread(Generic[Item]):
    """Runs `consume(items)` in a thread over what is `put`, in order; a context manager."""

    def __init__(self, consume: Callable[[Iterator[Item]], None], *, depth: int, name: str) -> None:
        self._consume = consume
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._took_all = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def __enter__(self) -> "ConsumerThread[Item]":
        self._thread.start()
        return self

    def __exit__(self, exc_type: object, *exc_info: object) -> None:
        if exc_type is not None:  # the caller failed: stop the consumer, keep the caller's error
            self._stop_and_join()
            return
        try:
            self._hand(_END)
            self._thread.join()
        except BaseException:  # interrupted while finishing: the consumer must not outlive this
            self._stop_and_join()
            raise
        if self._error is not None:
            raise self._error
        if not self._took_all:
            raise RuntimeError(f"{self._thread.name} stopped before taking every item")

    def put(self, item: Item) -> None:
        """Hand one item to the consumer, waiting while the queue is full; raise the consumer's error."""
        self._hand(item)

    def _stop_and_join(self) -> None:
        self._stop.set()
        self._thread.join()

    def _hand(self, item: object) -> None:
        while True:
            if not self._thread.is_alive():  # it stores its error before it ends, so this order is safe
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
            if self._stop.is_set():
                raise ConsumerStopped
            try:
                item = self._queue.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                continue
            if item is _END:
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
