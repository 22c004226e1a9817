"""The runtime must import and run a whole scene on a machine without torch (a Jetson image)."""

RUN_A_SCENE = """
import ibhfn.runtime
from ibhfn.runtime.cli import main
sys.argv = ["ibhfn-run", "--engine", sys.argv[1], "--tile", "64", "-q", sys.argv[2], sys.argv[3]]
try:
    main()
except SystemExit as done:
    assert not done.code, done.code
print("ran without torch")
"""


def test_runtime_imports_and_runs_a_scene_without_torch(tmp_path, onnx_engine_path, make_scene, without_torch):
    make_scene(tmp_path / "in", "a", height=80, width=72)
    done = without_torch(RUN_A_SCENE, onnx_engine_path, tmp_path / "in", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    assert "ran without torch" in done.stdout
    assert (tmp_path / "out" / "a.tif").is_file()
