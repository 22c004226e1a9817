"""The quantizer's messages are hidden without touching the root logger's level or other threads' output."""

from __future__ import annotations

import logging
import sys
import threading

from ibhfn.calibration.quantizer_messages import QUANTIZER_FOLDER, QUANTIZER_LOGGER, hidden_quantizer_messages


def record_from(path: str) -> logging.LogRecord:
    return logging.LogRecord("root", logging.WARNING, path, 1, "message from %s", (path,), None)


def test_only_the_quantizers_records_are_dropped(caplog):
    root = logging.getLogger()
    level = root.level
    with caplog.at_level(logging.WARNING), hidden_quantizer_messages():
        assert root.level == logging.WARNING  # caplog's level, not ERROR
        root.handle(record_from(f"{QUANTIZER_FOLDER}/quantize.py"))
        root.handle(record_from(__file__))
        logging.getLogger("ibhfn.something").warning("a library's own warning")
        logging.getLogger(f"{QUANTIZER_LOGGER}.preprocess").warning("the quantizer's named logger")
    assert [r.getMessage() for r in caplog.records] == [f"message from {__file__}", "a library's own warning"]
    root.handle(record_from(f"{QUANTIZER_FOLDER}/quantize.py"))  # after the block: through again
    assert caplog.records[-1].pathname.startswith(QUANTIZER_FOLDER)
    assert root.level == level and not root.filters
    assert logging.getLogger(QUANTIZER_LOGGER).level == logging.NOTSET


def test_prints_of_this_thread_are_dropped_and_other_threads_print(capsys):
    stdout = sys.stdout
    with hidden_quantizer_messages():
        print("from the quantizer's thread")
        other = threading.Thread(target=print, args=("from another thread",))
        other.start()
        other.join()
        with hidden_quantizer_messages():  # nested blocks
            print("nested")
        print("still hidden")
    print("after")
    assert capsys.readouterr().out == "from another thread\nafter\n"
    assert sys.stdout is stdout
