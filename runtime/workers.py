"""Scenes restored by several worker processes at once, each with an engine of its own (`ibhfn-run --jobs N`).

On a GPU host the host's threads, not the network, set a scene's pace, and the GPU waits most of
the time: processes sharing it restore more scenes per second (docs/benchmarks.md). Workers are
spawned, never forked (a CUDA context does not survive a fork). Each opens the engine and asks the
caller for a scene whenever it is free; the caller hands them out in name order and passes their
progress and results on, so that it sees one batch, in the order of the pairing. Each worker has
a pipe of its own to the caller, so a worker that dies (the kernel's OOM killer) takes nothing
with it but its scene, which is reported failed.

Ctrl-C belongs to the caller. Workers start with SIGINT ignored, so a terminal's Ctrl-C, which
reaches the whole process group, interrupts only the caller; the caller then ends every worker
with SIGTERM, which each worker raises as KeyboardInterrupt, so that its scene leaves nothing
under a final name, as a single process does. A second Ctrl-C while they clean up kills them.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import cast

from ibhfn.atomic import remove_partials
from ibhfn.cli_errors import one_line_warnings
from ibhfn.errors import IbhfnError
from ibhfn.runtime.batch import RunSummary, held_out_folder, run_pair
from ibhfn.runtime.engine import Engine, available_cpus, open_engine
from ibhfn.runtime.malloc import map_large_arrays
from ibhfn.runtime.pairing import Pairing, ScenePair
from ibhfn.runtime.raster_source import geotiffs_only
from ibhfn.runtime.run_options import NoProgress, Progress, RunOptions, SceneResult
from ibhfn.runtime.scene_paths import GATE_FOLDER, output_path

_POLL_SECONDS = 0.2


@dataclass(frozen=True)
class EngineSpec:
    """`open_engine`'s arguments: what a worker needs to open an engine of its own."""

    path: Path | None = None  # None: the bundled model
    device: str = "auto"
    threads: int | None = None
    streams: int = 1
    gate: bool = False

    def open(self) -> Engine:
        """Load the engine these settings describe."""
        return open_engine(self.path, device=self.device, threads=self.threads, streams=self.streams, gate=self.gate)

    def shared_by(self, jobs: int) -> EngineSpec:
        """These settings for one of `jobs` workers: with no thread count given, the CPUs shared among them."""
        if self.threads is not None:
            return self
        return replace(self, threads=max(1, available_cpus() // (jobs * self.streams)))


@dataclass(frozen=True)
class _Work:
    """What every worker is given besides its pipe."""

    engine: EngineSpec
    out_dir: Path
    options: RunOptions
    resume: bool


class _CallerGone(Exception):
    """The caller closed its end of a worker's pipe: it has stopped the batch."""


class _Channel:
    """A worker's end of its pipe to the caller: events go out from any of its threads, scenes come in."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._sending = threading.Lock()

    def send(self, *event: object) -> None:
        with self._sending, self._caller_gone():
            self._connection.send(event)

    def next_scene(self) -> ScenePair | None:
        """Ask the caller for a scene; None when none is left."""
        self.send("ready")
        with self._caller_gone():
            scene: ScenePair | None = self._connection.recv()
        return scene

    @staticmethod
    @contextlib.contextmanager
    def _caller_gone() -> Iterator[None]:
        try:
            yield
        except (EOFError, BrokenPipeError):
            raise _CallerGone from None


class _ChannelProgress:
    """A worker's progress, sent to the caller as events."""

    def __init__(self, channel: _Channel) -> None:
        self._channel = channel

    def scene_started(self, name: str, tiles: int) -> None:
        self._channel.send("started", name, tiles)

    def tiles_done(self, name: str, count: int) -> None:
        self._channel.send("tiles", name, count)

    def scene_finished(self, result: SceneResult) -> None:
        """The worker sends the result itself."""


def _work(work: _Work, connection: Connection) -> None:
    """A worker process: restore the scenes the caller hands out until it has none left or stops the batch."""
    stopped = threading.Event()

    def stop(signum: int, frame: object) -> None:
        stopped.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # already so when the caller started it from its main thread
    signal.signal(signal.SIGTERM, stop)
    map_large_arrays()
    try:
        _restore_scenes(work, _Channel(connection))
    except _CallerGone:
        pass
    except BaseException:  # once stopped, whatever the interrupt became (an import turns it into ImportError)
        if not stopped.is_set():
            raise
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # from here a SIGTERM has nothing to clean up


@one_line_warnings
def _restore_scenes(work: _Work, channel: _Channel) -> None:
    """Open the engine, restore the scenes the caller hands out, report everything back."""
    try:
        with work.engine.open() as engine:
            work.options.tile_for(engine)
            for warning in engine.warnings:
                channel.send("warning", warning)
            progress = _ChannelProgress(channel)
            while (pair := channel.next_scene()) is not None:
                channel.send(
                    "finished",
                    run_pair(engine, pair, work.out_dir, work.options, resume=work.resume, progress=progress),
                )
    except IbhfnError as exc:  # the engine cannot run these scenes: the caller stops the batch with it
        channel.send("error", exc)


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT while workers start, so that they start with it ignored (it survives their exec).

    Only the main thread may change it; a caller in another thread does not own Ctrl-C anyway.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class _Batch:
    """The caller's side: scenes still to hand out, results so far, what the workers' engines said."""

    def __init__(self, pairs: list[ScenePair], progress: Progress) -> None:
        self.pairs, self._progress = pairs, progress
        self._next = 0
        self.results: dict[str, SceneResult] = {}
        self.warnings: list[str] = []

    def answer(self, connection: Connection) -> None:
        """Take one event from a worker's pipe and act on it."""
        kind, *args = connection.recv()
        if kind == "ready":
            pair = self.pairs[self._next] if self._next < len(self.pairs) else None
            self._next += pair is not None
            connection.send(pair)
        elif kind == "started":
            self._progress.scene_started(*args)
        elif kind == "tiles":
            self._progress.tiles_done(*args)
        elif kind == "finished":
            self.results[args[0].name] = args[0]
            self._progress.scene_finished(args[0])
        elif kind == "warning" and args[0] not in self.warnings:
            self.warnings.append(args[0])
        elif kind == "error":
            raise args[0]

    def fail_the_lost(self, out_dir: Path) -> None:
        """Give every scene without a result a failed one: its worker ended before finishing it (it was killed)."""
        for pair in self.pairs:
            if pair.name not in self.results:
                lost = SceneResult(
                    pair.name,
                    output_path(out_dir, pair),
                    "failed",
                    message=f"{pair.s2}: not restored: a worker process ended unexpectedly",
                )
                self.results[pair.name] = lost
                self._progress.scene_finished(lost)


def run_batch_in_workers(
    engine: EngineSpec,
    pairing: Pairing,
    out_dir: Path,
    options: RunOptions = RunOptions(),
    *,
    jobs: int,
    resume: bool = False,
    progress: Progress | None = None,
    shard: tuple[int, int] | None = None,
    any_format: bool = False,
) -> RunSummary:
    """`run_batch` over `jobs` worker processes; an engine that cannot run the scenes stops the batch with its error."""
    if jobs < 1:
        raise IbhfnError(f"{jobs} jobs: give at least 1")
    pairing = pairing if any_format else geotiffs_only(pairing)
    with held_out_folder(pairing, out_dir, resume=resume, shard=shard):
        started = time.perf_counter()
        context = multiprocessing.get_context("spawn")
        work = _Work(engine.shared_by(jobs), Path(out_dir), options, resume)
        batch = _Batch(list(pairing.pairs), progress or NoProgress())
        workers: dict[Connection, BaseProcess] = {}
        try:
            with _sigint_ignored():
                for index in range(min(jobs, len(pairing.pairs))):
                    ours, theirs = context.Pipe()
                    worker = context.Process(target=_work, args=(work, theirs), name=f"ibhfn-worker-{index}")
                    workers[ours] = worker
                    worker.start()
                    theirs.close()
            _serve(workers, batch)
        except BaseException:
            _end(workers, Path(out_dir), stop=True)
            raise
        _end(workers, Path(out_dir), stop=False)
        batch.fail_the_lost(out_dir)
        return RunSummary(
            [batch.results[pair.name] for pair in pairing.pairs],
            [str(problem) for problem in pairing.problems],
            time.perf_counter() - started,
            batch.warnings,
        )


def _serve(workers: dict[Connection, BaseProcess], batch: _Batch) -> None:
    """Answer the workers until every one has ended."""
    open_pipes = list(workers)
    while open_pipes:
        for ready in wait(open_pipes):
            connection = cast(Connection, ready)  # wait() returns what it was given; typeshed widens it
            try:
                batch.answer(connection)
            except (EOFError, OSError):  # the worker has ended
                open_pipes.remove(connection)


def _end(workers: dict[Connection, BaseProcess], out_dir: Path, *, stop: bool) -> None:
    """Wait until every worker has ended, stopping them first when `stop` (their scenes clean up).

    A Ctrl-C meanwhile kills the workers left and is raised once they have ended. What a killed
    worker left under temporary names in `out_dir` is removed.
    """
    processes = list(workers.values())
    for connection in workers:  # a worker stopped while it sends to us must not wait for us to read
        connection.close()
    if stop:
        _signal(processes, BaseProcess.terminate)
    interrupted: KeyboardInterrupt | None = None
    while any(process.is_alive() for process in processes):
        try:
            for process in processes:
                process.join(_POLL_SECONDS)
        except KeyboardInterrupt as exc:
            interrupted = exc
            _signal(processes, BaseProcess.kill)
    for process in processes:
        # ended by a signal it did not handle (a started process, so it has a pid)
        if process.exitcode is not None and process.exitcode < 0 and process.pid is not None:
            remove_partials(out_dir, process.pid)
            remove_partials(out_dir / GATE_FOLDER, process.pid)
    if interrupted is not None:
        raise interrupted


def _signal(processes: list[BaseProcess], send: Callable[[BaseProcess], None]) -> None:
    """Send SIGTERM or SIGKILL to the workers still running."""
    for process in processes:
        if process.is_alive():
            send(process)
