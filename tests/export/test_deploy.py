import pytest
import torch

from ibhfn.errors import ModelError
from ibhfn.export.deploy import fold
from ibhfn.export.parity import generated_inputs


def inputs(shape=(2, 32, 48), seed=3):
    return tuple(torch.from_numpy(a) for a in generated_inputs(shape, seed))


def test_ibhfn_deploy_form_is_bitwise_the_eval_output(ibhfn_model):
    sar, optical = inputs()
    with torch.inference_mode():
        expected = ibhfn_model.eval()(sar, optical)
        restored = fold(ibhfn_model)(sar, optical)
    assert restored.dtype == torch.float32
    assert torch.equal(restored, expected)


def test_gate_output_is_the_sigmoid_gate_of_the_eval_model(ibhfn_model):
    sar, optical = inputs()
    with torch.inference_mode():
        expected_image, expected_gate = ibhfn_model.forward_deterministic(sar, optical, return_gate=True)
        image, gate = fold(ibhfn_model, with_gate=True)(sar, optical)
    assert torch.equal(image, expected_image) and torch.equal(gate, expected_gate)
    assert gate.shape == (2, 1, 32, 48) and 0 <= gate.min() and gate.max() <= 1


def test_deploy_form_drops_the_logvar_head_and_leaves_the_model_alone(ibhfn_model):
    deployed = fold(ibhfn_model)
    assert not any("logvar" in name for name in deployed.state_dict())
    assert any("logvar" in name for name in ibhfn_model.state_dict())
    assert deployed.output_names == ("restored",) and deployed.size_multiple == ibhfn_model.size_multiple


def test_deploy_form_never_samples(ibhfn_model):
    sar, optical = inputs()
    deployed = fold(ibhfn_model)
    with torch.inference_mode():
        torch.manual_seed(0)
        first = deployed(sar, optical)
        torch.manual_seed(1)
        assert torch.equal(deployed(sar, optical), first)


def test_dsen2cr_deploy_form_is_bitwise_the_eval_output(dsen2cr_model):
    sar, optical = inputs((1, 24, 24))
    with torch.inference_mode():
        assert torch.equal(fold(dsen2cr_model)(sar, optical), dsen2cr_model.eval()(sar, optical))


def test_dsen2cr_has_no_gate_to_export(dsen2cr_model):
    with pytest.raises(ModelError, match="dsen2cr network has no gate"):
        fold(dsen2cr_model, with_gate=True)
