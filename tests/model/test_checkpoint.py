"""Checkpoints: round trip, weights-only loading, and clear errors for wrong files."""

from __future__ import annotations

import pytest
import torch

from ibhfn.errors import ModelError
from ibhfn.model import build_model, load_checkpoint, read_checkpoint, save_checkpoint


def test_round_trip_gives_the_same_network(tmp_path, tiny_model, inputs):
    path = save_checkpoint(tmp_path / "m.pt", tiny_model, meta={"step": 3})
    loaded = load_checkpoint(path)
    sar, optical = inputs(1, 16)
    with torch.no_grad():
        assert torch.equal(loaded(sar, optical), tiny_model.eval()(sar, optical))
    assert read_checkpoint(path)["meta"] == {"step": 3}
    assert not loaded.training


def test_dsen2cr_round_trips(tmp_path):
    model = build_model("small", arch="dsen2cr", blocks=1, features=8)
    loaded = load_checkpoint(save_checkpoint(tmp_path / "d.pt", model), arch="dsen2cr")
    assert loaded.config == model.config


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ModelError, match="nowhere.pt: checkpoint not found"):
        load_checkpoint(tmp_path / "nowhere.pt")


def test_a_file_that_is_not_a_checkpoint_is_refused(tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a zip file at all")
    with pytest.raises(ModelError, match=r"junk.pt: not an ibhfn checkpoint \(not a file written by torch.save\)"):
        load_checkpoint(junk)


def test_a_foreign_state_dict_is_refused(tmp_path, tiny_model):
    path = tmp_path / "plain.pt"
    torch.save(tiny_model.state_dict(), path)
    with pytest.raises(ModelError, match="plain.pt: not an ibhfn checkpoint"):
        load_checkpoint(path)


def test_another_architecture_is_named(tmp_path):
    path = save_checkpoint(tmp_path / "d.pt", build_model("small", arch="dsen2cr", blocks=1, features=8))
    with pytest.raises(ModelError, match="holds a 'dsen2cr' network, expected 'ibhfn'"):
        load_checkpoint(path, arch="ibhfn")


def test_mismatched_weights_are_listed(tmp_path, tiny_model):
    path = save_checkpoint(tmp_path / "m.pt", tiny_model)
    checkpoint = read_checkpoint(path)
    checkpoint["config"]["fusion_blocks"] = 2
    torch.save(checkpoint, path)
    with pytest.raises(ModelError, match="weights do not match the ibhfn network.*missing"):
        load_checkpoint(path)


def test_a_pickle_with_objects_is_never_unpickled(tmp_path):
    path = tmp_path / "module.pt"
    torch.save({"model": torch.nn.Linear(2, 2)}, path)
    with pytest.raises(ModelError, match="module.pt: not an ibhfn checkpoint .it holds code or objects"):
        load_checkpoint(path)


def test_a_checkpoint_written_before_the_residual_option_loads_as_it_was_trained(tmp_path, tiny_model, inputs):
    """Configs that lack `residual` come from networks whose decoder predicted the image itself, the default."""
    from ibhfn.model import IBHFN, build_model

    old = build_model(
        "edge",
        **{k: v for k, v in tiny_model.config.items() if k not in ("arch", "preset", "residual")},
        residual=False,
    )
    path = save_checkpoint(tmp_path / "old.pt", old)
    checkpoint = torch.load(path, weights_only=True)
    del checkpoint["config"]["residual"]
    torch.save(checkpoint, path)
    loaded = load_checkpoint(path)
    assert isinstance(loaded, IBHFN) and loaded.arch_config.residual is False
    sar, optical = inputs(1, 16)
    with torch.no_grad():
        assert torch.equal(loaded(sar, optical), old.eval()(sar, optical))
