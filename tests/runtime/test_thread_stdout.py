"""captured_stdout takes what its own thread prints and leaves sys.stdout as it found it."""

import contextlib
import io
import sys
import threading

from ibhfn.runtime.onnxruntime_backend import _preload_cuda_libraries
from ibhfn.runtime.thread_stdout import captured_stdout


def test_this_threads_prints_are_captured_and_other_threads_print_through():
    process_stdout = io.StringIO()
    with contextlib.redirect_stdout(process_stdout):
        with captured_stdout() as outer:
            print("outer")
            other = threading.Thread(target=print, args=("from another thread",))
            other.start()
            other.join()
            with captured_stdout() as inner:
                print("inner")
            print("outer again")
        stand_in_gone = sys.stdout is process_stdout
        print("after")
    assert outer.getvalue() == "outer\nouter again\n" and inner.getvalue() == "inner\n"
    assert process_stdout.getvalue() == "from another thread\nafter\n" and stand_in_gone


def test_preloading_cuda_leaves_stdout_as_it_was():
    stdout = sys.stdout
    assert isinstance(_preload_cuda_libraries(), str)
    assert sys.stdout is stdout
