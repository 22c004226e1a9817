"""`--shard auto` under Slurm job arrays and Kubernetes Indexed Jobs, and `--collect` after them.

The shipped Slurm scripts run as they are (bash, the scheduler's variables set as sbatch sets them),
their tasks at once on one OUT; the Kubernetes manifest's container command runs once per index.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from ibhfn.errors import InputError
from ibhfn.runtime.cli import app
from ibhfn.runtime.shard import parse_shard

DOCS = Path(__file__).resolve().parents[2] / "docs"
SCENES = [f"s{index}" for index in range(7)]


def invoke(*args, env=None):
    return CliRunner().invoke(app, [str(a) for a in args], env=env)


@pytest.fixture(scope="module")
def scenes(tmp_path_factory, make_scene):
    folder = tmp_path_factory.mktemp("scenes") / "in"
    for index, name in enumerate(SCENES):
        make_scene(folder, name, height=48, width=40, seed=index)
    return folder


def slurm_env(task, low, high, step=1):
    count = (high - low) // step + 1
    return {
        "SLURM_ARRAY_TASK_ID": str(task),
        "SLURM_ARRAY_TASK_MIN": str(low),
        "SLURM_ARRAY_TASK_MAX": str(high),
        "SLURM_ARRAY_TASK_STEP": str(step),
        "SLURM_ARRAY_TASK_COUNT": str(count),
        "SLURM_ARRAY_JOB_ID": "4242",
    }


@pytest.mark.parametrize(
    "environ, count, expected",
    [
        (slurm_env(3, 0, 3), None, (3, 4)),
        (slurm_env(9, 1, 9, step=4), None, (2, 3)),
        ({"SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_COUNT": "5"}, None, (2, 5)),
        ({"JOB_COMPLETION_INDEX": "1"}, 6, (1, 6)),
        ({"JOB_COMPLETION_INDEX": "0", "IBHFN_SHARD_COUNT": "3"}, None, (0, 3)),
    ],
)
def test_auto_reads_each_scheduler(environ, count, expected):
    assert parse_shard("auto", count, environ) == expected
    assert parse_shard(f"auto/{expected[1]}", None, environ) == expected


@pytest.mark.parametrize(
    "environ, count, message",
    [
        ({}, None, "neither SLURM_ARRAY_TASK_ID (a Slurm job array) nor JOB_COMPLETION_INDEX"),
        ({"JOB_COMPLETION_INDEX": "1"}, None, "give --shard-count N or set IBHFN_SHARD_COUNT"),
        ({"JOB_COMPLETION_INDEX": "4"}, 4, "JOB_COMPLETION_INDEX=4: shard 4 of 4 is not valid"),
        ({"JOB_COMPLETION_INDEX": "x"}, 4, "JOB_COMPLETION_INDEX: 'x' is not a whole number"),
        ({"SLURM_ARRAY_TASK_ID": "1"}, None, "without SLURM_ARRAY_TASK_COUNT"),
        ({**slurm_env(1, 0, 3), "SLURM_ARRAY_TASK_COUNT": "3"}, None, "is not one evenly stepped range"),
        (slurm_env(1, 0, 3), 2, "--shard-count 2 disagrees with the Slurm array's 4 tasks"),
        (
            {**slurm_env(1, 0, 3), "JOB_COMPLETION_INDEX": "1"},
            None,
            "both SLURM_ARRAY_TASK_ID and JOB_COMPLETION_INDEX",
        ),
    ],
)
def test_auto_without_a_usable_scheduler_is_one_line(environ, count, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")) as raised:
        parse_shard("auto", count, environ)
    assert "\n" not in str(raised.value)


def test_unset_scheduler_variables_stop_the_run_with_one_line(tmp_path, scenes, onnx_engine_path):
    bare = {name: None for name in ("SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX", "IBHFN_SHARD_COUNT")}
    result = invoke("--engine", onnx_engine_path, "--shard", "auto", scenes, tmp_path / "out", env=bare)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: --shard auto: neither")
    assert not (tmp_path / "out").exists()
    alone = invoke("--engine", onnx_engine_path, "--shard-count", 3, scenes, tmp_path / "out")
    assert alone.exit_code == 2 and "--shard-count goes with --shard auto" in alone.stderr


def collect(scenes, out):
    result = invoke("--collect", scenes, out)
    return result, json.loads((out / "collect.json").read_text())


def test_slurm_array_script_tasks_at_once_cover_every_scene_once(tmp_path, scenes, onnx_engine_path):
    out = tmp_path / "out"
    bin_dir = Path(sys.executable).parent
    base = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "IBHFN_IN": str(scenes),
        "IBHFN_OUT": str(out),
        "IBHFN_ENGINE": str(onnx_engine_path),
        "IBHFN_ARGS": "--tile 32 --overlap 8",
    }
    low, high, step = 10, 16, 3  # --array=10-16:3: tasks 10, 13, 16
    tasks = [
        subprocess.Popen(
            ["bash", str(DOCS / "slurm" / "ibhfn-array.sbatch")],
            env={**base, **slurm_env(task, low, high, step)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for task in range(low, high + 1, step)
    ]
    finished = [task.communicate(timeout=300) for task in tasks]
    assert [task.returncode for task in tasks] == [0, 0, 0], finished
    written = sorted(path.stem for path in out.glob("*.tif"))
    assert written == SCENES
    collected = subprocess.run(
        ["bash", str(DOCS / "slurm" / "ibhfn-collect.sbatch")], env=base, capture_output=True, text=True, timeout=120
    )
    assert collected.returncode == 0, collected.stderr
    assert collected.stdout.startswith("7 scenes planned: 7 complete, 0 missing, 0 incomplete, 0 failed;")
    summary = json.loads((out / "collect.json").read_text())
    records = [json.loads(path.read_text()) for path in out.glob("*.tif.json")]
    assert summary["complete"] == 7 and summary["tiles"] == sum(record["tiles"]["run"] for record in records) > 7
    assert summary["area_km2"] == pytest.approx(7 * 48 * 40 * 100 / 1e6) and summary["tiles_per_second"] > 0
    # each scene exactly once: the tasks' own summaries (in their logs) add up to the seven scenes, none twice
    done = [int(re.match(r"(\d+) scenes: (\d+) done, 0 skipped, 0 failed", stdout)[2]) for stdout, _ in finished]
    assert done == [3, 2, 2]


def test_kubernetes_indexed_job_manifest_indexes_cover_every_scene_once(tmp_path, scenes, onnx_engine_path):
    job = yaml.safe_load((DOCS / "kubernetes" / "ibhfn-indexed-job.yaml").read_text())
    spec = job["spec"]
    assert job["kind"] == "Job" and spec["completionMode"] == "Indexed"
    container = spec["template"]["spec"]["containers"][0]
    env = {item["name"]: item["value"] for item in container["env"]}
    assert int(env["IBHFN_SHARD_COUNT"]) == spec["completions"]
    assert container["command"] == ["ibhfn-run"]

    def here(arg):  # the pod's volume at /data is this test's folder
        return {"/data/model.onnx": onnx_engine_path, "/data/in": scenes}.get(arg, arg.replace("/data", str(tmp_path)))

    args = [here(arg) for arg in container["args"]]
    seen = []
    for index in range(spec["completions"]):
        result = invoke(*args, env={**env, "JOB_COMPLETION_INDEX": str(index)})
        assert result.exit_code == 0, result.output
        seen += [SCENES[i] for i in range(index, len(SCENES), spec["completions"])]
    assert sorted(seen) == SCENES  # the shards' shares are disjoint and cover the batch
    out = tmp_path / "out"
    collected, summary = collect(scenes, out)
    assert collected.exit_code == 0 and summary["complete"] == len(SCENES)
    collect_job = yaml.safe_load((DOCS / "kubernetes" / "ibhfn-collect-job.yaml").read_text())
    assert collect_job["spec"]["template"]["spec"]["containers"][0]["args"] == ["--collect", "/data/in", "/data/out"]


def test_collect_names_every_missing_or_damaged_scene_and_fails(tmp_path, scenes, onnx_engine_path):
    out = tmp_path / "out"
    for index in range(3):
        assert (
            invoke(
                "--engine",
                onnx_engine_path,
                "--shard",
                "auto",
                "-q",
                scenes,
                out,
                env={"JOB_COMPLETION_INDEX": str(index), "IBHFN_SHARD_COUNT": "3"},
            ).exit_code
            == 0
        )
    (out / "s1.tif").unlink()
    (out / "s1.tif.json").unlink()
    with (out / "s2.tif").open("ab") as handle:  # a copy cut short or added to: not what the record measured
        handle.write(b"\0" * 10)
    (out / "s3.tif.json").unlink()
    result, summary = collect(scenes, out)
    assert result.exit_code == 2
    assert result.stdout.startswith("7 scenes planned: 4 complete, 1 missing, 2 incomplete, 0 failed;")
    errors = result.stderr.splitlines()
    assert errors == [
        f"error: s1: {out / 's1.tif'}: not written",
        f"error: s2: {out / 's2.tif'}: missing or not the size its record measured",
        f"error: s3: {out / 's3.tif.json'}: no record beside the output",
    ]
    states = {scene["name"]: scene["status"] for scene in summary["per_scene"]}
    assert states == {
        "s0": "complete",
        "s1": "missing",
        "s2": "incomplete",
        "s3": "incomplete",
        "s4": "complete",
        "s5": "complete",
        "s6": "complete",
    }
    rerun = invoke("--engine", onnx_engine_path, "--resume", "-q", scenes, out)  # --resume fills in what is missing
    assert rerun.exit_code == 0
    assert collect(scenes, out)[0].exit_code == 0


def test_collect_counts_a_scene_whose_input_was_refused_as_failed(tmp_path, scenes, onnx_engine_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("s0_s1.tif", "s0_s2.tif", "s1_s1.tif"):
        (folder / name).symlink_to(scenes / name)
    out = tmp_path / "out"
    assert invoke("--engine", onnx_engine_path, "-q", folder, out).exit_code == 2  # s1 has no S2
    result, summary = collect(folder, out)
    assert result.exit_code == 2 and summary["failed"] == 1 and summary["complete"] == 1
    assert f"error: s1: {folder / 's1_s1.tif'}: no S2 partner (s1_s2.tif) beside it" in result.stderr
    assert invoke("--collect", folder, tmp_path / "nowhere").stderr.strip() == (
        f"error: {tmp_path / 'nowhere'}: no such folder; give the OUT the shards wrote to"
    )
