"""`ibhfn-deploy`: checkpoint -> verified bundle in one command, and its refusals (one line, nothing half-written)."""

import json

import pytest
from typer.testing import CliRunner

from ibhfn.data.synthetic import write_tree
from ibhfn.export.bundle import tensorrt_available
from ibhfn.export.deploy_cli import app as deploy_app
from ibhfn.hashing import file_sha256
from ibhfn.verify.cli import app as verify_app

PATCH = 64


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """A SEN12MS-CR-layout tree of 64 px patches: 4 train, 2 val and 1 test scene of 4 patches each."""
    return write_tree(
        tmp_path_factory.mktemp("sen12mscr"), seed=0, scenes_per_split=(4, 2, 1), patches_per_scene=4, size=PATCH
    )


def deploy(*args):
    return CliRunner().invoke(deploy_app, [str(a) for a in args])


def leftovers(folder):
    return [path.name for path in folder.iterdir() if ".partial-" in path.name]


@pytest.mark.slow
def test_the_bundled_checkpoint_deploys_to_a_verified_fp16_bundle(tmp_path, tree):
    out = tmp_path / "bundle"
    result = deploy("--precision", "fp16", "--data", tree, "--samples", 6, "--tile", PATCH, out)
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "bundle.json").read_text())
    assert manifest["engine"] == "model.fp16.onnx" and manifest["verify"]["passed"] is True
    assert sorted(manifest["files"]) == sorted(
        path.relative_to(out).as_posix() for path in out.rglob("*") if path.is_file() and path.name != "bundle.json"
    )
    for name, facts in manifest["files"].items():
        assert file_sha256(out / name) == facts["sha256"]
    if tensorrt_available():
        assert manifest["plan"] == "model.plan"
    else:
        assert manifest["plan"] is None and "TensorRT is not installed here" in result.output
    card = (out / "MODEL_CARD.md").read_text()
    assert "## Verification: PASSED" in card and "ibhfn-run --engine model.fp16.onnx" in card
    report = json.loads((out / "verify" / "verify_report.json").read_text())
    assert report["verdict"]["passed"] is True
    # the bundle's figures are what ibhfn-verify measures on the same engine, reference and patches
    again = CliRunner().invoke(
        verify_app,
        [
            "--engine",
            str(out / "model.fp16.onnx"),
            "--reference",
            str(out / "model.onnx"),
            "--data",
            str(tree),
            "--samples",
            "6",
            "--report",
            str(tmp_path / "again"),
        ],
    )
    assert again.exit_code == 0, again.output
    measured = json.loads((tmp_path / "again" / "verify_report.json").read_text())
    for key in ("verdict", "n_samples", "overall", "bands", "samples"):
        assert measured[key] == report[key], key
    assert leftovers(tmp_path) == []


@pytest.mark.slow
def test_int8_is_calibrated_on_the_tree_then_verified(tmp_path, tree):
    out = tmp_path / "int8"
    # 8 verify patches, not 4: the first 4 of this tree are near-clear, restored at 46 dB, where a
    # 0.001 RMS INT8 difference already costs 0.5 dB of PSNR against truth
    result = deploy(
        "--precision", "int8", "--data", tree, "--samples", 8, "--calibration-samples", 8, "--tile", PATCH, out
    )
    assert result.exit_code == 0, result.output
    assert (out / "model.int8.onnx").is_file() and (out / "model.int8.onnx.calibration.json").is_file()
    assert "INT8: QDQ, calibrated on" in (out / "MODEL_CARD.md").read_text()
    assert json.loads((out / "bundle.json").read_text())["verify"]["verdict"].startswith("PASS (int8)")


def test_refusals_are_one_line_and_leave_nothing(tmp_path, tree):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "other.txt").write_text("someone's file")
    cases = [
        (
            ("--precision", "fp16", "--data", tree, taken),
            f"error: {taken}: exists and is not an empty folder; give a new folder for the bundle",
        ),
        (
            ("--precision", "fp16", "--data", tmp_path / "nowhere", tmp_path / "b1"),
            f"error: {tmp_path / 'nowhere'}: no such folder; "
            "give the SEN12MS-CR root (or a synthetic tree) to verify on",
        ),
        (("--precision", "fp8", "--data", tree, tmp_path / "b2"), "error: precision 'fp8': choose one of fp16, int8"),
    ]
    for args, line in cases:
        result = deploy(*args)
        assert result.exit_code == 2 and result.stderr.strip() == line, result.output
    assert sorted(path.name for path in tmp_path.iterdir()) == ["taken"]
    assert [path.name for path in taken.iterdir()] == ["other.txt"]


@pytest.mark.slow
def test_a_deploy_that_fails_part_way_leaves_no_bundle(tmp_path):
    empty = tmp_path / "empty_tree"
    empty.mkdir()
    result = deploy("--precision", "fp16", "--data", empty, "--tile", PATCH, tmp_path / "bundle")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["empty_tree"]
