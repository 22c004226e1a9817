"""A run killed mid-scene (SIGKILL: no cleanup at all) must leave nothing under the final name."""

import signal
import subprocess
import sys
import time

from ibhfn.runtime.scene_record import record_path

SLOW_RUN = """
import sys, time
from pathlib import Path
from ibhfn.runtime.engine import open_engine
from ibhfn.runtime.pipeline import run_scene
from ibhfn.runtime.run_options import RunOptions

engine_path, s1, s2, out = sys.argv[1:]
with open_engine(Path(engine_path), device="cpu") as engine:
    run = engine._infer_impl
    def slow(sar, optical):
        time.sleep(0.05)
        return run(sar, optical)
    engine._infer_impl = slow
    run_scene(engine, Path(s1), Path(s2), Path(out), RunOptions(tile_size=64, batch_size=1), resume=True)
"""


def test_killed_run_leaves_no_final_file_and_resume_finishes_it(tmp_path, onnx_engine_path, make_scene):
    s1, s2 = make_scene(tmp_path / "in", "a", height=640, width=64)
    out = tmp_path / "out" / "a.tif"
    args = [sys.executable, "-c", SLOW_RUN, str(onnx_engine_path), str(s1), str(s2), str(out)]
    process = subprocess.Popen(args)
    deadline = time.monotonic() + 60
    while not list(out.parent.glob(".a.tif.partial-*")) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert process.poll() is None, "the run ended before it could be killed"
    time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not out.exists() and not record_path(out).exists()

    assert subprocess.run(args, timeout=120).returncode == 0
    assert out.is_file() and record_path(out).is_file()
