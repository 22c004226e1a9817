"""CUDA memory on a real GPU, through each installed binding: what the TensorRT backend's slots stand on."""

import importlib.util

import numpy as np
import pytest

from ibhfn.errors import ModelError
from ibhfn.runtime.cuda_memory import CudaMemory, CudaPython, PyCuda

BINDINGS = {"cuda-python": (CudaPython, "cuda.bindings"), "pycuda": (PyCuda, "pycuda")}


def installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # the parent of a dotted name is missing
        return False


@pytest.fixture(params=sorted(BINDINGS))
def cuda(request) -> CudaMemory:
    """The CUDA memory interface on one binding, skipped where the binding or a GPU is missing."""
    cls, module = BINDINGS[request.param]
    if not installed(module):
        pytest.skip(f"{request.param} not installed")
    memory = cls()
    try:
        memory.gpu()
    except ModelError as exc:
        memory.close()
        pytest.skip(f"no usable NVIDIA GPU: {exc}")
    with memory:
        yield memory


@pytest.mark.gpu
def test_gpu_is_named_with_its_compute_capability(cuda):
    name, (major, minor) = cuda.gpu()
    assert name and "\x00" not in name
    assert major >= 5 and minor >= 0


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_host_to_device_and_back_is_exact(cuda, dtype):
    shape = (3, 13, 64, 64)
    source, back = cuda.host_empty(shape, dtype), cuda.host_empty(shape, dtype)
    assert source.shape == shape and source.dtype == dtype and source.flags.c_contiguous and source.flags.writeable
    source[...] = np.random.default_rng(0).random(shape).astype(dtype)
    back[...] = 0
    device = cuda.device_empty(source.nbytes)
    stream = cuda.stream()
    assert cuda.stream_handle(stream) != 0
    done = cuda.event()
    cuda.copy_to_device(device, source, stream)
    cuda.copy_to_host(back, device, stream)
    cuda.record(done, stream)
    cuda.wait(done)
    np.testing.assert_array_equal(back, source)


@pytest.mark.gpu
def test_two_slots_on_one_stream_keep_their_batches_apart(cuda):
    """The TensorRT backend's pattern: enqueue batch k+1 in the other slot, then wait on batch k only."""
    shape = (4, 13, 32, 32)
    slots = [
        (
            cuda.host_empty(shape, np.float32),
            cuda.host_empty(shape, np.float32),
            cuda.device_empty(int(np.prod(shape)) * 4),
            cuda.event(),
        )
        for _ in range(2)
    ]
    stream = cuda.stream()
    batches = [np.full(shape, k, np.float32) for k in range(6)]
    pending, results = [], []
    for k, batch in enumerate(batches):
        source, back, device, done = slots[k % 2]
        if len(pending) == 2:  # this slot's previous batch must be out before its buffers are reused
            results.append(pending.pop(0)())
        source[...] = batch
        cuda.copy_to_device(device, source, stream)
        cuda.copy_to_host(back, device, stream)
        cuda.record(done, stream)
        pending.append(lambda back=back, done=done: (cuda.wait(done), back.copy())[1])
    results += [collect() for collect in pending]
    for k, result in enumerate(results):
        np.testing.assert_array_equal(result, batches[k])


@pytest.mark.gpu
def test_an_impossible_allocation_is_a_one_line_cuda_error(cuda):
    with pytest.raises(ModelError, match="CUDA error .*smaller --batch max"):
        cuda.device_empty(1 << 52)


@pytest.mark.gpu
def test_close_twice_is_harmless(cuda):
    cuda.device_empty(1024)
    cuda.close()
    cuda.close()
