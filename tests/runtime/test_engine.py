import hashlib
import os
import time

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from ibhfn.errors import DependencyError, ModelError, ShapeError
from ibhfn.runtime import engine as engine_module
from ibhfn.runtime.engine import backend_for, open_engine


def batch(n=2, size=32, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 2, size, size), dtype=np.float32), rng.random((n, 13, size, size), dtype=np.float32)


def threads_per_session(engine):
    """The intra-op threads each of an ONNX Runtime engine's sessions was given."""
    return [session.get_session_options().intra_op_num_threads for session in engine._sessions]


def test_onnx_engine_reads_its_metadata_and_restores_batches(onnx_engine_path, standin_metadata):
    sar, optical = batch()
    with open_engine(onnx_engine_path, device="cpu", threads=1) as engine:
        assert engine.metadata == standin_metadata
        assert engine.backend == "onnxruntime (CPUExecutionProvider)"
        assert engine.tile_size is None and engine.max_batch is None and not engine.fixed_batch
        restored = engine.infer(sar, optical)
        streamed = list(engine.infer_batches([(sar[:1], optical[:1]), (sar[1:], optical[1:])]))
        assert engine.sha256 == hashlib.sha256(onnx_engine_path.read_bytes()).hexdigest()
    reference = ort.InferenceSession(str(onnx_engine_path)).run(None, {"sar": sar, "optical": optical})[0]
    assert restored.shape == (2, 13, 32, 32) and restored.dtype == np.float32
    np.testing.assert_allclose(restored, reference, rtol=1e-6)
    np.testing.assert_allclose(np.concatenate(streamed), reference, rtol=1e-6)


@pytest.mark.parametrize("streams", [1, 2])
def test_an_engine_opened_for_the_gate_returns_it_after_the_restored_bands(gate_engine_path, streams):
    sar, optical = batch(n=3)
    with open_engine(gate_engine_path, device="cpu", streams=streams, gate=True) as engine:
        assert engine.gate
        both = np.concatenate(list(engine.infer_batches([(sar[:2], optical[:2]), (sar[2:], optical[2:])])))
    with open_engine(gate_engine_path, device="cpu") as engine:  # the same file without the gate asked for
        assert not engine.gate
        restored = engine.infer(sar, optical)
    reference = ort.InferenceSession(str(gate_engine_path)).run(None, {"sar": sar, "optical": optical})
    assert both.shape == (3, 14, 32, 32) and both.dtype == np.float32 and restored.shape == (3, 13, 32, 32)
    np.testing.assert_allclose(both[:, :13], reference[0], rtol=1e-6)
    np.testing.assert_allclose(both[:, 13:], reference[1], rtol=1e-6)
    np.testing.assert_allclose(restored, reference[0], rtol=1e-6)


def test_a_gate_asked_of_an_engine_without_one_is_refused(onnx_engine_path):
    with pytest.raises(
        ModelError,
        match=r"standin.onnx: the engine has no gate output; export it with "
        r"`ibhfn-export onnx --with-gate`",
    ):
        open_engine(onnx_engine_path, device="cpu", gate=True)


@pytest.mark.parametrize(
    "sar_shape, optical_shape, dtype, match",
    [
        ((1, 2, 32, 32), (1, 12, 32, 32), np.float32, "optical must be float32"),
        ((1, 2, 30, 30), (1, 13, 30, 30), np.float32, "multiple of 4"),
        ((1, 2, 32, 32), (1, 13, 32, 32), np.float64, "sar must be float32"),
        ((2, 2, 32, 32), (1, 13, 32, 32), np.float32, "differ"),
    ],
)
def test_batches_the_engine_cannot_take_are_refused(onnx_engine_path, sar_shape, optical_shape, dtype, match):
    with open_engine(onnx_engine_path, device="cpu") as engine, pytest.raises(ShapeError, match=match):
        engine.infer(np.zeros(sar_shape, dtype), np.zeros(optical_shape, dtype))


def test_static_engine_dictates_the_tile(tmp_path, write_onnx_engine):
    with open_engine(write_onnx_engine(tmp_path / "static.onnx", tile=64)) as engine:
        assert engine.tile_size == 64
        engine.check_tile(64)
        with pytest.raises(ShapeError, match="64 px tiles only"):
            engine.check_tile(128)


def test_tile_must_be_a_multiple_of_the_size_multiple(onnx_engine_path):
    with open_engine(onnx_engine_path) as engine, pytest.raises(ShapeError, match="multiple"):
        engine.check_tile(66)


def test_backend_is_chosen_by_suffix(tmp_path):
    assert backend_for(tmp_path / "m.onnx") == "onnxruntime"
    assert backend_for(tmp_path / "m.PLAN") == "tensorrt"
    assert backend_for(tmp_path / "m.engine") == "tensorrt"
    with pytest.raises(ModelError, match="unknown engine type"):
        backend_for(tmp_path / "m.pt")
    with pytest.raises(ModelError, match="not found"):
        open_engine(tmp_path / "missing.onnx")


def test_no_engine_means_the_bundled_onnx(monkeypatch, onnx_engine_path):
    monkeypatch.setattr(engine_module, "BUNDLED_ONNX", onnx_engine_path)
    with open_engine() as engine:
        assert engine.path == onnx_engine_path and engine.backend.startswith("onnxruntime")


def test_onnx_without_ibhfn_metadata_is_refused(tmp_path, onnx_engine_path):
    model = onnx.load(onnx_engine_path)
    del model.metadata_props[:]
    onnx.save(model, tmp_path / "bare.onnx")
    with pytest.raises(ModelError, match="no ibhfn metadata"):
        open_engine(tmp_path / "bare.onnx")


def test_broken_onnx_is_refused(tmp_path):
    (tmp_path / "broken.onnx").write_bytes(b"not a model")
    with pytest.raises(ModelError, match="broken.onnx: ONNX Runtime cannot load it"):
        open_engine(tmp_path / "broken.onnx")


HAS_CUDA_PROVIDER = "CUDAExecutionProvider" in ort.get_available_providers()


@pytest.mark.skipif(HAS_CUDA_PROVIDER, reason="CUDA provider present")
def test_cuda_requested_without_a_cuda_provider(onnx_engine_path):
    with pytest.raises(DependencyError, match="onnxruntime-gpu"):
        open_engine(onnx_engine_path, device="cuda")


def test_unknown_device(onnx_engine_path):
    with pytest.raises(ModelError, match="unknown device"):
        open_engine(onnx_engine_path, device="tpu")


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA_PROVIDER, reason="onnxruntime-gpu (CUDA provider) not installed")
def test_cuda_provider_restores_what_the_cpu_does(onnx_engine_path):
    sar, optical = batch(n=3, size=64)
    with open_engine(onnx_engine_path, device="cuda") as gpu, open_engine(onnx_engine_path, device="cpu") as cpu:
        assert gpu.backend == "onnxruntime (CUDAExecutionProvider)" and gpu.fixed_batch
        restored = gpu.infer(sar, optical)
        streamed = np.concatenate(list(gpu.infer_batches([(sar[:2], optical[:2]), (sar[2:], optical[2:])])))
        expected = cpu.infer(sar, optical)
    assert restored.dtype == np.float32 and restored.shape == expected.shape
    np.testing.assert_allclose(restored, expected, atol=1e-3)  # cuDNN may run the convolutions in TF32
    np.testing.assert_allclose(streamed, expected, atol=1e-3)


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA_PROVIDER, reason="onnxruntime-gpu (CUDA provider) not installed")
def test_cuda_provider_returns_the_gate_the_cpu_does(gate_engine_path):
    sar, optical = batch(n=3, size=64)
    with (
        open_engine(gate_engine_path, device="cuda", gate=True) as gpu,
        open_engine(gate_engine_path, device="cpu", gate=True) as cpu,
    ):
        np.testing.assert_allclose(gpu.infer(sar, optical), cpu.infer(sar, optical), atol=1e-3)


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA_PROVIDER, reason="onnxruntime-gpu (CUDA provider) not installed")
def test_auto_device_takes_the_cuda_provider(onnx_engine_path):
    with open_engine(onnx_engine_path) as engine:
        assert engine.backend == "onnxruntime (CUDAExecutionProvider)"


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA_PROVIDER, reason="onnxruntime-gpu (CUDA provider) not installed")
def test_streams_on_cuda_are_one_session_and_a_warning(onnx_engine_path):
    with open_engine(onnx_engine_path, device="cuda", streams=2) as engine:
        assert engine.backend == "onnxruntime (CUDAExecutionProvider)"
        assert engine.warnings == [f"{onnx_engine_path}: streams are for the CPU; on CUDA one session runs the batches"]


@pytest.mark.skipif(HAS_CUDA_PROVIDER, reason="CUDA provider present: it would start")
def test_a_cuda_provider_that_does_not_start_is_a_warning_on_auto(onnx_engine_path, monkeypatch):
    """A CUDA provider listed but unable to start (here: one ONNX Runtime does not have) falls back to the CPU, said
    once."""
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    with open_engine(onnx_engine_path, device="auto") as engine:
        assert engine.backend == "onnxruntime (CPUExecutionProvider)" and not engine.fixed_batch
        assert len(engine.warnings) == 1
        assert "CUDA provider is installed but did not start" in engine.warnings[0]
    with open_engine(onnx_engine_path, device="auto", streams=2) as engine:  # the streams then run on the CPU
        assert engine.backend == "onnxruntime (CPUExecutionProvider, 2 streams)" and len(engine.warnings) == 1
        assert threads_per_session(engine) == [max(1, len(os.sched_getaffinity(0)) // 2)] * 2
        assert list(engine.infer_batches([batch(1), batch(1)]))[1].shape == (1, 13, 32, 32)
    with pytest.raises(DependencyError, match="could not start its CUDA provider"):
        open_engine(onnx_engine_path, device="cuda")


def test_streams_run_batches_on_sessions_of_their_own_in_order(onnx_engine_path):
    batches = [batch(n, seed=seed) for seed, n in enumerate((2, 2, 1, 2, 1))]
    with open_engine(onnx_engine_path, device="cpu", threads=1) as engine:
        expected = [engine.infer(*one) for one in batches]
    with open_engine(onnx_engine_path, device="cpu", streams=3) as engine:
        assert engine.backend == "onnxruntime (CPUExecutionProvider, 3 streams)"
        assert not engine.warnings and threads_per_session(engine) == [max(1, len(os.sched_getaffinity(0)) // 3)] * 3
        used, run = [], engine._run
        engine._run = lambda session, *arrays: used.append(session) or run(session, *arrays)
        streamed = list(engine.infer_batches(batches))
    assert [id(session) for session in used] == [id(session) for session in engine._sessions * 2][:5]
    assert len(set(map(id, used))) == 3 and len(streamed) == len(expected)
    for got, want in zip(streamed, expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_a_bad_batch_among_streams_is_raised_and_leaves_none_running(onnx_engine_path):
    good = batch(2)
    bad = (np.zeros((1, 2, 32, 32), np.float32), np.zeros((1, 12, 32, 32), np.float32))
    with open_engine(onnx_engine_path, device="cpu", streams=2) as engine:
        stream = engine.infer_batches([good, good, bad, good])
        assert next(stream).shape == (2, 13, 32, 32)
        with pytest.raises(ShapeError, match="optical must be float32"):
            list(stream)
        assert list(engine.infer_batches([good]))[0].shape == (2, 13, 32, 32)  # the engine still works


def test_a_consumer_that_stops_early_waits_for_the_running_batch(onnx_engine_path, monkeypatch):
    with open_engine(onnx_engine_path, device="cpu", streams=2) as engine:
        started, finished, run = [], [], engine._run

        def slow_run(*args):
            started.append(1)
            time.sleep(0.1 * len(started))  # the second batch outlasts the first
            result = run(*args)
            finished.append(1)
            return result

        monkeypatch.setattr(engine, "_run", slow_run)
        stream = engine.infer_batches([batch(2)] * 4)
        next(stream)  # the first batch is done, the second running
        stream.close()
        assert len(started) == 2 and len(finished) == 2


@pytest.mark.parametrize("name", ["model.onnx", "model.plan"])
def test_streams_must_be_at_least_one_whatever_the_backend(tmp_path, name):
    with pytest.raises(ModelError, match="0 streams: give at least 1"):
        open_engine(tmp_path / name, streams=0)


@pytest.mark.parametrize(
    "shapes",
    [
        {"sar": ["N", 2, "H", "W"], "optical": ["N", 13, "H", "W"], "restored": ["N", 13, "h", "w"]},
        {"sar": (-1, 2, -1, -1), "optical": (-1, 13, -1, -1), "restored": (-1, 13, -1, -1), "gate": (-1, 1, -1, -1)},
        {"sar": (4, 2, 64, 64), "optical": (4, 13, 64, 64), "restored": (4, 13, 64, 64)},
        {"sar": [None, None, None, None], "optical": ["N", 13, 64, 64], "restored": [None, 13, None, None]},
    ],
    ids=["symbolic", "tensorrt-dynamic", "static", "unknown"],
)
def test_declared_shapes_that_fit_the_metadata_pass(standin_metadata, shapes):
    engine_module.check_declared_shapes("model.plan", standin_metadata, shapes)


@pytest.mark.parametrize(
    "shapes, problem",
    [
        (
            {"optical": (-1, 13, -1, -1), "restored": (-1, 12, -1, -1)},
            "restored has 12 channels, but its metadata name 13",
        ),
        ({"optical": (-1, 13, -1, -1), "gate": (-1, 2, -1, -1)}, "gate has 2 channels, but its metadata name 1"),
        ({"sar": (-1, 3, -1, -1), "optical": (-1, 13, -1, -1)}, "sar has 3 channels, but its metadata name 2"),
        (
            {"optical": (-1, 13, 64, 64), "restored": (-1, 13, 32, 32)},
            "restored is 32 x 32 px for inputs of 64 x 64 px",
        ),
        ({"optical": (-1, 13, -1), "restored": (-1, 13, -1, -1)}, "optical has 3 dimensions, not 4"),
    ],
)
def test_declared_shapes_that_do_not_fit_the_metadata_are_refused(standin_metadata, shapes, problem):
    with pytest.raises(ModelError, match=rf"^model.plan: {problem}.*; the engine is broken: export it again"):
        engine_module.check_declared_shapes("model.plan", standin_metadata, shapes)


def test_a_result_of_another_shape_than_the_batch_is_refused(onnx_engine_path, monkeypatch):
    sar, optical = batch(n=2, size=32)
    with open_engine(onnx_engine_path, device="cpu") as engine:
        monkeypatch.setattr(engine, "_infer_impl", lambda sar, optical: optical[:, :, ::2, ::2].copy())
        with pytest.raises(
            ModelError,
            match=r"standin.onnx: its result is 2 x 13 x 16 x 16 for an optical batch of "
            r"2 x 13 x 32 x 32, not 2 x 13 x 32 x 32; the engine is broken",
        ):
            engine.infer(sar, optical)
