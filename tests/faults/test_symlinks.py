"""Links planted at the names a run writes under are never written through, and every output is a regular file."""

from __future__ import annotations

import os

import rasterio
from typer.testing import CliRunner

from ibhfn.atomic import PARTIAL
from ibhfn.data.synthetic import write_scene
from ibhfn.runtime.cli import app

PRECIOUS = b"a file outside the output folder that the run must not touch"


def plant(out, victim, finals, pid):
    """Links to `victim` at the temporary names of `finals` this process (and its neighbours) could use; returned."""
    names = []
    for final in finals:
        names += [f".{final}{PARTIAL}{number}" for number in range(pid - 16, pid + 17)]  # the former scheme
        names += [f".{final}{PARTIAL}{pid}.strips", f".{final}{PARTIAL}{pid}.tmp"]
        names += [f".{final}{PARTIAL}{pid}.{suffix}" for suffix in ("00000000", "ffffffff", "deadbeef")]
    for name in names:
        (out / name).symlink_to(victim)
    return [out / name for name in names]


def test_a_run_writes_through_no_link_planted_in_its_output_folder(tmp_path):
    scenes, out, victim = tmp_path / "in", tmp_path / "out", tmp_path / "victim"
    write_scene(scenes, "a", height=96, width=96)
    out.mkdir()
    victim.write_bytes(PRECIOUS)
    links = plant(out, victim, ["a.tif", "a.tif.json", "a.stac.json"], os.getpid())  # the run is in this process
    (out / "a.tif").symlink_to(tmp_path / "victim_of_the_final_name")
    (tmp_path / "victim_of_the_final_name").write_bytes(PRECIOUS)

    result = CliRunner().invoke(app, ["--cog", str(scenes), str(out)])
    assert result.exit_code == 0, result.output
    assert victim.read_bytes() == PRECIOUS and (tmp_path / "victim_of_the_final_name").read_bytes() == PRECIOUS
    assert all(link.is_symlink() and link.readlink() == victim for link in links)
    assert sorted(os.listdir(out)) == sorted(["a.tif", "a.tif.json", "a.stac.json", *(link.name for link in links)])
    for output in (out / "a.tif", out / "a.tif.json"):
        assert output.is_file() and not output.is_symlink()
    with rasterio.open(out / "a.tif") as restored:
        assert restored.read().shape == (13, 96, 96)
