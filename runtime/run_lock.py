"""One `ibhfn-run` at a time per output folder, or per shard of it: two runs into one OUT would write the same scenes.

A run holds `OUT/.ibhfn-run.lock` (`fcntl.flock`) while it writes: exclusively, or shared among the
shards of a `--shard i/n` split, each of which also holds `OUT/.ibhfn-run.shard-<i>-of-<n>.lock`
exclusively. The kernel drops a lock with its process, so a killed run holds none; the last run out
removes the files. An OUT that cannot take files is left to the batch's own check, and a planted
link at a lock's name is refused, never followed.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from ibhfn.errors import InputError
from ibhfn.output_folder import output_folder_problem

LOCK_NAME = ".ibhfn-run.lock"
_OPEN = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def shard_lock_name(shard: tuple[int, int]) -> str:
    """The lock file of shard i of n."""
    return f".ibhfn-run.shard-{shard[0]}-of-{shard[1]}.lock"


@contextlib.contextmanager
def out_folder_lock(out_dir: Path, shard: tuple[int, int] | None = None) -> Iterator[None]:
    """Hold OUT for this run (or its `shard`), or raise InputError naming the lock, whoever holds it, and the fix."""
    out_dir = Path(out_dir)
    if output_folder_problem(out_dir) is not None:  # a read-only OUT (--resume of finished scenes) takes no writes
        yield
        return
    made = [folder for folder in (out_dir, *out_dir.parents) if not folder.exists()]  # deepest first
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        with contextlib.ExitStack() as held:
            held.enter_context(_locked(out_dir / LOCK_NAME, exclusive=shard is None))
            if shard is not None:
                held.enter_context(_locked(out_dir / shard_lock_name(shard), exclusive=True))
            yield
    finally:
        for folder in made:  # a run that wrote nothing (its engine failed) leaves no folder behind
            try:
                folder.rmdir()
            except OSError:
                break


@contextlib.contextmanager
def _locked(path: Path, *, exclusive: bool) -> Iterator[None]:
    """Hold `path` locked, exclusively or shared; remove it on leaving when no one else holds it."""
    fd = _acquire(path, exclusive)
    try:
        if exclusive:  # who holds it, for the run that is refused
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # no one else holds it: the last run out removes it
            path.unlink(missing_ok=True)
        except BlockingIOError:
            pass
        os.close(fd)


def _acquire(path: Path, exclusive: bool) -> int:
    """The open, locked file descriptor of `path`; one that a leaving run removed meanwhile is opened again."""
    while True:
        try:
            fd = os.open(path, _OPEN, 0o644)
        except OSError as exc:
            raise InputError(
                f"{path}: cannot open the lock of this output folder ({exc.strerror}); remove what "
                "is there if it is not ibhfn-run's, or give another OUT"
            ) from None
        try:
            fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise InputError(_held_message(path)) from None
        try:
            if os.stat(path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)


def _held_message(path: Path) -> str:
    """What to say when another run holds `path`."""
    try:
        holder = path.read_text().strip()
    except OSError:
        holder = ""
    who = f" (process {holder})" if holder.isdigit() else ""
    return (
        f"{path}: another ibhfn-run{who} is writing into {path.parent}; wait for it to end, or give this run "
        "another OUT (runs that share one OUT must be shards of one split: --shard i/n each)"
    )
