"""Items computed ahead of their consumer in a background thread, handed over through a bounded queue.

The runtime reads the scene's blocks in such a thread and preprocesses them in another that
iterates over the first, so that reading, preprocessing and inference overlap. An error in the
thread comes to the consumer in place of its item; a thread stopped before its last item ends its
consumer's iteration in `ProducerStopped`, never in a normal end.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

from ibhfn.runtime.stage_thread import StageThread

In = TypeVar("In")
Out = TypeVar("Out")


class _End:
    """The last item in the queue: there are no more."""


_END = _End()
_POLL_SECONDS = 0.1


class ProducerStopped(Exception):
    """Raised into a consumer whose producer was stopped before its last item."""


class ProducerThread(Generic[In, Out]):
    """Iterates over `produce(item)` for each of `items`, computed ahead in a background thread; a context manager."""

    def __init__(self, produce: Callable[[In], Out], items: Iterable[In], *, depth: int, name: str) -> None:
        self._produce, self._items = produce, items
        self._queue: queue.Queue[Out | BaseException | _End] = queue.Queue(maxsize=depth)
        self._thread = StageThread(self._run, name)

    def __enter__(self) -> ProducerThread[In, Out]:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._thread.stop_and_wait()

    def _put(self, item: Out | BaseException | _End) -> bool:
        while not self._thread.stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for item in self._items:
                if self._thread.stop.is_set() or not self._put(self._produce(item)):
                    return
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self._put(exc)
            return
        self._put(_END)

    def __iter__(self) -> Iterator[Out]:
        while True:
            try:
                item = self._queue.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                if self._thread.ended and self._queue.empty():  # what it put before ending is in the queue
                    raise ProducerStopped(f"{self._thread.name} stopped before its last item") from None
                continue
            if isinstance(item, _End):
                return
            if isinstance(item, BaseException):
                raise item
            yield item
