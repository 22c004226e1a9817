"""The consumer thread: items in order, errors from either side stop both and reach the caller."""

import threading

import pytest

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


def test_the_caller_s_error_stops_the_consumer_and_is_kept():
    seen = []
    with pytest.raises(KeyError):
        with ConsumerThread(lambda items: seen.extend(items), depth=4, name="test-consumer") as consumer:
            consumer.put(1)
            raise KeyError("caller")
    assert seen in ([], [1])  # stopped, whatever it had taken


def test_a_consumer_that_stops_early_is_an_error_not_a_hang():
    def consume(items):
        next(items)

    with pytest.raises(RuntimeError, match="stopped before taking every item"):
        with ConsumerThread(consume, depth=1, name="test-consumer") as consumer:
            for item in range(100):
                consumer.put(item)
