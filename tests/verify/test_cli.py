"""`ibhfn-verify` end to end: exit codes, the summary, the report files, one-line errors."""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
import sys
from html.parser import HTMLParser

import jsonschema
import numpy as np
import pytest
from typer.testing import CliRunner

from ibhfn.verify.cli import app
from ibhfn.verify.report import load_schema

from .conftest import write_tiny_checkpoint


def verify(*args) -> object:
    """Run ibhfn-verify with these arguments; return click's Result."""
    return CliRunner().invoke(app, [str(a) for a in args])


class _Images(HTMLParser):
    """Collects every attribute that can point outside the page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag, attrs):
        self.links += [(tag, k, v or "") for k, v in attrs if k in ("src", "href", "srcset", "data", "poster")]


@pytest.fixture(scope="module")
def passing_run(fp32_onnx, checkpoint, data_root, tmp_path_factory):
    """ORT FP32 against the PyTorch checkpoint on 3 val patches, with a report."""
    report = tmp_path_factory.mktemp("pass_report")
    return verify(
        "--engine", fp32_onnx, "--reference", checkpoint, "--data", data_root, "--samples", 3, "--report", report
    ), report


def test_fp32_onnx_against_checkpoint_passes(passing_run):
    result, report = passing_run
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("[I] Accuracy Comparison | tiny_fp32.onnx [onnxruntime")
    assert "vs. tiny.pt [torch (cpu), fp32]" in lines[0]
    assert "3 samples of val (4 available)" in result.stdout
    assert "[I]         PASSED | max |engine - reference|" in result.stdout
    assert lines[-1].startswith("[I] PASSED | PASS (fp32)")
    document = json.loads((report / "verify_report.json").read_text())
    jsonschema.validate(document, load_schema())
    assert document["verdict"]["passed"] is True and document["n_samples"] == 3
    assert document["meta"]["reference"]["backend"] == "torch (cpu)"
    assert document["meta"]["engine"]["checkpoint_sha256"] == document["meta"]["reference"]["checkpoint_sha256"]
    assert 0 < float(document["overall"]["difference"]["max_abs"]) <= 1e-4
    assert document["overall"]["quality"] is not None  # the tree has cloud-free targets
    assert {b["label"] for b in document["buckets"]} <= {"0-10%", "10-50%", "50-90%", "90-100%"}


def test_html_embeds_only_images_that_decode(passing_run):
    from matplotlib.image import imread

    page = (passing_run[1] / "verify_report.html").read_text()
    parser = _Images()
    parser.feed(page)
    assert len(parser.links) == 4
    for tag, attr, value in parser.links:
        assert (tag, attr) == ("img", "src") and value.startswith("data:image/png;base64,")
        image = imread(io.BytesIO(base64.b64decode(value.split(",", 1)[1])), format="png")
        assert image.ndim == 3 and min(image.shape[:2]) > 100 and np.ptp(image) > 0


def test_perturbed_band_fails_with_exit_1_and_names_the_band(perturbed_onnx, checkpoint, data_root, tmp_path):
    result = verify(
        "--engine", perturbed_onnx, "--reference", checkpoint, "--data", data_root, "--samples", 2, "--report", tmp_path
    )
    assert result.exit_code == 1, result.output
    assert "[E]         FAILED | max |engine - reference|" in result.stdout
    assert "[E]     Bands beyond a limit: B6" in result.stdout
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith(f"error: {perturbed_onnx}: FAIL (fp32)") and "B6" in result.stderr
    document = json.loads((tmp_path / "verify_report.json").read_text())
    jsonschema.validate(document, load_schema())
    assert document["verdict"]["failing_bands"] == ["B6"]
    bands = {b["band"]: float(b["max_abs"]) for b in document["overall"]["bands"]}
    assert bands["B6"] > 1e-3 and max(v for k, v in bands.items() if k != "B6") <= 1e-4


def test_threshold_override_turns_the_failure_into_a_pass(perturbed_onnx, fp32_onnx, data_root):
    result = verify(
        "--engine",
        perturbed_onnx,
        "--reference",
        fp32_onnx,
        "--data",
        data_root,
        "--samples",
        1,
        "--threshold",
        "max_abs=0.5",
        "--quiet",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "[I] PASSED | PASS (fp32): 2 checks passed\n"


def test_precision_option_picks_the_thresholds(fp32_onnx, checkpoint, data_root, tmp_path):
    result = verify(
        "--engine",
        fp32_onnx,
        "--reference",
        checkpoint,
        "--data",
        data_root,
        "--samples",
        1,
        "--precision",
        "fp16",
        "--report",
        tmp_path,
    )
    assert result.exit_code == 0, result.output
    verdict = json.loads((tmp_path / "verify_report.json").read_text())["verdict"]
    assert verdict["thresholds"]["precision"] == "fp16" and verdict["thresholds"]["min_psnr"] == 45.0
    assert [c["name"] for c in verdict["checks"]] == ["non_finite", "max_abs", "psnr", "delta_psnr"]


def test_scene_mode_through_the_tiled_runtime(fp32_onnx, checkpoint, scene_folder, tmp_path):
    result = verify(
        "--engine",
        fp32_onnx,
        "--reference",
        checkpoint,
        "--scenes",
        scene_folder,
        "--tile",
        64,
        "--overlap",
        16,
        "--window",
        48,
        "--s2-offset",
        -1000,
        "--report",
        tmp_path,
    )
    assert result.exit_code == 0, result.output
    assert "1 scenes (4 windows)" in result.stdout
    document = json.loads((tmp_path / "verify_report.json").read_text())
    jsonschema.validate(document, load_schema())
    assert document["meta"]["data"]["s2_offset"] == -1000
    assert [s["id"] for s in document["samples"]] == ["scene@0,0", "scene@0,48", "scene@48,0", "scene@48,48"]
    scene = document["meta"]["data"]["scenes"][0]
    assert scene["target"].endswith("scene_target.tif")
    [warning] = scene["warnings"]  # the generated scene has no offset: the check of the offset says so
    assert warning.startswith(f"{scene_folder / 'scene_s2.tif'}: ") and "run it with --s2-offset 0" in warning
    assert document["overall"]["quality"] is not None
    assert all(s["coverage"] is not None for s in document["samples"])


def truncate_one_patch(root, into):
    """A copy of the tree at `into` with one val patch's cloudy S2 cut to half its bytes (a broken download)."""
    shutil.copytree(root, into)
    victim = sorted(into.glob("*_s2_cloudy/*/*.tif"))[0]
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    return victim


def test_a_truncated_patch_is_skipped_with_one_warning_naming_it(fp32_onnx, data_root, tmp_path):
    victim = truncate_one_patch(data_root, tmp_path / "tree")
    result = verify("--engine", fp32_onnx, "--reference", fp32_onnx, "--data", tmp_path / "tree", "--quiet")
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if str(victim) in line]
    assert len(warnings) == 1 and warnings[0].startswith(f"warning: {victim}: cannot be read"), result.stderr
    assert warnings[0].endswith("sample skipped") and "Traceback" not in result.output
    assert "PASS" in result.stdout


def test_an_engine_verified_against_itself_is_warned_of(fp32_onnx, data_root):
    result = verify("--engine", fp32_onnx, "--reference", fp32_onnx, "--data", data_root, "--samples", 1, "--quiet")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[0] == (
        f"warning: {fp32_onnx} is both the engine and the reference: the comparison cannot fail"
    )


@pytest.mark.parametrize(
    "case",
    [
        "missing engine",
        "other network",
        "size multiple",
        "empty data",
        "no mode",
        "bad threshold",
        "negative threshold",
        "nan threshold",
        "scenes a file",
        "unpaired scene",
    ],
)
def test_bad_inputs_give_one_line_and_exit_2(case, fp32_onnx, checkpoint, data_root, scene_folder, tmp_path):
    engine, reference, mode = fp32_onnx, checkpoint, ["--data", data_root]
    if case == "missing engine":
        engine = tmp_path / "absent.onnx"
        expected = f"error: {engine}: engine file not found"
    elif case == "other network":
        reference = write_tiny_checkpoint(tmp_path / "other.pt", seed=7)
        expected = f"error: {reference} is not a reference for {engine}: checkpoint SHA-256"
    elif case == "size multiple":
        reference = write_tiny_checkpoint(tmp_path / "deeper.pt", widths=(8, 16, 24, 32), encoder_blocks=(1, 1, 1, 1))
        expected = f"error: {reference} is not a reference for {engine}: size multiple 4 (engine) differs from 8"
    elif case == "empty data":
        (tmp_path / "empty").mkdir()
        mode = ["--data", tmp_path / "empty"]
        expected = f"error: {tmp_path / 'empty'}: no complete SEN12MS-CR triplets in split 'val'"
    elif case == "unpaired scene":
        (tmp_path / "scenes").mkdir()
        shutil.copy(scene_folder / "scene_s2.tif", tmp_path / "scenes")
        mode = ["--scenes", tmp_path / "scenes"]
        expected = f"error: {tmp_path / 'scenes' / 'scene_s2.tif'}: "
    elif case == "bad threshold":
        mode += ["--threshold", "max_abs=big"]
        expected = "error: --threshold max_abs takes a number or none, not 'big'"
    elif case in ("negative threshold", "nan threshold"):
        value = "-1" if case == "negative threshold" else "nan"
        mode += ["--threshold", f"min_psnr={value}"]
        expected = f"error: --threshold min_psnr takes a finite number of at least 0 or none, not '{value}'"
    elif case == "scenes a file":
        mode = ["--scenes", scene_folder / "scene_s2.tif"]
        expected = f"error: {scene_folder / 'scene_s2.tif'}: not a folder"
    else:
        mode = []
        expected = "error: give either --data ROOT (sample mode) or --scenes IN (scene mode)"
    result = verify("--engine", engine, "--reference", reference, *mode, "--report", tmp_path / "report")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(expected), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert not (tmp_path / "report").exists()


def test_report_without_matplotlib_stops_before_any_work(fp32_onnx, data_root, tmp_path):
    """A lean install: matplotlib cannot be imported (a None entry in sys.modules makes the import fail)."""
    code = (
        "import sys; sys.modules['matplotlib'] = None; from ibhfn.verify.cli import main; "
        "sys.argv[0] = 'ibhfn-verify'; main()"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "--engine",
            str(fp32_onnx),
            "--reference",
            str(fp32_onnx),
            "--data",
            str(tmp_path / "no such tree"),
            "--report",
            str(tmp_path / "report"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    # the missing tree would be the next error: the check came first, and nothing was written
    assert done.stderr.strip() == "error: the HTML report needs matplotlib: pip install 'ibhfn[verify]'"
    assert not (tmp_path / "report").exists()


def test_run_table_shows_engine_reference_and_data_as_fields(passing_run):
    page = (passing_run[1] / "verify_report.html").read_text()
    run_table = page.split("<h2>Run</h2>")[1].split("<h2>")[0]
    assert '<th class="text">engine</th>' in run_table and '<th class="text">backend</th>' in run_table
    assert '<th class="text">split</th><td class="text">val</td>' in run_table
    assert "{&quot;" not in run_table and '{"' not in run_table  # no raw JSON
