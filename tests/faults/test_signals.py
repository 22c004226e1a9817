"""Real signals mid-scene: SIGTERM cleans up as Ctrl-C does, and --resume finishes what SIGKILL left."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from .conftest import RUN, finished, partials, run_mid_scene, tool

INTERRUPTED = 130  # Ctrl-C's exit code


def signalled_mid_scene(scenes: Path, out: Path, signum: int) -> subprocess.CompletedProcess:
    """Run ibhfn-run over `scenes` and send it `signum` once its first scene is being written."""
    process = run_mid_scene(scenes, out)
    process.send_signal(signum)
    return finished(process)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_sigterm_mid_scene_cleans_up_as_ctrl_c_does(two_scenes, tmp_path, signum):
    out = tmp_path / "out"
    result = signalled_mid_scene(two_scenes, out, signum)
    assert result.returncode == INTERRUPTED, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert partials(out) == [] and not (out / "a.tif").exists() and not (out / "a.tif.json").exists()


def test_resume_after_sigkill_finishes_and_removes_only_stale_temporary_files(two_scenes, tmp_path):
    out = tmp_path / "out"
    killed = signalled_mid_scene(two_scenes, out, signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL
    stale = partials(out)
    assert stale and not (out / "a.tif").exists()  # SIGKILL leaves no chance to clean up
    with subprocess.Popen(["sleep", "120"]) as living:  # a temporary file of a process still alive stays
        kept = out / f".a.tif.partial-{living.pid}.0123abcd"
        kept.write_bytes(b"")
        try:
            resumed = tool(RUN, "--resume", two_scenes, out)
        finally:
            living.kill()
    assert resumed.returncode == 0, resumed.stderr
    assert "2 done" in resumed.stdout
    assert partials(out) == [kept]
    assert {path.name for path in out.iterdir()} >= {"a.tif", "a.tif.json", "b.tif", "b.tif.json"}
