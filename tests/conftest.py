"""Fixtures shared by every test folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HIDE_TORCH = """
import sys
from importlib.abc import MetaPathFinder

class NoTorch(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is hidden in this test")

sys.meta_path.insert(0, NoTorch())
try:
{body}
finally:
    assert not any(m == "torch" or m.startswith("torch.") for m in sys.modules), "torch was imported"
"""


def run_without_torch(code: str, *args: object) -> subprocess.CompletedProcess:
    """Run Python `code` (with `args` in sys.argv[1:]) in a fresh process where torch cannot be imported.

    The process fails if the code imports torch, even where it catches the ImportError itself.
    """
    body = "\n".join("    " + line for line in code.strip().splitlines())
    return subprocess.run(
        [sys.executable, "-c", HIDE_TORCH.format(body=body), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """Tests run small networks, no slower on one thread; two threads stall on a busy 2-core CI machine."""
    try:
        import torch
    except ImportError:
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def without_torch():
    """`run_without_torch`: a Jetson image, which has no torch."""
    return run_without_torch


REAL_PAIRS = Path(__file__).parents[1].parent / "shared" / "data" / "sen12mscr_real_pairs"


@pytest.fixture(scope="session")
def real_pairs() -> Path:
    """The 37 real cloudy / clear pairs (6 scenes, no S1) in ../shared, or a skip when ../shared is absent."""
    if not REAL_PAIRS.is_dir():
        pytest.skip(f"the real pairs are not at {REAL_PAIRS} (../shared beside the checkout)")
    return REAL_PAIRS
