"""`make demo`: the main job on the embedded default, end to end, with the commands a user types.

Into `demo_out/`: a generated 2048 x 2048 scene (clouds, S1 on another CRS and grid), the bundled
model exported to ONNX, an INT8 QDQ model calibrated on a generated SEN12MS-CR tree, both run over
the scene with `ibhfn-run` on ONNX Runtime (CPU), both verified with `ibhfn-verify`, and a summary
read back from the tools' own JSON outputs, with a true-colour quicklook of before and after.
Each step runs the installed console script, so the demo exercises exactly what users run.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.windows import Window

from ibhfn.bands import TRUE_COLOUR
from ibhfn.bundled import BUNDLED_CHECKPOINT
from ibhfn.metrics import psnr, sam
from ibhfn.preprocessing import S2_DN_MAX
from ibhfn.verify.scenes import DEFAULT_WINDOW

QUICKLOOK_SIDE = 512
QUICKLOOK_GAIN = 3.5  # reflectance x gain, clipped to [0, 1]: a fixed stretch shared by every panel


@dataclass(frozen=True)
class DemoPaths:
    """Where the demo writes everything."""

    root: Path

    @property
    def scenes(self) -> Path:
        return self.root / "scenes"

    @property
    def tree(self) -> Path:
        return self.root / "sen12mscr_synthetic"

    @property
    def fp32(self) -> Path:
        return self.root / "model.onnx"

    @property
    def int8(self) -> Path:
        return self.root / "model.int8.onnx"

    def restored(self, precision: str) -> Path:
        return self.root / f"restored_{precision}"

    def report(self, precision: str) -> Path:
        return self.root / f"verify_{precision}"

    @property
    def quicklook(self) -> Path:
        return self.root / "quicklook.png"


def tool(name: str, *args: object) -> None:
    """Run an installed ibhfn console script, echoing the command; stop the demo if it fails."""
    command = [str(Path(sys.executable).parent / name), *map(str, args)]
    print(f"\n$ {name} {shlex.join(map(str, args))}", flush=True)
    started = time.perf_counter()
    if subprocess.run(command, check=False).returncode:
        raise SystemExit(f"demo stopped: {name} failed")
    print(f"  ({time.perf_counter() - started:.0f} s)", flush=True)


def read_json(path: Path) -> dict:
    """A JSON file the tools wrote."""
    return json.loads(path.read_text())


def true_colour(path: Path) -> np.ndarray:
    """B4/B3/B2 of an S2 GeoTIFF (uint16 DN) as reflectance, decimated to the quicklook size."""
    with rasterio.open(path) as dataset:
        scale = max(dataset.height, dataset.width) / QUICKLOOK_SIDE
        shape = (3, round(dataset.height / scale), round(dataset.width / scale))
        bands = [index + 1 for index in TRUE_COLOUR]
        return dataset.read(bands, out_shape=shape, resampling=Resampling.average) / S2_DN_MAX


def write_quicklook(panels: dict[str, Path], out: Path) -> None:
    """Side-by-side true-colour panels with one fixed stretch, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 4.3))
    for axis, (title, path) in zip(axes, panels.items()):
        axis.imshow(np.clip(true_colour(path) * QUICKLOOK_GAIN, 0, 1).transpose(1, 2, 0))
        axis.set_title(title)
        axis.axis("off")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def cloudy_input_quality(s2: Path, target: Path, window: int) -> tuple[float, float]:
    """PSNR and SAM of the cloudy input against the truth, per window as ibhfn-verify scores scenes."""
    scores: list[tuple[float, float]] = []
    with rasterio.open(s2) as cloudy, rasterio.open(target) as truth:
        for row in range(0, cloudy.height, window):
            for col in range(0, cloudy.width, window):
                box = Window(col, row, min(window, cloudy.width - col), min(window, cloudy.height - row))
                c, t = cloudy.read(window=box) / S2_DN_MAX, truth.read(window=box) / S2_DN_MAX
                scores.append((float(psnr(c, t)), sam(c, t)))
    mean_psnr, mean_sam = (float(v) for v in np.mean(scores, axis=0))
    return mean_psnr, mean_sam


def run_demo(paths: DemoPaths, size: int, checkpoint: Path = BUNDLED_CHECKPOINT) -> None:
    """Every step of the pipeline on `checkpoint` (the bundled model unless given), then the summary."""
    root = paths.root
    tool(
        "ibhfn-synth",
        "scene",
        paths.scenes,
        "--name",
        "demo",
        "--size",
        f"{size}x{size}",
        "--seed",
        11,
        "--s1-crs",
        "EPSG:32632",
        "--s1-resolution",
        20,
    )
    tool("ibhfn-export", "onnx", "--checkpoint", checkpoint, "--out", paths.fp32)
    tool("ibhfn-synth", "tree", paths.tree, "--seed", 5, "--train", 6, "--val", 2, "--test", 0, "--patches", 6)
    tool(
        "ibhfn-calibrate",
        "--onnx",
        paths.fp32,
        "--data",
        paths.tree,
        "--samples",
        32,
        "--holdout",
        12,
        "--out",
        paths.int8,
    )
    for precision, model in (("fp32", paths.fp32), ("int8", paths.int8)):
        tool("ibhfn-run", "--engine", model, "--quiet", paths.scenes, paths.restored(precision))
    tool(
        "ibhfn-verify",
        "--engine",
        paths.fp32,
        "--reference",
        checkpoint,
        "--data",
        paths.tree,
        "--split",
        "val",
        "--report",
        paths.report("fp32"),
        "--quiet",
    )
    tool(
        "ibhfn-verify",
        "--engine",
        paths.int8,
        "--reference",
        paths.fp32,
        "--scenes",
        paths.scenes,
        "--report",
        paths.report("int8"),
        "--quiet",
    )

    s2, target = paths.scenes / "demo_s2.tif", paths.scenes / "demo_target.tif"
    write_quicklook(
        {
            "cloudy Sentinel-2": s2,
            "restored, FP32": paths.restored("fp32") / "demo.tif",
            "restored, INT8": paths.restored("int8") / "demo.tif",
            "cloud-free truth": target,
        },
        paths.quicklook,
    )
    print_summary(paths, s2, target)
    print(f"\neverything is under {root}/")


def print_summary(paths: DemoPaths, s2: Path, target: Path) -> None:
    """Quality against the truth, INT8 deltas, throughput and where the outputs are."""
    int8 = read_json(paths.report("int8") / "verify_report.json")
    quality = int8["overall"]["quality"]
    fp32_parity = read_json(paths.report("fp32") / "verify_report.json")
    records = {p: read_json(paths.restored(p) / "demo.tif.json") for p in ("fp32", "int8")}
    cloudy_psnr, cloudy_sam = cloudy_input_quality(s2, target, DEFAULT_WINDOW)
    print(f"\n== summary: the generated scene against its cloud-free truth, per {DEFAULT_WINDOW} px window ==")
    print(f"{'':22}{'PSNR (dB)':>10}{'SAM (deg)':>11}{'tiles/s':>9}")
    print(f"{'cloudy input':22}{cloudy_psnr:10.2f}{cloudy_sam:11.2f}")
    for label, precision, metrics in (
        ("restored, FP32 ONNX", "fp32", quality["reference"]),
        ("restored, INT8 QDQ", "int8", quality["engine"]),
    ):
        timings, tiles = records[precision]["timings"], records[precision]["tiles"]["run"]
        print(f"{label:22}{metrics['psnr']:10.2f}{metrics['sam']:11.2f}{tiles / timings['total']:9.2f}")
    delta = quality["delta"]
    print(
        f"INT8 against FP32: delta PSNR {delta['psnr']:+.3f} dB, delta SAM {delta['sam']:+.3f} deg "
        f"({'PASSED' if int8['verdict']['passed'] else 'FAILED'} the int8 thresholds)"
    )
    print(
        f"FP32 ONNX against PyTorch: max abs {fp32_parity['overall']['difference']['max_abs']:.2e} "
        f"({'PASSED' if fp32_parity['verdict']['passed'] else 'FAILED'})"
    )
    print("outputs:")
    for precision in ("fp32", "int8"):
        print(f"  {paths.restored(precision) / 'demo.tif'}")
    print(f"  {paths.quicklook}")
    for precision in ("fp32", "int8"):
        print(f"  {paths.report(precision) / 'verify_report.html'}")


def main() -> None:
    """Entry point of `python -m ibhfn.demo`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("demo_out"), help="folder for everything (default demo_out)")
    parser.add_argument("--size", type=int, default=2048, help="side of the generated scene in pixels")
    parser.add_argument(
        "--checkpoint", type=Path, default=BUNDLED_CHECKPOINT, help="the model to run (default: the bundled one)"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    run_demo(DemoPaths(args.out), args.size, args.checkpoint)
    print(f"demo finished in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
