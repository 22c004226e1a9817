"""Write-then-rename, so no tool ever leaves a half-written file under its final name."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

from ibhfn.errors import InputError

PARTIAL = ".partial-"  # temporary names are .<final name>.partial-<pid>, with what is written beside them after


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `final`; rename it to `final` only if the block succeeds.

    The temporary file is created first, so a place that cannot be written (a read-only folder,
    /proc) is one line before any work, not a traceback after it.
    """
    final = Path(final)
    tmp = _create_temporary(final)
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


def check_writable(final: str | os.PathLike) -> None:
    """Fail now, with atomic_path's one line, where `final` could not be written later; leave no file behind."""
    _create_temporary(Path(final)).unlink()


def _create_temporary(final: Path) -> Path:
    """The empty temporary file beside `final` (its folder made if need be), or the InputError saying why not."""
    if final.is_dir():
        raise InputError(f"{final}: is a folder, not a file")
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{final.parent}: cannot create the folder ({exc.strerror or exc})") from None
    tmp = final.with_name(f".{final.name}{PARTIAL}{os.getpid()}")
    try:
        tmp.touch()
    except OSError as exc:
        raise InputError(f"{final}: cannot be written ({exc.strerror or exc})") from None
    return tmp


def remove_partials(folder: str | os.PathLike, pid: int) -> list[Path]:
    """Remove the temporary files that process `pid`, killed before it could, left in `folder`; return them."""
    folder = Path(folder)
    left = sorted({*folder.glob(f".*{PARTIAL}{pid}"), *folder.glob(f".*{PARTIAL}{pid}.*")})
    for path in left:
        path.unlink(missing_ok=True)
    return left


def refuse_overwriting(output: str | os.PathLike, *inputs: str | os.PathLike) -> None:
    """Stop, with one line, a tool told to write its output over one of its own inputs (or a hard link to one)."""
    target = Path(output).resolve()
    for given in inputs:
        same_file = target.exists() and Path(given).exists() and os.path.samefile(given, target)  # hard links too
        if Path(given).resolve() == target or same_file:
            raise InputError(f"{output}: is also an input ({given}); write the output elsewhere")
