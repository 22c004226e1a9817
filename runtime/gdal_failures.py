"""The failures GDAL signals but rasterio only logs (a block that did not fit on a full disk), collected per thread."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator

LOGGERS = ("rasterio._env", "rasterio._err")  # where rasterio logs what GDAL signals
FAILURE = "GDAL signalled an error"  # how rasterio logs a CE_Failure (at INFO), its message the last argument


class _Watcher(logging.Filter):
    """On rasterio's loggers while any thread is watched: notes failures, passes on only what they passed before."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.watches: dict[int, list[list[str]]] = {}  # by thread, the lists its open watches collect into
        self.levels: dict[str, tuple[int, int]] = {}  # by logger, its own level and its effective one before

    def filter(self, record: logging.LogRecord) -> bool:
        failure = str(record.msg).startswith(FAILURE)
        if failure or record.levelno >= logging.ERROR:
            message = str(record.args[-1]) if failure and isinstance(record.args, tuple) else record.getMessage()
            for failures in self.watches.get(record.thread, ()) if record.thread is not None else ():
                failures.append(message)
        return record.levelno >= self.levels[record.name][1]

    def start(self) -> None:
        for name in LOGGERS:
            logger = logging.getLogger(name)
            self.levels[name] = (logger.level, logger.getEffectiveLevel())
            logger.addFilter(self)
            logger.setLevel(min(logging.INFO, self.levels[name][1]))

    def stop(self) -> None:
        for name in LOGGERS:
            logger = logging.getLogger(name)
            logger.removeFilter(self)
            logger.setLevel(self.levels[name][0])


_WATCHER = _Watcher()


@contextlib.contextmanager
def gdal_failures() -> Iterator[list[str]]:
    """Collect the messages of the failures GDAL signals in this thread while the block runs."""
    failures: list[str] = []
    thread = threading.get_ident()
    with _WATCHER.lock:
        if not _WATCHER.watches:
            _WATCHER.start()
        _WATCHER.watches.setdefault(thread, []).append(failures)
    try:
        yield failures
    finally:
        with _WATCHER.lock:
            _WATCHER.watches[thread].pop()
            if not _WATCHER.watches[thread]:
                del _WATCHER.watches[thread]
            if not _WATCHER.watches:
                _WATCHER.stop()
