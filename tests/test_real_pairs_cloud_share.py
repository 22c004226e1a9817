"""scripts/real_pairs_cloud_share.py: which real scenes' input error lies in their clouds."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_only_the_thick_cloud_scene_has_its_input_error_in_its_clouds(real_pairs, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["real_pairs_cloud_share.py", str(real_pairs)])
    runpy.run_path(str(ROOT / "scripts" / "real_pairs_cloud_share.py"), run_name="__main__")
    rows = {line.split("|")[1].strip(): line.split("|")[2:-1] for line in capsys.readouterr().out.splitlines()[2:]}
    assert len(rows) == 6
    cover, input_psnr, oracle_psnr, share = (float(cell) for cell in rows["ROIs1970_fall/136"][1:])
    assert cover > 0.4 and share > 0.9 and oracle_psnr > input_psnr + 15
    for scene in ("ROIs1868_summer/135", "ROIs2017_winter/102", "ROIs1158_spring/26"):
        assert float(rows[scene][4]) < 0.1, scene
