import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import onnxruntime as ort
import pytest
import rasterio
import rasterio.shutil

from ibhfn.atomic import PARTIAL
from ibhfn.errors import ModelError, ShapeError
from ibhfn.runtime.batch import run_batch
from ibhfn.runtime.engine import available_cpus, open_engine
from ibhfn.runtime.pairing import Pairing, ScenePair, pair_folder
from ibhfn.runtime.run_options import RunOptions
from ibhfn.runtime.workers import EngineSpec, run_batch_in_workers

OPTIONS = RunOptions(tile_size=64, overlap=16, batch_size=2)


class Recorder:
    """Progress that remembers what it was told."""

    def __init__(self) -> None:
        self.started: dict[str, int] = {}
        self.tiles: dict[str, int] = {}
        self.finished: list[str] = []

    def scene_started(self, name: str, tiles: int) -> None:
        self.started[name] = tiles

    def tiles_done(self, name: str, count: int) -> None:
        self.tiles[name] = self.tiles.get(name, 0) + count

    def scene_finished(self, result) -> None:
        self.finished.append(result.name)


@pytest.fixture
def folder(tmp_path, make_scene):
    for name, (height, width) in {"a": (100, 90), "b": (130, 70), "c": (64, 64)}.items():
        make_scene(tmp_path / "in", name, height=height, width=width)
    return tmp_path / "in"


def read(path):
    with rasterio.open(path) as dataset:
        return dataset.read()


def partial_files(folder):
    return [path for path in folder.glob(".*") if PARTIAL in path.name] if folder.is_dir() else []


def test_workers_restore_what_one_process_does(tmp_path, folder, onnx_engine_path):
    pairing = pair_folder(folder)
    with open_engine(onnx_engine_path, device="cpu", threads=1) as engine:
        one = run_batch(engine, pairing, tmp_path / "one", OPTIONS)
    progress = Recorder()
    many = run_batch_in_workers(
        EngineSpec(onnx_engine_path, "cpu", threads=1), pairing, tmp_path / "many", OPTIONS, jobs=2, progress=progress
    )
    assert [result.name for result in many.results] == ["a", "b", "c"] and many.count("done") == 3
    for alone, shared in zip(one.results, many.results):
        np.testing.assert_array_equal(read(shared.output), read(alone.output))
        assert shared.tiles == alone.tiles > 0 and (tmp_path / "many" / f"{shared.name}.tif.json").is_file()
    assert sorted(progress.finished) == ["a", "b", "c"]
    assert progress.tiles == progress.started and set(progress.started) == {"a", "b", "c"}
    assert multiprocessing.active_children() == []


def test_a_failing_scene_is_reported_and_the_others_run(tmp_path, folder, onnx_engine_path, make_scene):
    make_scene(folder, "junk", height=64, width=64)
    (folder / "junk_s2.tif").write_bytes(b"not a tiff at all")
    summary = run_batch_in_workers(
        EngineSpec(onnx_engine_path, "cpu"), pair_folder(folder), tmp_path / "out", OPTIONS, jobs=2
    )
    status = {result.name: result.status for result in summary.results}
    assert status == {"a": "done", "b": "done", "c": "done", "junk": "failed"} and summary.failed == 1
    assert "junk_s2.tif" in summary.results[-1].message


@pytest.mark.parametrize(
    "engine, options, error, message",
    [
        ("missing.onnx", OPTIONS, ModelError, "engine file not found"),
        (None, RunOptions(tile_size=62), ShapeError, "multiple of"),
    ],
)
def test_an_engine_that_cannot_run_the_scenes_stops_the_batch_with_its_error(
    tmp_path, folder, onnx_engine_path, engine, options, error, message
):
    path = tmp_path / engine if engine else onnx_engine_path
    with pytest.raises(error, match=message):
        run_batch_in_workers(EngineSpec(path, "cpu"), pair_folder(folder), tmp_path / "out", options, jobs=2)
    assert multiprocessing.active_children() == [] and not list((tmp_path / "out").glob("*.tif"))


@pytest.mark.gpu
@pytest.mark.skipif(
    "CUDAExecutionProvider" not in ort.get_available_providers(), reason="onnxruntime-gpu (CUDA provider) not installed"
)
def test_workers_share_one_gpu_and_an_engine_warning_is_said_once(tmp_path, folder, onnx_engine_path):
    summary = run_batch_in_workers(
        EngineSpec(onnx_engine_path, "cuda", streams=2), pair_folder(folder), tmp_path / "out", OPTIONS, jobs=2
    )
    assert summary.count("done") == 3
    streams = f"{onnx_engine_path}: streams are for the CPU; on CUDA one session runs the batches"
    assert summary.engine_warnings == [streams]
    record = (tmp_path / "out" / "a.tif.json").read_text()
    assert "CUDAExecutionProvider" in record


def test_a_caller_outside_the_main_thread_can_run_workers(tmp_path, folder, onnx_engine_path):
    summaries = []
    caller = threading.Thread(
        target=lambda: summaries.append(
            run_batch_in_workers(
                EngineSpec(onnx_engine_path, "cpu"), pair_folder(folder), tmp_path / "out", OPTIONS, jobs=2
            )
        )
    )
    caller.start()
    caller.join()
    assert summaries and summaries[0].count("done") == 3


def test_workers_share_the_cpus_unless_threads_are_given():
    assert EngineSpec().shared_by(2).threads == max(1, available_cpus() // 2)
    assert EngineSpec(streams=2).shared_by(2).threads == max(1, available_cpus() // 4)
    assert EngineSpec(threads=3).shared_by(2).threads == 3


def test_a_worker_that_dies_fails_its_scene_and_the_others_go_on(tmp_path, make_scene, gate_engine_path):
    for name in "abcd":
        make_scene(tmp_path / "in", name, height=700, width=700)
    out = tmp_path / "out"
    killed = []

    def kill_the_first_worker_mid_scene():
        deadline = time.monotonic() + 60
        while not killed and time.monotonic() < deadline:
            for path in partial_files(out):
                pid = int(path.name.split(PARTIAL)[1].split(".")[0])  # .<scene>.tif.partial-<pid>.<random>
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
            time.sleep(0.01)

    killer = threading.Thread(target=kill_the_first_worker_mid_scene)
    killer.start()
    summary = run_batch_in_workers(
        EngineSpec(gate_engine_path, "cpu", gate=True), pair_folder(tmp_path / "in"), out, OPTIONS, jobs=2
    )
    killer.join()
    failed = [result for result in summary.results if result.status == "failed"]
    assert killed and len(failed) == 1 and "ended unexpectedly" in failed[0].message
    assert summary.count("done") == 3 and multiprocessing.active_children() == []
    assert partial_files(out) == partial_files(out / "gate") == []  # what the killed worker left is removed
    assert len(list((out / "gate").glob("*.tif"))) == 3


@pytest.mark.parametrize("whom", ["process group", "parent"])  # a terminal's Ctrl-C reaches the group
def test_ctrl_c_stops_every_worker_and_leaves_no_partial_output(tmp_path, make_scene, onnx_engine_path, whom):
    for name in "abcd":
        make_scene(tmp_path / "in", name, height=700, width=700)
    out = tmp_path / "out"
    command = [
        sys.executable,
        "-m",
        "ibhfn.runtime.cli",
        "-q",
        "--engine",
        str(onnx_engine_path),
        "--device",
        "cpu",
        "--tile",
        "64",
        "--jobs",
        "2",
        str(tmp_path / "in"),
        str(out),
    ]
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    while not partial_files(out) and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.01)
    assert partial_files(out), "no scene started"
    if whom == "parent":
        run.send_signal(signal.SIGINT)
    else:
        os.killpg(run.pid, signal.SIGINT)
    _, stderr = run.communicate(timeout=30)
    assert run.returncode == 130 and "Traceback" not in stderr, stderr
    assert partial_files(out) == []
    assert all((out / f"{path.name}.json").is_file() for path in out.glob("*.tif"))  # whole scenes only


def test_library_callers_get_the_geotiff_only_check_unless_any_format(tmp_path, folder, onnx_engine_path):
    """run_batch and run_batch_in_workers keep a batch to GeoTIFFs themselves, as ibhfn-run does before them."""
    rasterio.shutil.copy(folder / "c_s2.tif", tmp_path / "v_s2.tif", driver="VRT")
    pairing = Pairing(
        [
            ScenePair("c", folder / "c_s1.tif", folder / "c_s2.tif"),
            ScenePair("v", folder / "c_s1.tif", tmp_path / "v_s2.tif"),
        ]
    )
    with open_engine(onnx_engine_path, device="cpu", threads=1) as engine:
        one = run_batch(engine, pairing, tmp_path / "one", OPTIONS)
        anyway = run_batch(engine, pairing, tmp_path / "any", OPTIONS, any_format=True)
    many = run_batch_in_workers(
        EngineSpec(onnx_engine_path, "cpu", threads=1), pairing, tmp_path / "many", OPTIONS, jobs=2
    )
    for summary, out in ((one, "one"), (many, "many")):
        assert [result.name for result in summary.results] == ["c"] and summary.failed == 1
        assert summary.problems == [
            f"{tmp_path / 'v_s2.tif'}: a VRT file, not a GeoTIFF; convert it (gdal_translate "
            "-of GTiff) or pass --allow-any-format to read it as it is"
        ]
        assert not (tmp_path / out / "v.tif").exists()
    assert [result.name for result in anyway.results] == ["c", "v"] and anyway.count("done") == 2
