"""--resume trusts an output only as written: one damaged since, its size unchanged, is computed again."""

from __future__ import annotations

import numpy as np
import rasterio

from .conftest import RUN, tool


def read(path):
    with rasterio.open(path) as dataset:
        return dataset.read()


def overwrite(path, offset: int, data: bytes) -> None:
    """Write `data` over `path` at `offset`, keeping its size."""
    size = path.stat().st_size
    with open(path, "r+b") as handle:
        handle.seek(offset)
        handle.write(data)
    assert path.stat().st_size == size


def test_outputs_damaged_at_the_same_size_are_computed_again(two_scenes, tmp_path):
    out = tmp_path / "out"
    assert tool(RUN, two_scenes, out).returncode == 0
    before = {name: read(out / f"{name}.tif") for name in "ab"}
    size = (out / "a.tif").stat().st_size
    overwrite(out / "a.tif", size // 2, bytes(4096))  # compressed pixels zeroed: still opens
    overwrite(out / "b.tif", 0, b"JUNK")  # the header: no longer a TIFF
    resumed = tool(RUN, "--resume", two_scenes, out)
    assert resumed.returncode == 0, resumed.stderr
    assert "2 scenes: 2 done, 0 skipped" in resumed.stdout
    for name in "ab":
        np.testing.assert_array_equal(read(out / f"{name}.tif"), before[name])
    again = tool(RUN, "--resume", two_scenes, out)
    assert "2 scenes: 0 done, 2 skipped" in again.stdout, again.stderr
