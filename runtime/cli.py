"""`ibhfn-run`: restore cloudy Sentinel-2 scenes with Sentinel-1, tiled, on ONNX Runtime or TensorRT.

This module only parses arguments and reports; the work is `ibhfn.runtime.batch.run_batch`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import TaskID

from ibhfn.cli_errors import one_line_warnings, report_errors
from ibhfn.cli_options import (
    AtLeast,
    BlendOption,
    Command,
    CompressOption,
    EngineDeviceOption,
    OverlapOption,
    QuietOption,
    S2OffsetOption,
    SceneTileOption,
    ThreadsOption,
    VersionOption,
    new_app,
    progress_bar,
)
from ibhfn.errors import InputError
from ibhfn.runtime.batch import RunSummary, run_batch
from ibhfn.runtime.collect import collect, write_summary
from ibhfn.runtime.malloc import map_large_arrays
from ibhfn.runtime.pairing import Pairing, pair_folder, read_manifest, shard, single_pair
from ibhfn.runtime.preflight import CHECKED, check_batch, check_outputs
from ibhfn.runtime.raster_source import ANY_FORMAT_OPTION, MAX_PIXELS_OPTION, geotiffs_only
from ibhfn.runtime.run_options import RunOptions, SceneResult
from ibhfn.runtime.s2_offset import GIVEN, NOT_DECLARED
from ibhfn.runtime.shard import COUNT_VARIABLE, parse_shard
from ibhfn.runtime.stac_input import StacPlan, is_item_collection, read_item_collection
from ibhfn.runtime.stac_item import INSTALL, ItemWriter, load_pystac, stac_available
from ibhfn.runtime.termination import terminate_as_interrupt
from ibhfn.runtime.workers import EngineSpec, run_batch_in_workers

app = new_app()
EXIT_FAILED = 2


def gather_scenes(paths: list[Path], s1: Path | None, s2: Path | None) -> tuple[Pairing, Path]:
    """The scenes named on the command line and the output folder."""
    if s1 is not None or s2 is not None:
        if s1 is None or s2 is None or len(paths) != 1:
            raise InputError("--s1 and --s2 go together, with OUT as the only argument")
        return single_pair(s1, s2), paths[0]
    if len(paths) != 2:
        raise InputError("give IN (a folder, a manifest CSV or a STAC ItemCollection) and OUT")
    source, out_dir = paths
    if source.is_dir():
        return pair_folder(source), out_dir
    if source.suffix.lower() == ".csv" and source.is_file():
        return read_manifest(source), out_dir
    raise InputError(f"{source}: not a folder of scenes, a manifest CSV or a STAC ItemCollection (.json)")


def gather_plan(paths: list[Path], s1: Path | None, s2: Path | None, pair_by: str | None) -> tuple[StacPlan, Path]:
    """The scenes named on the command line, with the STAC Items they came from (if any), and the output folder."""
    if s1 is None and s2 is None and len(paths) == 2 and is_item_collection(paths[0]):
        return read_item_collection(paths[0], pair_by), paths[1]
    if pair_by is not None:
        raise InputError("--stac-pair-by goes with a STAC ItemCollection as IN")
    pairing, out_dir = gather_scenes(paths, s1, s2)
    return StacPlan(pairing), out_dir


def stac_progress(progress: RichProgress, plan: StacPlan, stac: bool | None) -> RichProgress | ItemWriter:
    """`progress`, writing each finished scene's STAC Item where asked (--stac) or where pystac is installed."""
    if stac is None and not stac_available():
        progress.say(f"warning: pystac is not installed, so no STAC Items are written; {INSTALL}")
        return progress
    if stac is False:
        return progress
    load_pystac()  # --stac without pystac: one line before any work
    return ItemWriter(progress, plan.items_of)


class RichProgress:
    """Progress bars per scene and overall on stderr, with problems printed above them."""

    def __init__(self, console: Console, scenes: int, show_bars: bool) -> None:
        self.console = console
        self.bars = progress_bar(console=console, quiet=not show_bars)
        self._overall = self.bars.add_task("scenes", total=scenes)
        self._scenes: dict[str, TaskID] = {}  # the bars of the scenes running, by name (several with --jobs)

    def say(self, line: str) -> None:
        """Print one message line above the bars."""
        self.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def scene_started(self, name: str, tiles: int) -> None:
        self._scenes[name] = self.bars.add_task(name, total=tiles)

    def tiles_done(self, name: str, count: int) -> None:
        if name in self._scenes:
            self.bars.advance(self._scenes[name], count)

    def scene_finished(self, result: SceneResult) -> None:
        if result.name in self._scenes:
            self.bars.remove_task(self._scenes.pop(result.name))
        self.bars.advance(self._overall)
        for warning in result.warnings:
            self.say(f"warning: {warning}")
        if result.status == "failed":
            self.say(f"error: {result.message}")


def summary_line(summary: RunSummary) -> str:
    """One line: scenes by outcome, tiles, throughput."""
    area = summary.km2_per_second
    return (
        f"{len(summary.results) + len(summary.problems)} scenes: {summary.count('done')} done, "
        f"{summary.count('skipped')} skipped, {summary.failed} failed; {summary.tiles} tiles in "
        f"{summary.seconds:.1f} s ({summary.tiles_per_second:.1f} tiles/s"
        + (f", {area:.2f} km2/s)" if area is not None else ")")
    )


def declared_offset_lines(summary: RunSummary) -> list[str]:
    """One line per checked scene whose S2 is read with the offset its file declares: which scene gets which."""
    return [
        f"{result.name}: S2 is read with an add-offset of {result.s2_offset} DN, as its file declares "
        f"({result.s2_offset_from})"
        for result in summary.results
        if result.status == CHECKED and result.s2_offset_from not in (GIVEN, NOT_DECLARED)
    ]


def check_line(summary: RunSummary) -> str:
    """One line after `--check`: scenes by outcome."""
    return (
        f"{len(summary.results) + len(summary.problems)} scenes: {summary.count(CHECKED)} checked, "
        f"{summary.failed} failed; nothing was run"
    )


@app.command(cls=Command)
@report_errors
@one_line_warnings
def run(
    paths: Annotated[
        list[Path],
        typer.Argument(
            metavar="IN OUT",
            help="IN OUT: IN is a folder of <name>_s1.tif + <name>_s2.tif pairs or a manifest CSV "
            "(columns s1,s2[,name]); OUT is the output folder. With --s1/--s2, only OUT.",
            show_default=False,
        ),
    ],
    engine: Annotated[
        Optional[Path],
        typer.Option(
            "--engine",
            "-e",
            help="Engine file: .onnx (ONNX Runtime) or .plan/.engine (TensorRT). "
            "Default: the bundled model on ONNX Runtime.",
        ),
    ] = None,
    s1: Annotated[Optional[Path], typer.Option("--s1", help="Sentinel-1 GeoTIFF of a single scene.")] = None,
    s2: Annotated[Optional[Path], typer.Option("--s2", help="Cloudy Sentinel-2 GeoTIFF of a single scene.")] = None,
    tile: SceneTileOption = RunOptions.tile_size,
    overlap: OverlapOption = RunOptions.overlap,
    batch: Annotated[int, typer.Option(help="Tiles per engine call.")] = RunOptions.batch_size,
    blend: BlendOption = RunOptions.blend,
    block_width: Annotated[
        int,
        typer.Option(
            help="Widest scene window read and blended at once, in px: bounds memory, never changes the output."
        ),
    ] = RunOptions.block_width,
    float32: Annotated[bool, typer.Option("--float32", help="Write float32 reflectance instead of uint16 DN.")] = False,
    cog: Annotated[bool, typer.Option("--cog", help="Write Cloud-Optimised GeoTIFFs with overviews.")] = False,
    compress: CompressOption = RunOptions.compress,
    s2_offset: S2OffsetOption = RunOptions.s2_offset,
    resume: Annotated[bool, typer.Option("--resume", help="Skip scenes whose output and record match.")] = False,
    shard_spec: Annotated[
        Optional[str],
        typer.Option(
            "--shard",
            help="i/n: run only worker i's share (0-based) of n, split by scene name; auto: i and n from "
            "a Slurm job array or a Kubernetes Indexed Job (docs/scale-out.md).",
        ),
    ] = None,
    shard_count: Annotated[
        Optional[int],
        typer.Option(
            "--shard-count",
            help=f"With --shard auto in a Kubernetes Indexed Job: its completions (or {COUNT_VARIABLE}).",
        ),
    ] = None,
    collect_only: Annotated[
        bool,
        typer.Option(
            "--collect",
            help="After the shards: check that every scene of IN has a complete output in OUT, write "
            "OUT/collect.json (scenes, failures, tiles/s, km2); exit 2 if any is missing. Runs nothing.",
        ),
    ] = False,
    device: EngineDeviceOption = "auto",
    threads: ThreadsOption = None,
    streams: Annotated[
        int,
        typer.Option(
            help="Batches ONNX Runtime runs at once on the CPU, each on a session of its own (and its memory)."
        ),
    ] = 1,
    jobs: Annotated[
        int,
        typer.Option(
            callback=AtLeast(1),
            help="Scenes restored at once, each by a worker process with an engine of its own: on a GPU host "
            "the host sets the pace, and 2-4 jobs share the GPU (each takes its own memory).",
        ),
    ] = 1,
    gate: Annotated[
        bool,
        typer.Option(
            "--gate",
            help="Also write the network's clear-sky gate G as OUT/gate/<name>.tif (uint8 percent: 100 where "
            "the input is kept, 0 where it is rebuilt from S1); needs an engine exported --with-gate.",
        ),
    ] = False,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Check every scene's inputs against the engine (pairing, bands, types, grids, units) "
            "and stop: nothing is run or written.",
        ),
    ] = False,
    allow_any_format: Annotated[
        bool,
        typer.Option(
            ANY_FORMAT_OPTION,
            help="Read inputs in any format GDAL opens, not only GeoTIFFs (and COGs): a VRT, say, "
            "which may read other files; --resume then compares only the file's own bytes.",
        ),
    ] = False,
    max_pixels: Annotated[
        int,
        typer.Option(
            MAX_PIXELS_OPTION,
            callback=AtLeast(1),
            help="Refuse an S1 or S2 of more pixels than this, as its header claims, before "
            "reading it (memory stays bounded either way; time and disk do not).",
        ),
    ] = RunOptions.max_pixels,
    stac: Annotated[
        Optional[bool],
        typer.Option(
            "--stac/--no-stac",
            help=f"Write a STAC Item <name>.stac.json beside each output (default: where pystac is "
            f"installed; {INSTALL}).",
            show_default=False,
        ),
    ] = None,
    stac_pair_by: Annotated[
        Optional[str],
        typer.Option(
            "--stac-pair-by",
            help="With a STAC ItemCollection as IN: the Item property that pairs S1 with S2 (default: "
            "ibhfn:scene, else the Item ids' <scene>_s1 / <scene>_s2).",
        ),
    ] = None,
    quiet: QuietOption = False,
    version: VersionOption = False,
) -> None:
    """Restore cloudy Sentinel-2 scenes; the exit code is 2 when any scene failed."""
    shard_of = parse_shard(shard_spec, shard_count)
    plan, out_dir = gather_plan(paths, s1, s2, stac_pair_by)
    pairing = plan.pairing
    if collect_only:
        collected = collect(pairing, out_dir)
        write_summary(collected, out_dir)
        for scene in collected.scenes:
            if scene.reason:
                typer.echo(f"error: {scene.name}: {scene.reason}", err=True)
        typer.echo(collected.line())
        raise typer.Exit(0 if collected.complete else EXIT_FAILED)
    if shard_of is not None:
        check_outputs(pairing, out_dir)  # every shard's outputs against every input (the batch checks its own)
        pairing = shard(pairing, *shard_of)
    if not allow_any_format:
        pairing = geotiffs_only(pairing)
    options = RunOptions(
        tile_size=tile,
        overlap=overlap,
        batch_size=batch,
        blend=blend,
        output_dtype="float32" if float32 else "uint16",
        cog=cog,
        compress=compress,
        block_width=block_width,
        s2_offset=s2_offset,
        max_pixels=max_pixels,
    )
    console = Console(stderr=True)
    reporter = RichProgress(console, len(pairing.pairs), show_bars=not quiet and console.is_terminal)
    for problem in pairing.problems:
        reporter.say(f"error: {problem}")
    spec = EngineSpec(engine, device, threads, streams, gate)
    progress = reporter if check else stac_progress(reporter, plan, stac)
    if check:
        with spec.open() as loaded:
            for warning in loaded.warnings:
                reporter.say(f"warning: {warning}")
            summary = check_batch(loaded, pairing, out_dir, options, progress=reporter)
    elif jobs == 1:
        with spec.open() as loaded:
            for warning in loaded.warnings:
                reporter.say(f"warning: {warning}")
            with reporter.bars:
                summary = run_batch(
                    loaded, pairing, out_dir, options, resume=resume, progress=progress, shard=shard_of, any_format=True
                )  # formats checked above, problems said
    else:
        with reporter.bars:
            summary = run_batch_in_workers(
                spec,
                pairing,
                out_dir,
                options,
                jobs=jobs,
                resume=resume,
                progress=progress,
                shard=shard_of,
                any_format=True,
            )
        for warning in summary.engine_warnings:
            reporter.say(f"warning: {warning}")
    if not quiet and check:
        typer.echo("\n".join([*declared_offset_lines(summary), check_line(summary)]))
    elif not quiet:
        typer.echo(summary_line(summary))
    if summary.failed:
        raise typer.Exit(EXIT_FAILED)


def main() -> None:
    """Entry point of `ibhfn-run`."""
    map_large_arrays()
    terminate_as_interrupt()  # Slurm's and Kubernetes' stop cleans up as Ctrl-C does
    app()


if __name__ == "__main__":
    main()
