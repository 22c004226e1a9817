"""Two real ibhfn-run processes into one OUT: the second is refused in one line, unless they are shards of one split."""

from __future__ import annotations

import os
import subprocess
import sys

from .conftest import RUN, assert_refused, finished, partials, run_mid_scene, tool

LOCK = ".ibhfn-run.lock"


def held_by(lock, pid: int | None = None) -> str:
    """The line a run refused by `lock` prints."""
    who = f" (process {pid})" if pid else ""
    return (
        f"{lock}: another ibhfn-run{who} is writing into {lock.parent}; wait for it to end, or give this run "
        "another OUT (runs that share one OUT must be shards of one split: --shard i/n each)"
    )


def at_once(*runs: list) -> list[subprocess.CompletedProcess]:
    """ibhfn-run with each of `runs`' arguments, all started at once (while a run started before still writes)."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", RUN, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for args in runs
    ]
    return [finished(process) for process in processes]


def assert_complete(out) -> None:
    """Both scenes written, and nothing hidden left (no lock, no temporary file)."""
    names = {path.name for path in out.iterdir()}
    assert names >= {"a.tif", "a.tif.json", "b.tif", "b.tif.json"} and not any(n.startswith(".") for n in names)


def test_a_second_run_into_the_same_out_is_refused_and_the_first_finishes(two_scenes, tmp_path):
    out = tmp_path / "out"
    first = run_mid_scene(two_scenes, out)
    try:
        second, resumed, shard = at_once(
            [two_scenes, out], ["--resume", two_scenes, out], ["--shard", "1/2", two_scenes, out]
        )
    finally:
        done = finished(first)
    assert_refused(second, held_by(out / LOCK, first.pid))
    assert_refused(resumed, held_by(out / LOCK, first.pid))
    assert_refused(shard, held_by(out / LOCK, first.pid))
    assert done.returncode == 0 and "2 done" in done.stdout, done.stderr
    assert_complete(out)
    assert tool(RUN, "--resume", two_scenes, out).returncode == 0  # the lock went with the run
    assert not (out / LOCK).exists() and partials(out) == []


def test_shards_of_one_split_run_at_once_but_each_shard_only_once(two_scenes, tmp_path):
    out = tmp_path / "out"
    first = run_mid_scene(two_scenes, out, "--shard", "0/2")
    try:
        same_shard, whole, other_shard = at_once(
            ["--shard", "0/2", two_scenes, out], [two_scenes, out], ["--shard", "1/2", two_scenes, out]
        )
    finally:
        done = finished(first)
    assert_refused(same_shard, held_by(out / ".ibhfn-run.shard-0-of-2.lock", first.pid))
    assert_refused(whole, held_by(out / LOCK))  # held shared by the shards: no single process to name
    assert other_shard.returncode == 0, other_shard.stderr
    assert done.returncode == 0, done.stderr
    assert_complete(out)


def test_a_link_planted_at_the_lock_s_name_is_refused_not_followed(two_scenes, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    target = tmp_path / "precious"
    target.write_text("keep me")
    os.symlink(target, out / LOCK)
    result = tool(RUN, two_scenes, out)
    assert_refused(
        result,
        f"{out / LOCK}: cannot open the lock of this output folder (Too many levels of symbolic "
        "links); remove what is there if it is not ibhfn-run's, or give another OUT",
    )
    assert target.read_text() == "keep me" and (out / LOCK).is_symlink()
