"""What the fault tests share: child processes under real limits (a small disk, an address space), and their checks."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from ibhfn.data.synthetic import write_scene

RUN_SIZE = 512  # px: two_scenes' side, 9 tiles of the bundled model
LIMIT = 1 << 20  # bytes: what OUT (tmpfs) or each file (file size limit) may hold
RUN = "import sys; sys.argv[0] = 'ibhfn-run'; from ibhfn.runtime.cli import main; main()"


def tool(code: str, *args: object) -> subprocess.CompletedProcess:
    """Run a tool in a child process: a FIFO read by mistake would hang it, not the tests."""
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, timeout=300)


# Written by the child at exit: its own peak resident size since exec (VmHWM). ru_maxrss would not do,
# as it keeps the high-water mark of the forked pytest process the child started as.
HIGH_WATER = (
    "import atexit, os\n"
    "def _report():\n"
    "    status = open('/proc/self/status').read().split('VmHWM:')[1].split()[0]\n"
    "    open(os.environ['IBHFN_TEST_HWM'], 'w').write(status)\n"
    "atexit.register(_report)\n"
)


def measured(code: str, *args: object, memory: int) -> tuple[subprocess.CompletedProcess, int]:
    """Run a tool in a child process with `memory` bytes of address space; its result and peak resident bytes."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, resource.getrlimit(resource.RLIMIT_AS)[1]))

    with tempfile.TemporaryDirectory() as folder:
        high_water = Path(folder) / "hwm"
        env = {**os.environ, "IBHFN_TEST_HWM": str(high_water)}
        child = subprocess.run(
            [sys.executable, "-c", HIGH_WATER + code, *map(str, args)],
            capture_output=True,
            text=True,
            preexec_fn=limit,
            env=env,
            timeout=300,
        )
        return child, int(high_water.read_text()) * 1024  # VmHWM is in kB


@pytest.fixture(scope="module")
def two_scenes(tmp_path_factory) -> Path:
    """IN with scenes a and b of RUN_SIZE px: a few seconds each through the bundled model on a CPU."""
    folder = tmp_path_factory.mktemp("scenes") / "in"
    for name, seed in (("a", 1), ("b", 2)):
        write_scene(folder, name, height=RUN_SIZE, width=RUN_SIZE, seed=seed)
    for extra in (*folder.glob("*_target.tif"), *folder.glob("*_cloudmask.tif")):
        extra.unlink()
    return folder


def partials(out: Path) -> list[Path]:
    """Temporary files anywhere under OUT."""
    return sorted(out.rglob("*.partial-*"))


def run_mid_scene(scenes: Path, out: Path, *args: object) -> subprocess.Popen:
    """ibhfn-run over `scenes` into `out` (with `args`) in a child process, once it writes its first scene."""
    process = subprocess.Popen(
        [sys.executable, "-c", RUN, *map(str, args), scenes, out],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not partials(out) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert process.poll() is None, f"the run ended before it wrote a scene: {process.communicate()}"
    return process


def finished(process: subprocess.Popen) -> subprocess.CompletedProcess:
    """What a child process said and its exit code, once it ends."""
    stdout, stderr = process.communicate(timeout=300)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def assert_refused(result: subprocess.CompletedProcess, *lines: str) -> None:
    """Exit code 2, exactly these `error:` lines (in any order) and no traceback."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    assert sorted(error_lines(result)) == sorted(f"error: {line}" for line in lines), result.stderr


@dataclass
class SmallDisk:
    """An output folder `out` that cannot take more than LIMIT bytes, and the way to run a tool against it."""

    out: Path
    kind: str

    def python(self, code: str, *args: object) -> subprocess.CompletedProcess:
        """Run Python `code` in a child process under the limit, with `args` in sys.argv[1:]."""

        def limit_file_size() -> None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))

        return subprocess.run(
            [sys.executable, "-c", code, *map(str, args)],
            capture_output=True,
            text=True,
            timeout=300,
            preexec_fn=limit_file_size if self.kind == "file-size-limit" else None,
        )

    def tool(self, module: str, *args: object) -> subprocess.CompletedProcess:
        """Run the command-line tool whose `main` is in ibhfn's `module` under the limit."""
        return self.python(f"import sys; sys.argv[0] = 'ibhfn'; from ibhfn.{module} import main; main()", *args)


@pytest.fixture(params=["tmpfs", "file-size-limit"])
def small_disk(request, tmp_path):
    """OUT on a small disk: a LIMIT-byte tmpfs, or a folder where no file of the child may grow past LIMIT bytes."""
    out = tmp_path / "out"
    out.mkdir()
    if request.param == "file-size-limit":
        hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
        if hard != resource.RLIM_INFINITY and hard < LIMIT:
            pytest.skip(f"the hard file size limit ({hard} bytes) is below the {LIMIT} bytes this test sets")
        yield SmallDisk(out, request.param)
        return
    if os.geteuid() != 0:
        pytest.skip("a tmpfs needs root to mount; the file-size-limit variant runs instead")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={LIMIT}", "tmpfs", str(out)], capture_output=True, text=True
    )
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()}); the file-size-limit variant runs instead")
    try:
        yield SmallDisk(out, request.param)
    finally:
        subprocess.run(["umount", str(out)], check=True)


def error_lines(result: subprocess.CompletedProcess) -> list[str]:
    """The `error: ` lines a tool printed on stderr."""
    return [line for line in result.stderr.splitlines() if line.startswith("error: ")]


def tree(folder: Path, *, leave_out: Path | None = None) -> dict[str, tuple[int, int]]:
    """Every file under `folder` (but under `leave_out`) with its size and modification time."""
    return {
        str(path.relative_to(folder)): (path.lstat().st_size, path.lstat().st_mtime_ns)
        for path in folder.rglob("*")
        if leave_out is None or leave_out not in (path, *path.parents)
    }
