"""Real signals mid-scene: SIGTERM cleans up as Ctrl-C does, and --resume finishes what SIGKILL left."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ibhfn.data.synthetic import write_scene

from .conftest import RUN, tool

SIZE = 512  # px: scenes of 9 bundled-model tiles, a few seconds each on a CPU
INTERRUPTED = 130  # Ctrl-C's exit code


@pytest.fixture(scope="module")
def scenes(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("signals") / "in"
    for name, seed in (("a", 1), ("b", 2)):
        write_scene(folder, name, height=SIZE, width=SIZE, seed=seed)
    for extra in (*folder.glob("*_target.tif"), *folder.glob("*_cloudmask.tif")):
        extra.unlink()
    return folder


def partials(out: Path) -> list[Path]:
    """Temporary files anywhere under OUT."""
    return sorted(out.rglob("*.partial-*"))


def signalled_mid_scene(scenes: Path, out: Path, signum: int) -> subprocess.CompletedProcess:
    """Run ibhfn-run over `scenes` and send it `signum` once its first scene is being written."""
    process = subprocess.Popen([sys.executable, "-c", RUN, scenes, out], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not partials(out) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert process.poll() is None, "the run ended before it could be signalled"
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_sigterm_mid_scene_cleans_up_as_ctrl_c_does(scenes, tmp_path, signum):
    out = tmp_path / "out"
    result = signalled_mid_scene(scenes, out, signum)
    assert result.returncode == INTERRUPTED, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert partials(out) == [] and not (out / "a.tif").exists() and not (out / "a.tif.json").exists()


def test_resume_after_sigkill_finishes_and_removes_only_stale_temporary_files(scenes, tmp_path):
    out = tmp_path / "out"
    killed = signalled_mid_scene(scenes, out, signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL
    stale = partials(out)
    assert stale and not (out / "a.tif").exists()  # SIGKILL leaves no chance to clean up
    with subprocess.Popen(["sleep", "120"]) as living:  # a temporary file of a process still alive stays
        kept = out / f".a.tif.partial-{living.pid}.0123abcd"
        kept.write_bytes(b"")
        try:
            resumed = tool(RUN, "--resume", scenes, out)
        finally:
            living.kill()
    assert resumed.returncode == 0, resumed.stderr
    assert "2 done" in resumed.stdout
    assert partials(out) == [kept]
    assert {path.name for path in out.iterdir()} >= {"a.tif", "a.tif.json", "b.tif", "b.tif.json"}
