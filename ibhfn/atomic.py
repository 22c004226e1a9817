"""Write-then-rename, so no tool ever leaves a half-written file under its final name."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

from ibhfn.errors import InputError

PARTIAL = ".partial-"  # temporary names are .<final name>.partial-<pid>.<random>, what is written beside them after
NO_ROOM = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})  # a full disk, a quota, a file size limit
_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_TEMPORARY = re.compile(rf"\.(.+){re.escape(PARTIAL)}\d+\.[0-9a-f]+")


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `final`; rename it to `final` only if the block succeeds.

    The temporary file is created first, so a place that cannot be written (a read-only folder,
    /proc) is one line before any work, not a traceback after it. A full disk while the block
    writes is one line too.
    """
    final = Path(final)
    tmp = _create_temporary(final)
    try:
        yield tmp
        if not stat.S_ISREG(os.lstat(tmp).st_mode):
            raise InputError(
                f"{final}: its temporary file {tmp.name} was replaced while being written; "
                "make sure nobody else writes to that folder, and run again"
            )
        os.replace(tmp, final)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.errno in NO_ROOM:
            raise no_room(final_path(Path(exc.filename)) if exc.filename else final, exc.strerror or str(exc)) from None
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def check_writable(final: str | os.PathLike) -> None:
    """Fail now, with atomic_path's one line, where `final` could not be written later; leave no file behind."""
    _create_temporary(Path(final)).unlink()


def new_file(template: Path) -> Path:
    """Create `template` with a random suffix as a new empty file: never through a link, never over a file."""
    for _ in range(100):
        path = template.with_name(f"{template.name}.{secrets.token_hex(4)}")
        try:
            os.close(os.open(path, _NEW, 0o666))
        except FileExistsError:
            continue
        return path
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(template))


def final_path(path: Path) -> Path:
    """The final name of atomic_path's temporary `path`; any other path as it is."""
    match = _TEMPORARY.fullmatch(path.name)
    return path.with_name(match.group(1)) if match else path


def write_temporary(tmp: Path, data: bytes | str) -> None:
    """Write `data` to atomic_path's `tmp`; a full disk is one line naming the final file, even in nested blocks."""
    try:
        tmp.write_bytes(data) if isinstance(data, bytes) else tmp.write_text(data)
    except OSError as exc:
        if exc.errno in NO_ROOM:
            raise no_room(final_path(tmp), exc.strerror or str(exc)) from None
        raise


def no_room(path: Path, reason: str) -> InputError:
    """The one line for `path` that did not fit: a full disk, a quota or a file size limit stopped it."""
    try:
        free = f"; {shutil.disk_usage(path.parent).free // 2**20} MiB free there"
    except OSError:
        free = ""
    return InputError(
        f"{path}: cannot be written ({reason}{free}); free space on its disk, or raise the quota "
        "or file size limit that stopped it, and run again"
    )


def _create_temporary(final: Path) -> Path:
    """The new empty temporary file beside `final` (its folder made if need be), or the InputError saying why not."""
    if final.is_dir():
        raise InputError(f"{final}: is a folder, not a file")
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{final.parent}: cannot create the folder ({exc.strerror or exc})") from None
    try:
        return new_file(final.with_name(f".{final.name}{PARTIAL}{os.getpid()}"))
    except OSError as exc:
        raise InputError(f"{final}: cannot be written ({exc.strerror or exc})") from None


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
