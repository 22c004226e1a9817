import os
import signal
import threading
import time

import pytest

from ibhfn.runtime.stage_thread import StageThread


def test_an_interrupted_wait_stops_the_thread_and_is_raised_once_it_has_ended():
    cleaned_up = threading.Event()

    def target():
        time.sleep(0.2)  # the caller is waiting by now
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C
        stage.stop.wait(timeout=5)
        time.sleep(0.3)  # cleaning up after being stopped
        cleaned_up.set()

    stage = StageThread(target, "test-stage")
    stage.start()
    with pytest.raises(KeyboardInterrupt):
        stage.wait()
    assert stage.stop.is_set() and cleaned_up.is_set() and stage.ended


def test_stop_and_wait_returns_once_the_target_has_ended():
    stage = StageThread(lambda: stage.stop.wait(timeout=5), "test-stage")
    stage.start()
    assert not stage.ended
    stage.stop_and_wait()
    assert stage.ended and not [t for t in threading.enumerate() if t.name == "test-stage"]
