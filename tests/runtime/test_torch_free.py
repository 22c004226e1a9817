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

PREPARE_A_PRODUCT = """
from ibhfn.runtime.prepare_cli import main
sys.argv = ["ibhfn-prepare", "s2", sys.argv[1], sys.argv[2]]
try:
    main()
except SystemExit as done:
    assert not done.code, done.code
print("prepared without torch")
"""


def test_runtime_imports_and_runs_a_scene_without_torch(tmp_path, onnx_engine_path, make_scene, without_torch):
    make_scene(tmp_path / "in", "a", height=80, width=72)
    done = without_torch(RUN_A_SCENE, onnx_engine_path, tmp_path / "in", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    assert "ran without torch" in done.stdout
    assert (tmp_path / "out" / "a.tif").is_file()


def test_a_product_is_prepared_without_torch(tmp_path, make_l1c_product, without_torch):
    safe, _ = make_l1c_product(tmp_path, size=60)
    done = without_torch(PREPARE_A_PRODUCT, safe, tmp_path / "in")
    assert done.returncode == 0, done.stderr
    assert "prepared without torch" in done.stdout and (tmp_path / "in" / "T32TQM_20230412_s2.tif").is_file()
