import threading
import time

import pytest

from ibhfn.runtime.producer_thread import ProducerStopped, ProducerThread


def producer_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name == "test-producer"]


def test_items_come_in_order_computed_in_the_thread():
    names = []

    def produce(item):
        names.append(threading.current_thread().name)
        return item * 10

    with ProducerThread(produce, range(5), depth=2, name="test-producer") as produced:
        assert list(produced) == [0, 10, 20, 30, 40]
    assert set(names) == {"test-producer"} and producer_threads() == []


def test_a_producer_error_comes_in_its_item_s_place():
    def produce(item):
        if item == 3:
            raise ValueError("item 3 is bad")
        return item * 10

    got = []
    with pytest.raises(ValueError, match="item 3 is bad"):
        with ProducerThread(produce, range(6), depth=2, name="test-producer") as produced:
            got.extend(produced)
    assert got == [0, 10, 20] and producer_threads() == []


def test_a_consumer_of_a_stopped_producer_gets_producer_stopped_not_a_hang():
    producer = ProducerThread(lambda item: time.sleep(0.05) or item, range(100), depth=1, name="test-producer")
    with producer:
        items = iter(producer)
        assert next(items) == 0
    start = time.perf_counter()
    with pytest.raises(ProducerStopped, match="test-producer stopped before its last item"):
        list(items)
    assert time.perf_counter() - start < 2 and producer_threads() == []
