"""The embedded default end to end: `ibhfn-run` with no --engine runs the bundled IB-HFN on a cloudy scene."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import rasterio
from typer.testing import CliRunner

from ibhfn.bundled import BUNDLED_ONNX
from ibhfn.data.synthetic import write_scene
from ibhfn.metrics import psnr
from ibhfn.preprocessing import S2_DN_MAX
from ibhfn.runtime.cli import app
from ibhfn.runtime.engine import open_engine


@pytest.fixture(scope="module")
def restored_scene(tmp_path_factory):
    """A 320 x 288 cloudy scene with S1 on another CRS, restored by `ibhfn-run` with the bundled model."""
    folder = tmp_path_factory.mktemp("bundled")
    scene = write_scene(
        folder / "in", "cloudy", height=320, width=288, seed=21, cloudiness=0.5, s1_crs="EPSG:32632", s1_resolution=20
    )
    result = CliRunner().invoke(app, ["-q", str(folder / "in"), str(folder / "out")])
    assert result.exit_code == 0, result.output
    return scene, folder / "out" / "cloudy.tif"


def read(path):
    with rasterio.open(path) as dataset:
        return dataset.read().astype(np.float64) / S2_DN_MAX, dataset.profile


def test_the_bundled_onnx_is_the_edge_network_in_fp32():
    with open_engine(None, device="cpu") as engine:
        meta = engine.metadata
        assert engine.path == BUNDLED_ONNX
    assert (meta.arch, meta.preset, meta.precision, meta.size_multiple) == ("ibhfn", "edge", "fp32", 4)
    assert meta.preprocessing.method == "default" and len(meta.checkpoint_sha256) == 64


def test_output_keeps_the_grid_and_has_no_holes(restored_scene):
    scene, output = restored_scene
    restored, profile = read(output)
    _, reference = read(scene.s2)
    assert (profile["crs"], profile["transform"]) == (reference["crs"], reference["transform"])
    assert restored.shape == (13, 320, 288)
    # a pixel is nodata only when all 13 bands are 0; dark bands (B10 cirrus) may clip to 0 alone
    assert np.isfinite(restored).all() and (restored > 0).any(axis=0).all()


def test_the_restored_scene_is_closer_to_the_truth_than_the_cloudy_input(restored_scene):
    scene, output = restored_scene
    restored, _ = read(output)
    cloudy, _ = read(scene.s2)
    truth, _ = read(scene.target)
    assert psnr(restored, truth) > psnr(cloudy, truth) + 3.0


@pytest.mark.gpu
@pytest.mark.skipif(
    "CUDAExecutionProvider" not in ort.get_available_providers(), reason="onnxruntime-gpu (CUDA provider) not installed"
)
def test_cuda_restores_the_scene_as_the_cpu_does(restored_scene, tmp_path):
    scene, _ = restored_scene
    restored = {}
    for device in ("cpu", "cuda"):
        result = CliRunner().invoke(
            app, ["-q", "--device", device, "--batch", "16", str(scene.s1.parent), str(tmp_path / device)]
        )
        assert result.exit_code == 0, result.output
        restored[device], _ = read(tmp_path / device / "cloudy.tif")
    gap = np.abs(restored["cuda"] - restored["cpu"])
    assert gap.max() <= 20 / S2_DN_MAX, f"largest gap {gap.max() * S2_DN_MAX:.0f} DN"  # TF32 convolutions
    assert gap.mean() <= 1 / S2_DN_MAX
