"""The runtime must import and run a whole scene on a machine without torch (a Jetson image)."""

import subprocess
import sys

BLOCK_TORCH_AND_RUN = """
import sys
from importlib.abc import MetaPathFinder

class NoTorch(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is hidden in this test")

sys.meta_path.insert(0, NoTorch())
import ibhfn.runtime
from ibhfn.runtime.cli import main
sys.argv = ["ibhfn-run", "--engine", sys.argv[1], "--tile", "64", "-q", sys.argv[2], sys.argv[3]]
try:
    main()
except SystemExit as done:
    assert not done.code, done.code
assert not any(m == "torch" or m.startswith("torch.") for m in sys.modules), "torch was imported"
print("ran without torch")
"""


def test_runtime_imports_and_runs_a_scene_without_torch(tmp_path, onnx_engine_path, make_scene):
    make_scene(tmp_path / "in", "a", height=80, width=72)
    done = subprocess.run(
        [sys.executable, "-c", BLOCK_TORCH_AND_RUN, str(onnx_engine_path), str(tmp_path / "in"), str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "ran without torch" in done.stdout
    assert (tmp_path / "out" / "a.tif").is_file()
