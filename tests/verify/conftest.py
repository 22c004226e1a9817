"""Small generated outputs for the verifier's tests: truth, a reference near it, an engine near that."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from ibhfn.verify.parity import ParityAccumulator, ParitySummary


@dataclass
class Sample:
    """One generated sample: (13, H, W) float32 arrays in [0, 1]."""

    truth: np.ndarray
    reference: np.ndarray
    cloudy: np.ndarray


def make_sample(seed: int, size: int = 16) -> Sample:
    """Truth in [0.05, 0.6], a reference 0.03 away from it, and a cloudy input."""
    rng = np.random.default_rng(seed)
    truth = rng.uniform(0.05, 0.6, (13, size, size)).astype(np.float32)
    reference = np.clip(truth + rng.normal(0.0, 0.03, truth.shape), 0.0, 1.0).astype(np.float32)
    cloudy = np.clip(truth + 0.5 * rng.random((1, size, size)), 0.0, 1.0).astype(np.float32)
    return Sample(truth, reference, cloudy)


@pytest.fixture(scope="module")
def samples() -> list[Sample]:
    """Four generated samples (shared: copy before changing one)."""
    return [make_sample(seed) for seed in range(4)]


@pytest.fixture(scope="module")
def summarise(samples):
    """Summarise the samples with engine output `engine_of(index, sample)`; coverage 0, 0.25, 0.5, 0.75."""

    def run(engine_of, *, with_truth: bool = True) -> ParitySummary:
        accumulator = ParityAccumulator(worst_count=3)
        for i, s in enumerate(samples):
            accumulator.add(
                engine_of(i, s),
                s.reference,
                sample_id=f"s{i}",
                truth=s.truth if with_truth else None,
                cloudy=s.cloudy,
                coverage=0.25 * i,
            )
        return accumulator.summary()

    return run


# --- Networks and data for the end-to-end tests (tiny, built once per session) -------------------

TINY_NETWORK = dict(widths=(8, 16, 24), encoder_blocks=(1, 1, 1), fusion_blocks=1, gate_hidden=8)
PATCH = 64
PERTURBED_BAND = 5  # B6


def write_tiny_checkpoint(path, *, seed: int = 0, **overrides):
    """A tiny IB-HFN edge network with random weights, saved as an ibhfn checkpoint."""
    torch = pytest.importorskip("torch")
    from ibhfn.model import build_model, save_checkpoint

    torch.manual_seed(seed)
    return save_checkpoint(path, build_model("edge", **{**TINY_NETWORK, **overrides}))


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory):
    """The reference network's checkpoint."""
    return write_tiny_checkpoint(tmp_path_factory.mktemp("networks") / "tiny.pt")


@pytest.fixture(scope="session")
def fp32_onnx(checkpoint):
    """The checkpoint exported to FP32 ONNX by ibhfn-export's library function."""
    from ibhfn.export.onnx_export import export_onnx

    return export_onnx(checkpoint, checkpoint.with_name("tiny_fp32.onnx")).path


def _set_precision(model, precision: str) -> None:
    """Rewrite an ONNX model's ibhfn metadata with another precision."""
    import dataclasses

    import onnx

    from ibhfn.engine_metadata import EngineMetadata

    metadata = EngineMetadata.from_props({p.key: p.value for p in model.metadata_props})
    del model.metadata_props[:]
    onnx.helper.set_model_props(model, dataclasses.replace(metadata, precision=precision).to_props())


@pytest.fixture(scope="session")
def int8_onnx(fp32_onnx):
    """The FP32 ONNX quantized to an INT8 QDQ ONNX by ONNX Runtime on a few generated inputs."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Inputs(CalibrationDataReader):
        def __init__(self) -> None:
            rng = np.random.default_rng(1)
            self._feeds = iter(
                [
                    {
                        "sar": rng.random((1, 2, PATCH, PATCH), np.float32),
                        "optical": rng.random((1, 13, PATCH, PATCH), np.float32) * 0.5,
                    }
                    for _ in range(4)
                ]
            )

        def get_next(self):
            return next(self._feeds, None)

    out = fp32_onnx.with_name("tiny_int8.onnx")
    quantize_static(
        str(fp32_onnx),
        str(out),
        Inputs(),
        quant_format=QuantFormat.QDQ,
        activation_type=QuantType.QInt8,
        weight_type=QuantType.QInt8,
    )
    model = onnx.load(out)
    _set_precision(model, "int8")
    onnx.save(model, out)
    return out


@pytest.fixture(scope="session")
def perturbed_onnx(fp32_onnx):
    """The FP32 ONNX with band B6's output convolution weights scaled by 1.5: a broken engine."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(fp32_onnx)
    outputs = [t for t in model.graph.initializer if len(t.dims) == 4 and t.dims[0] == 13]
    assert outputs, "the network should have convolutions with one output channel per band"
    for tensor in outputs:
        weights = numpy_helper.to_array(tensor).copy()
        weights[PERTURBED_BAND] *= 1.5
        tensor.CopyFrom(numpy_helper.from_array(weights, tensor.name))
    out = fp32_onnx.with_name("tiny_perturbed.onnx")
    onnx.save(model, out)
    return out


@pytest.fixture(scope="session")
def data_root(tmp_path_factory):
    """A SEN12MS-CR tree of 64 px synthetic patches: 2 val scenes of 2 patches."""
    from ibhfn.data.synthetic import write_tree

    return write_tree(tmp_path_factory.mktemp("sen12mscr"), scenes_per_split=(0, 2, 0), patches_per_scene=2, size=PATCH)


@pytest.fixture(scope="session")
def scene_folder(tmp_path_factory):
    """One synthetic scene of 96 x 80 px with its cloud-free target and cloud mask, as ibhfn-synth writes it."""
    from ibhfn.data.synthetic import write_scene

    folder = tmp_path_factory.mktemp("scenes")
    write_scene(folder, "scene", height=96, width=80, seed=3)
    return folder
