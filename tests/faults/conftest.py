"""A real full disk for the fault tests: a small tmpfs as OUT (as root), or a file size limit on the child process."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

LIMIT = 1 << 20  # bytes: what OUT (tmpfs) or each file (file size limit) may hold


@dataclass
class SmallDisk:
    """An output folder `out` that cannot take more than LIMIT bytes, and the way to run a tool against it."""

    out: Path
    kind: str

    def python(self, code: str, *args: object) -> subprocess.CompletedProcess:
        """Run Python `code` in a child process under the limit, with `args` in sys.argv[1:]."""
        def limit_file_size() -> None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))

        return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                              timeout=300, preexec_fn=limit_file_size if self.kind == "file-size-limit" else None)

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
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={LIMIT}", "tmpfs", str(out)],
                             capture_output=True, text=True)
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
    return {str(path.relative_to(folder)): (path.lstat().st_size, path.lstat().st_mtime_ns)
            for path in folder.rglob("*") if leave_out is None or leave_out not in (path, *path.parents)}
