"""The consumer thread: items in order, errors from either side stop both and reach the caller."""

import threading
import time

import pytest

from ibhfn.runtime import consumer_thread as consumer_module
from ibhfn.runtime.consumer_thread import ConsumerThread


def test_every_item_is_consumed_in_order_in_another_thread():
    seen, threads = [], set()

    def consume(items):
        for item in items:
            seen.append(item)
            threads.add(threading.current_thread().name)

    with ConsumerThread(consume, depth=2, name="test-consumer") as consumer:
        for item in range(50):
            consumer.put(item)
    assert seen == list(range(50)) and threads == {"test-consumer"}


def test_the_consumer_s_error_is_raised_in_the_caller():
    def consume(items):
        for item in items:
            if item == 3:
                raise ValueError("bad item 3")

    with pytest.raises(ValueError, match="bad item 3"):
        with ConsumerThread(consume, depth=1, name="test-consumer") as consumer:
            for item in range(1000):
                consumer.put(item)


def test_a_consumer_error_racing_its_end_is_still_the_one_raised():
    """The consumer fails and ends between two of the caller's puts: its error, not a generic one."""

    def consume(items):
        next(items)
        raise ValueError("disk full")

    with pytest.raises(ValueError, match="disk full"):
        with ConsumerThread(consume, depth=1, name="test-consumer") as consumer:
            consumer.put(1)
            time.sleep(0.3)  # the consumer has failed and ended
            consumer.put(2)


def test_the_caller_s_error_cuts_the_stream_off_and_is_kept():
    """The consumer's loop ends in an exception, not normally, so a partial block is never finished."""
    ended = []

    def consume(items):
        try:
            for _ in items:
                pass
            ended.append("normally")
        finally:
            ended.append("done")

    with pytest.raises(KeyError):
        with ConsumerThread(consume, depth=4, name="test-consumer") as consumer:
            consumer.put(1)
            time.sleep(0.2)
            raise KeyError("engine failed")
    assert ended == ["done"]


def test_an_interrupt_while_finishing_stops_the_consumer(monkeypatch):
    done = threading.Event()

    def consume(items):
        try:
            for _ in items:
                pass
        finally:
            done.set()

    with pytest.raises(KeyboardInterrupt):
        with ConsumerThread(consume, depth=1, name="test-consumer") as consumer:
            consumer.put(1)
            real_put = consumer._queue.put

            def interrupted_at_the_end(item, **kwargs):
                if item is consumer_module._END:
                    raise KeyboardInterrupt
                real_put(item, **kwargs)

            monkeypatch.setattr(consumer._queue, "put", interrupted_at_the_end)
    assert done.is_set()


@pytest.mark.parametrize("linger", [0.0, 0.3])
def test_a_consumer_that_stops_early_is_an_error_not_a_hang(linger):
    def consume(items):
        next(items)
        time.sleep(linger)  # still alive, or not, when the caller hands the rest

    with pytest.raises(RuntimeError, match="stopped before taking every item"):
        with ConsumerThread(consume, depth=4, name="test-consumer") as consumer:
            for item in range(3):
                consumer.put(item)
