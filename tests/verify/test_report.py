"""The report files: JSON valid against its schema, HTML self-contained."""

from __future__ import annotations

import json
import subprocess
import sys
from html.parser import HTMLParser

import jsonschema
import numpy as np
import pytest

from ibhfn.verify.report import SCHEMA, load_schema, write_report
from ibhfn.verify.thresholds import judge, thresholds_for
from ibhfn.versions import versions


class _References(HTMLParser):
    """Collects every attribute that can point outside the page, and the tags used."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str, str]] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        pointing = ("src", "href", "srcset", "data", "action", "poster")
        self.links += [(tag, k, v or "") for k, v in attrs if k in pointing]


@pytest.fixture(scope="module")
def failing_report(summarise, tmp_path_factory):
    """A fp16 report where band B6 is off by 0.05 and one sample has a NaN."""

    def engine(i, s):
        out = s.reference.copy()
        out[5] += 0.05
        if i == 2:
            out[0, 1, 1] = np.nan
        return out

    summary = summarise(engine)
    verdict = judge(summary, thresholds_for("fp16"))
    out_dir = tmp_path_factory.mktemp("report")
    paths = write_report(summary, verdict, out_dir, meta={"engine": "m.onnx", "split": "val"})
    return paths, verdict


def test_report_files_exist_and_json_validates(failing_report):
    paths, verdict = failing_report
    assert paths.json.is_file() and paths.html.is_file()
    document = json.loads(paths.json.read_text())
    jsonschema.validate(document, load_schema())
    assert document["schema"] == SCHEMA == "ibhfn-verify-report/1"
    assert document["verdict"]["passed"] is False
    assert document["verdict"]["failing_bands"] == ["B1", "B6"]
    assert document["meta"] == {"engine": "m.onnx", "split": "val"}
    assert document["versions"] == versions() and document["versions"]["onnxruntime"] is not None
    assert document["overall"]["difference"]["max_abs"] == "inf"  # strict JSON, not Infinity
    assert len(document["samples"]) == 4 and len(document["worst"]) == 3
    assert [b["label"] for b in document["buckets"]] == ["0-10%", "10-50%", "50-90%"]


def test_schema_rejects_a_document_that_drifted(failing_report):
    document = json.loads(failing_report[0].json.read_text())
    document["overall"]["difference"]["max_abs"] = "Infinity"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, load_schema())


def test_html_references_only_embedded_images(failing_report):
    page = failing_report[0].html.read_text()
    parser = _References()
    parser.feed(page)
    assert parser.links, "the page should embed its figures"
    assert all(
        tag == "img" and attr == "src" and value.startswith("data:image/png;base64,")
        for tag, attr, value in parser.links
    ), parser.links
    assert len(parser.links) == 4  # per band, histogram, quicklooks, heat map
    assert not parser.tags & {"script", "link", "iframe", "object", "embed"}
    assert "url(" not in page and "@import" not in page


def test_html_states_the_verdict_and_the_failing_bands(failing_report):
    page = failing_report[0].html.read_text()
    assert "<b>FAIL</b>" in page
    assert "Bands beyond a limit on their own: B1, B6" in page
    assert "inf/NaN values in the engine output: 1, not &lt;= 0" in page
    installed = [f"{name} {found}" for name, found in versions().items() if found and name != "ibhfn"]
    assert f"onnxruntime {versions()['onnxruntime']}" in installed and ", ".join(installed) in page


def test_passing_report_without_truth(summarise, tmp_path):
    summary = summarise(lambda i, s: s.reference.copy(), with_truth=False)
    verdict = judge(summary, thresholds_for("int8"))
    paths = write_report(summary, verdict, tmp_path, meta={})
    document = json.loads(paths.json.read_text())
    jsonschema.validate(document, load_schema())
    assert document["overall"]["quality"] is None and document["overall"]["difference"]["psnr"] == "inf"
    assert document["verdict"]["skipped"] == ["delta_psnr: no ground truth", "delta_sam: no ground truth"]
    assert "<b>PASS</b>" in paths.html.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["verify_report.html", "verify_report.json"]


def test_importing_the_verifier_pulls_neither_torch_nor_matplotlib():
    code = (
        "import sys, ibhfn.verify.report, ibhfn.verify.thresholds; "
        "print(sorted({'torch', 'matplotlib'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
