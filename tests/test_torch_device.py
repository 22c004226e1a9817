import pytest
import torch

from ibhfn.errors import InputError
from ibhfn.torch_device import torch_device


def test_auto_cpu_and_any_torch_device_name():
    assert torch_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    assert torch_device("cpu") == torch.device("cpu")
    assert torch_device("mps") == torch.device("mps")  # a name torch knows passes; torch itself says if it cannot run


@pytest.mark.parametrize("name", ["tpu", "gpu0", ""])
def test_a_name_torch_does_not_know_is_one_line(name):
    with pytest.raises(InputError, match=rf"^--device {name!r} is not a device torch knows"):
        torch_device(name)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is present")
@pytest.mark.parametrize("name", ["cuda", "cuda:1"])
def test_cuda_without_a_gpu_is_one_line(name):
    with pytest.raises(InputError, match=rf"^--device {name}: no CUDA GPU is available to torch here"):
        torch_device(name)
