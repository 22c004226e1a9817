"""`make bench`: every backend and precision this machine has, on the same tiles and scenes, in one table.

Per backend: latency of one 256 x 256 tile at batch 1, throughput at the best batch (1, 2, 4, 8),
scene throughput (km2/s) and pipeline efficiency (pure inference time of the scene's tiles at that
batch over the end-to-end time of `ibhfn.runtime.run_scene` over the scene, measured in turn in
SCENE_ROUNDS rounds), and the process's peak RSS. ONNX Runtime FP32 and PyTorch eager FP32 are
also timed call for call in turn, in one process, for their ratio. Two tables time the choices of
`--compress` and (on the CPU) `--streams` in turn on the same scene, and one `--jobs` over a
folder of copies of it (the batch's wall time against its tiles through the engine alone).
`ibhfn-calibrate` is timed at several calibration-set sizes (its peak RSS should not grow with
them), and `ibhfn-verify --scenes` against `ibhfn-run` on the scene (`verify_speed`). The last
table gives the runtime's peak RSS on a small, a large and a wide scene (ibhfn-run in a fresh
process each), which should be the same within 20 %: memory follows the block, not the scene.
The host table times the scene with an engine that costs nothing (`null_engine`) against reading
and writing it alone (`host_pipeline`); the scenes table, a folder of scenes in one process, overlapped
and one after another (`host_pipeline`).
`--tables` picks some of them.

TensorRT rows appear where TensorRT and a GPU are present; everything else runs on any machine.
Medians of repeated runs, all measured in this one run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from calibration_runs import calibration_tree, measure_calibration, print_calibration
from child_peak import run_child
from host_pipeline import measure_host, measure_scenes, print_host, print_scenes
from null_engine import NullEngine
from rich.console import Console
from rich.table import Table
from verify_speed import measure_verify, print_verify

from ibhfn.bundled import BUNDLED_CHECKPOINT
from ibhfn.calibration.calibrate import calibrate
from ibhfn.data.synthetic import write_scene, write_tree
from ibhfn.errors import DependencyError
from ibhfn.export.deploy import fold
from ibhfn.export.onnx_export import export_onnx
from ibhfn.export.onnx_metadata import read_metadata
from ibhfn.hashing import file_sha256
from ibhfn.model import load_checkpoint
from ibhfn.runtime.batch import run_batch
from ibhfn.runtime.engine import Engine, open_engine
from ibhfn.runtime.malloc import map_large_arrays
from ibhfn.runtime.pairing import pair_folder
from ibhfn.runtime.pipeline import run_scene
from ibhfn.runtime.run_options import RunOptions, SceneResult
from ibhfn.runtime.workers import EngineSpec, run_batch_in_workers
from ibhfn.runtime.writer import COMPRESSIONS

TILE = 256
BATCHES = (1, 2, 4, 8)  # the default; a GPU wants larger (--batches)
SCENE_ROUNDS = 5  # a shared machine's speed drifts within a minute: medians of 3 rounds wandered
BATCH_ROUNDS = 2  # rounds of the --jobs table, each a whole folder of scenes per choice
Infer = Callable[[np.ndarray, np.ndarray], np.ndarray]
TABLES = ("backends", "calibration", "verify", "int8", "memory", "host", "scenes")
SCENES_ROUNDS = 3  # rounds of the scenes table, each the folder overlapped and one scene after another


@dataclass
class Row:
    """One backend's figures."""

    backend: str
    precision: str
    latency_ms: float  # one tile, batch 1, median
    throughput: float  # tiles/s at the best batch
    best_batch: int
    km2_per_s: float | None = None
    efficiency: float | None = None
    peak_rss_mb: float = 0.0  # of the process that measured this backend alone


def tiles(batch: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Generated network inputs for `batch` tiles."""
    rng = np.random.default_rng(seed)
    return (rng.random((batch, 2, TILE, TILE), dtype=np.float32), rng.random((batch, 13, TILE, TILE), dtype=np.float32))


def median_seconds(infer: Infer, batch: int, repeats: int) -> float:
    """Median wall time of one call at `batch`, after one warm-up call."""
    sar, optical = tiles(batch)
    infer(sar, optical)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        infer(sar, optical)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure_tiles(backend: str, precision: str, infer: Infer, repeats: int, batches: tuple[int, ...]) -> Row:
    """Latency at batch 1 and throughput at the best of `batches`."""
    per_tile = {batch: median_seconds(infer, batch, max(3, repeats // batch)) / batch for batch in (1, *batches)}
    best = min(per_tile, key=per_tile.get)
    return Row(backend, precision, per_tile[1] * 1000, 1 / per_tile[best], best)


def speedup_in_turn(first: Infer, second: Infer, repeats: int, batches: tuple[int, ...]) -> float:
    """Best throughput of `first` over that of `second`, their calls timed in turn in one process."""
    throughput: tuple[list[float], list[float]] = ([], [])
    for batch in batches:
        sar, optical = tiles(batch)
        times: tuple[list[float], list[float]] = ([], [])
        for _ in range(max(3, repeats // batch) + 1):  # the first call of each is a warm-up
            for infer, spent in zip((first, second), times):
                start = time.perf_counter()
                infer(sar, optical)
                spent.append(time.perf_counter() - start)
        for rates, spent in zip(throughput, times):
            rates.append(batch / statistics.median(spent[1:]))
    return max(throughput[0]) / max(throughput[1])


@dataclass
class SceneFigures:
    """One way of running the scene, medians of SCENE_ROUNDS rounds."""

    seconds: float  # end to end
    efficiency: float  # pure inference time / end-to-end time
    output_mb: float
    area_km2: float


def measure_scene(engine: Engine, row: Row, scene: tuple[Path, Path], out: Path) -> None:
    """Fill the row's scene throughput and pipeline efficiency."""
    figures = compare_in_turn({row.backend: (engine, RunOptions(batch_size=row.best_batch))}, scene, out)[row.backend]
    row.km2_per_s = figures.area_km2 / figures.seconds
    row.efficiency = figures.efficiency


def efficiency_round(
    engine: Engine, scene: tuple[Path, Path], output: Path, options: RunOptions
) -> tuple[float, SceneResult]:
    """The scene through the pipeline, then its tiles through the engine alone: their ratio, and the scene's result.

    Timed in turn, round after round, so a machine that speeds up or slows down does not tilt the ratio.
    """
    result = run_scene(engine, *scene, output, options)
    return pure_seconds(engine, options.batch_size, result.tiles) / result.timings["total"], result


def compare_in_turn(
    variants: dict[str, tuple[Engine, RunOptions]], scene: tuple[Path, Path], out: Path
) -> dict[str, SceneFigures]:
    """Each variant (engine and options) over the scene, SCENE_ROUNDS rounds with the variants in turn."""
    rounds: dict[str, list[tuple[float, SceneResult]]] = {name: [] for name in variants}
    outputs = {name: out / f"variant-{index}.tif" for index, name in enumerate(variants)}
    for _ in range(SCENE_ROUNDS):
        for name, (engine, options) in variants.items():
            rounds[name].append(efficiency_round(engine, scene, outputs[name], options))
    return {
        name: SceneFigures(
            statistics.median(result.timings["total"] for _, result in done),
            statistics.median(ratio for ratio, _ in done),
            outputs[name].stat().st_size / 1e6,
            done[0][1].area_km2,
        )
        for name, done in rounds.items()
    }


@dataclass
class BatchFigures:
    """One `--jobs` choice over a folder of scenes, medians of BATCH_ROUNDS rounds."""

    seconds: float  # the batch's wall time, worker start-up included
    scenes: int
    efficiency: float  # pure inference time of the batch's tiles (one engine, in this process) / wall time


def compare_jobs(
    engine: Engine, spec: EngineSpec, folder: Path, jobs: tuple[int, ...], batch: int, out: Path
) -> dict[int, BatchFigures]:
    """`run_batch` over the folder in one process and in worker processes, the choices in turn, round after round.

    Each round's reference is the batch's tiles through `engine` alone, timed right after it.
    """
    pairing, options = pair_folder(folder), RunOptions(batch_size=batch)
    rounds: dict[int, list[tuple[float, float]]] = {count: [] for count in jobs}
    for _ in range(BATCH_ROUNDS):
        for count in jobs:
            target = out / f"jobs-{count}"
            if count == 1:
                summary = run_batch(engine, pairing, target, options)
            else:
                summary = run_batch_in_workers(spec, pairing, target, options, jobs=count)
            if summary.failed:
                raise SystemExit(f"--jobs {count}: {summary.failed} scenes failed")
            rounds[count].append((summary.seconds, pure_seconds(engine, batch, summary.tiles) / summary.seconds))
            for path in target.iterdir():
                path.unlink()
    return {
        count: BatchFigures(
            statistics.median(seconds for seconds, _ in done),
            len(pairing.pairs),
            statistics.median(ratio for _, ratio in done),
        )
        for count, done in rounds.items()
    }


def copies_of(scene: tuple[Path, Path], folder: Path, count: int) -> Path:
    """A folder of `count` scene pairs, each a hard link to the scene's files."""
    folder.mkdir(parents=True)
    for index in range(count):
        for sensor, path in zip(("s1", "s2"), scene):
            os.link(path, folder / f"copy{index}_{sensor}.tif")
    return folder


def pure_seconds(engine: Engine, batch: int, count: int) -> float:
    """Wall time of `count` tiles through the engine alone, in batches of `batch` as the pipeline feeds them.

    The last batch is smaller, or padded to `batch` where the pipeline pads it (a GPU engine).
    """
    sar, optical = tiles(batch)
    sizes = [batch if engine.fixed_batch else min(batch, count - first) for first in range(0, count, batch)]
    start = time.perf_counter()
    for _ in engine.infer_batches((sar[:size], optical[:size]) for size in sizes):
        pass
    return time.perf_counter() - start


def torch_infer(checkpoint: Path) -> Infer:
    """PyTorch eager on the CPU: the deploy form of the checkpoint's network."""
    model = fold(load_checkpoint(checkpoint))

    def infer(sar: np.ndarray, optical: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(sar), torch.from_numpy(optical)).numpy()

    return infer


def tensorrt_engines(onnx: dict[str, Path], work: Path, console: Console, max_batch: int) -> dict[str, Path]:
    """FP16 and INT8 TensorRT plans where TensorRT and a GPU exist; none otherwise (said once)."""
    from ibhfn.export.trt_build import build_engine

    plans = {}
    for precision in ("fp16", "int8"):
        try:
            plans[precision] = build_engine(
                onnx[precision], work / f"model_{precision}.plan", tile=TILE, batch=(1, max_batch, max_batch)
            )
        except DependencyError as exc:
            console.print(f"[dim]TensorRT rows left out: {exc}[/dim]")
            break
    return plans


def own_peak_rss_mb() -> float:
    """This process's peak RSS in MB.

    Linux's VmHWM restarts at exec; ru_maxrss does not, so a child would be charged the RSS its
    parent had when it forked (this benchmark's parent holds scenes and models).
    """
    status = Path("/proc/self/status")
    if status.exists():
        line = next(line for line in status.read_text().splitlines() if line.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_rss_of_run(engine: Path, scene_dir: Path, out: Path) -> float:
    """Peak RSS in MB of `ibhfn-run` over one scene folder, in a fresh process."""
    return run_child("ibhfn.runtime.cli", "--engine", str(engine), "-q", str(scene_dir), str(out)).peak_rss_mb


def machine() -> str:
    """A one-line description of this machine."""
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, "
        f"Python {platform.python_version()}, torch {torch.__version__}"
    )


def build_models(checkpoint: Path, models: Path, work: Path, console: Console) -> dict[str, Path]:
    """FP32 and FP16 ONNX of the checkpoint and an INT8 QDQ ONNX calibrated on a synthetic tree, in `models`.

    Models already in `models` are reused, so a machine without the export tools (a GPU host with
    only the runtime) can be handed the ones built elsewhere.
    """
    onnx = {precision: models / f"model_{precision}.onnx" for precision in ("fp32", "fp16", "int8", "int8_cpu")}
    checkpoint_sha256 = file_sha256(checkpoint)
    for path in onnx.values():
        if path.is_file() and read_metadata(path).checkpoint_sha256 != checkpoint_sha256:
            raise SystemExit(
                f"{path} was exported from another checkpoint than {checkpoint}; "
                f"remove it or choose another --models folder"
            )
    for precision in ("fp32", "fp16"):
        if not onnx[precision].is_file():
            export_onnx(checkpoint, onnx[precision], precision=precision)
    for name, form in (("int8", "tensorrt"), ("int8_cpu", "cpu")):
        if onnx[name].is_file():
            continue
        console.print(f"calibrating INT8 ({form} form) on a generated SEN12MS-CR tree ...")
        tree = work / "tree"
        if not tree.is_dir():
            write_tree(tree, seed=1, scenes_per_split=(4, 2, 0), patches_per_scene=4)
        calibrated = calibrate(onnx["fp32"], tree, onnx[name], samples=32, form=form)
        if calibrated.path is None:
            raise SystemExit(f"INT8 calibration ({form} form) missed its targets; see {calibrated.report_path}")
    return onnx


def measure_backend(
    backend: str, precision: str, model: str, s1: str, s2: str, out: str, repeats: int, batches: tuple[int, ...]
) -> dict:
    """All figures of one backend, measured in this process (so its peak RSS is the backend's own)."""
    if backend == "PyTorch eager":
        row = measure_tiles(backend, precision, torch_infer(Path(model)), repeats, batches)
    else:
        with open_engine(Path(model), device="auto") as engine:
            if backend == "ONNX Runtime":  # name the provider it chose
                backend += " (CUDA)" if "CUDA" in engine.backend else " (CPU)"
            row = measure_tiles(backend, precision, engine.infer, repeats, batches)
            measure_scene(engine, row, (Path(s1), Path(s2)), Path(out))
    row.peak_rss_mb = own_peak_rss_mb()
    return asdict(row)


def run_backend_process(
    spec: tuple[str, str, Path], scene: tuple[Path, Path], out: Path, repeats: int, batches: tuple[int, ...]
) -> Row:
    """`measure_backend` in a fresh Python process; its JSON row back."""
    command = [
        sys.executable,
        __file__,
        "--measure",
        *map(str, spec),
        *map(str, scene),
        str(out),
        "--repeats",
        str(repeats),
        "--batches",
        *map(str, batches),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"benchmark of {spec[0]} {spec[1]} failed:\n{done.stderr}")
    return Row(**json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    """Run every benchmark and print the tables."""
    map_large_arrays()  # as ibhfn-run does
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--checkpoint",
        type=Path,
        default=BUNDLED_CHECKPOINT,
        help="checkpoint to benchmark (default: the bundled model)",
    )
    parser.add_argument("--repeats", type=int, default=16, help="timed calls at batch 1 (fewer at larger batches)")
    parser.add_argument("--scene", type=int, default=2048, help="side of the scene for km2/s and efficiency")
    parser.add_argument(
        "--large", type=int, default=8192, help="side of the large scene for peak RSS (0: no memory table)"
    )
    parser.add_argument(
        "--wide", type=int, default=32768, help="width of the wide scene for peak RSS, as tall as --scene (0: none)"
    )
    parser.add_argument("--batches", type=int, nargs="+", default=BATCHES, help="batch sizes to time")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="ibhfn-run --jobs choices to time")
    parser.add_argument("--copies", type=int, default=4, help="copies of the scene in the --jobs folder")
    parser.add_argument("--scenes-count", type=int, default=4, help="scenes in the scenes table's folder")
    parser.add_argument(
        "--scenes-side", type=int, default=None, help="the scenes table's scene side (default: --scene, at most 1024)"
    )
    parser.add_argument(
        "--models",
        type=Path,
        default=None,
        help="folder of model_fp32/fp16/int8.onnx to reuse, built there when missing (default: a temporary folder)",
    )
    parser.add_argument(
        "--calibration",
        type=int,
        nargs="+",
        default=[32, 128, 512],
        help="calibration-set sizes to time ibhfn-calibrate with (0: no calibration table)",
    )
    parser.add_argument(
        "--tables", nargs="+", choices=TABLES, default=list(TABLES), help="which tables to measure (default: all)"
    )
    parser.add_argument(
        "--measure", nargs=6, metavar=("BACKEND", "PRECISION", "MODEL", "S1", "S2", "OUT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    batches = tuple(args.batches)
    if args.measure:
        print(json.dumps(measure_backend(*args.measure, repeats=args.repeats, batches=batches)))
        return
    console = Console()
    console.print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="ibhfn-bench-") as tmp:
        work = Path(tmp)
        models = args.models or work
        models.mkdir(parents=True, exist_ok=True)
        tables = set(args.tables)
        onnx = build_models(args.checkpoint, models, work, console) if tables - {"host", "scenes"} else {}
        console.print(f"generating a {args.scene} x {args.scene} scene ...")
        scene = write_scene(work / "scene", "bench", height=args.scene, width=args.scene, seed=3)
        if "backends" in tables:
            backend_tables(args, onnx, scene, work, console)
        counts = tuple(count for count in args.calibration if count > 0)
        if "calibration" in tables and counts:
            console.print(f"calibrating with {', '.join(map(str, counts))} patches, each in a fresh process ...")
            tree = calibration_tree(work / "calibration_tree", max(counts))
            print_calibration(console, measure_calibration(onnx["fp32"], tree, counts, work / "calibration"))
        if "verify" in tables:
            console.print("timing ibhfn-run and ibhfn-verify --scenes (INT8 against FP32) on the scene ...")
            figures = measure_verify(onnx["int8"], onnx["fp32"], scene.s1.parent, work)
            print_verify(console, ("int8", "fp32"), figures)
        if "int8" in tables:
            int8_in_turn(args, onnx, console)
        if "memory" in tables and args.large:
            memory_table(args, onnx, scene, work, console)
        if "host" in tables:
            console.print("timing the scene with the null engine and the I/O-only pass in turn ...")
            host_options = RunOptions(batch_size=max(batches))
            print_host(console, measure_host((scene.s1, scene.s2), work / "host", host_options), host_options)
        if "scenes" in tables:
            scenes_table(args, onnx.get("fp32") or fp32_model(args.checkpoint, models), work, console)


def fp32_model(checkpoint: Path, models: Path) -> Path:
    """The FP32 ONNX of the checkpoint in `models`, exported there when missing (the scenes table needs no other)."""
    path = models / "model_fp32.onnx"
    if not path.is_file():
        export_onnx(checkpoint, path, precision="fp32")
    return path


def scenes_table(args: argparse.Namespace, fp32: Path, work: Path, console: Console) -> None:
    """`--scenes-count` scenes of `--scenes-side` px in one process, overlapped and one after another, per engine."""
    side = args.scenes_side or min(args.scene, 1024)
    console.print(f"timing {args.scenes_count} scenes in one process, overlapped and one after another ...")
    folder = work / "scenes"
    for index in range(args.scenes_count):
        write_scene(folder, f"scene{index}", height=side, width=side, seed=10 + index)
    options = RunOptions(batch_size=max(args.batches))
    figures = {}
    with NullEngine(max_batch=options.batch_size) as null:
        figures["null engine"] = measure_scenes(null, folder, work / "scenes_out", options, SCENES_ROUNDS)
    with open_engine(fp32, device="auto") as engine:
        figures["ONNX Runtime fp32"] = measure_scenes(engine, folder, work / "scenes_out", options, SCENES_ROUNDS)
    print_scenes(console, figures, side, options)


def backend_tables(args: argparse.Namespace, onnx: dict[str, Path], scene, work: Path, console: Console) -> None:
    """The backend table, ONNX Runtime against PyTorch, and the --compress, --streams and --jobs tables."""
    batches = tuple(args.batches)
    specs = [("PyTorch eager", "fp32", args.checkpoint)]
    specs += [("ONNX Runtime", precision, onnx[precision]) for precision in ("fp32", "fp16", "int8")]
    specs.append(("ONNX Runtime", "int8 (cpu form)", onnx["int8_cpu"]))
    plans = tensorrt_engines(onnx, work, console, max(batches))
    specs += [("TensorRT", precision, plan) for precision, plan in plans.items()]
    rows = []
    for spec in specs:
        console.print(f"measuring {spec[0]} {spec[1]} ...")
        rows.append(run_backend_process(spec, (scene.s1, scene.s2), work / "out", args.repeats, batches))
    print_rows(console, rows)
    with open_engine(onnx["fp32"], device="auto") as engine:
        console.print(f"timing {engine.backend} fp32 and PyTorch eager fp32 (CPU) in turn ...")
        ratio = speedup_in_turn(engine.infer, torch_infer(args.checkpoint), args.repeats, batches)
    console.print(f"ONNX Runtime fp32 / PyTorch eager fp32, call for call in one process: {ratio:.2f} x")
    fp32 = next(row for row in rows if row.backend.startswith("ONNX Runtime") and row.precision == "fp32")
    scene_files = (scene.s1, scene.s2)
    with open_engine(onnx["fp32"], device="auto") as engine:
        console.print(f"timing the pipeline ({engine.backend} fp32) with each output compression in turn ...")
        compressions = {
            compress: (engine, RunOptions(batch_size=fp32.best_batch, compress=compress)) for compress in COMPRESSIONS
        }
        print_variants(
            console, "ibhfn-run --compress", "compression", compare_in_turn(compressions, scene_files, work / "out")
        )
        if "CUDA" not in engine.backend:
            with open_engine(onnx["fp32"], device="cpu", streams=2) as streamed:
                console.print("timing the pipeline with one and two ONNX Runtime streams in turn ...")
                streams = {
                    "1 (default)": (engine, RunOptions(batch_size=fp32.best_batch)),
                    "2": (streamed, RunOptions(batch_size=fp32.best_batch)),
                }
                print_variants(
                    console, "ibhfn-run --streams", "streams", compare_in_turn(streams, scene_files, work / "out")
                )
        folder = copies_of(scene_files, work / "copies", args.copies)
        console.print(
            f"timing the pipeline over {args.copies} copies of the scene with --jobs "
            f"{', '.join(map(str, args.jobs))} in turn ..."
        )
        spec = EngineSpec(onnx["fp32"], device="auto")
        print_jobs(console, compare_jobs(engine, spec, folder, tuple(args.jobs), fp32.best_batch, work / "out"))


def int8_in_turn(args: argparse.Namespace, onnx: dict[str, Path], console: Console) -> None:
    """Both INT8 forms against FP32 on the CPU, call for call in turn in one process."""
    batches = tuple(args.batches)
    with open_engine(onnx["fp32"], device="cpu") as fp32:
        for name, label in (("int8", "int8 (tensorrt form)"), ("int8_cpu", "int8 (cpu form)")):
            with open_engine(onnx[name], device="cpu") as int8:
                console.print(f"timing ONNX Runtime {label} and fp32 on the CPU in turn ...")
                ratio = speedup_in_turn(int8.infer, fp32.infer, args.repeats, batches)
            console.print(f"ONNX Runtime {label} / fp32 on the CPU, call for call in one process: {ratio:.2f} x")


def memory_table(args: argparse.Namespace, onnx: dict[str, Path], scene, work: Path, console: Console) -> None:
    """ibhfn-run's peak RSS on the scene, a large one and a wide one, each in a fresh process."""
    console.print(f"generating a {args.large} x {args.large} scene ...")
    large = write_scene(work / "large", "large", height=args.large, width=args.large, seed=4)
    memory = {
        (args.scene, args.scene): peak_rss_of_run(onnx["fp32"], scene.s1.parent, work / "rss_small"),
        (args.large, args.large): peak_rss_of_run(onnx["fp32"], large.s1.parent, work / "rss_large"),
    }
    if args.wide:
        console.print(f"generating a {args.scene} x {args.wide} scene ...")
        wide = write_scene(work / "wide", "wide", height=args.scene, width=args.wide, seed=5)
        memory[args.scene, args.wide] = peak_rss_of_run(onnx["fp32"], wide.s1.parent, work / "rss_wide")
    print_memory(console, memory)


def print_rows(console: Console, rows: list[Row]) -> None:
    """The backend table."""
    table = Table(title=f"IB-HFN, {TILE} x {TILE} tiles (medians)")
    for column in (
        "backend",
        "precision",
        "latency, batch 1 (ms)",
        "tiles/s (best batch)",
        "scene km2/s",
        "pipeline efficiency",
        "peak RSS (MB)",
    ):
        table.add_column(column, justify="left" if column in ("backend", "precision") else "right")
    for row in rows:
        table.add_row(
            row.backend,
            row.precision,
            f"{row.latency_ms:.1f}",
            f"{row.throughput:.2f} (b={row.best_batch})",
            "-" if row.km2_per_s is None else f"{row.km2_per_s:.3f}",
            "-" if row.efficiency is None else f"{row.efficiency:.2f}",
            f"{row.peak_rss_mb:.0f}",
        )
    console.print(table)


def print_variants(console: Console, title: str, option: str, figures: dict[str, SceneFigures]) -> None:
    """A table of one ibhfn-run option's choices, timed in turn on the scene."""
    table = Table(title=f"{title} (ONNX Runtime FP32, the scene above, medians)")
    for column in (option, "scene s", "pipeline efficiency", "output MB"):
        table.add_column(column, justify="left" if column == option else "right")
    for name, scene in figures.items():
        table.add_row(name, f"{scene.seconds:.2f}", f"{scene.efficiency:.2f}", f"{scene.output_mb:.1f}")
    console.print(table)


def print_jobs(console: Console, figures: dict[int, BatchFigures]) -> None:
    """The table of ibhfn-run --jobs choices over the folder of copies."""
    table = Table(title="ibhfn-run --jobs (ONNX Runtime FP32, copies of the scene above, medians)")
    for column in ("jobs", "batch s", "s per scene", "pipeline efficiency"):
        table.add_column(column, justify="left" if column == "jobs" else "right")
    for count, batch in figures.items():
        table.add_row(
            str(count), f"{batch.seconds:.2f}", f"{batch.seconds / batch.scenes:.2f}", f"{batch.efficiency:.2f}"
        )
    table.caption = "efficiency: the batch's tiles through one engine alone / the batch's wall time"
    console.print(table)


def print_memory(console: Console, memory: dict[tuple[int, int], float]) -> None:
    """The peak-RSS table of ibhfn-run (ONNX Runtime FP32) by scene size (height, width), the first the small one."""
    table = Table(title="ibhfn-run peak RSS (ONNX Runtime FP32, fresh process per scene)")
    table.add_column("scene (height x width)")
    table.add_column("peak RSS (MB)", justify="right")
    table.add_column("/ the first", justify="right")
    small = next(iter(memory.values()))
    for (height, width), megabytes in memory.items():
        table.add_row(f"{height} x {width}", f"{megabytes:.0f}", f"{megabytes / small:.2f}")
    console.print(table)


if __name__ == "__main__":
    main()
