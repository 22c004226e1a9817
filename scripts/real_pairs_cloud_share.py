"""Where the cloudy input of each real pair differs from its target: inside the clouds, or elsewhere.

For every scene of a SEN12MS-CR-layout folder of real pairs: the cloud cover (threshold mask), the
input's PSNR, the PSNR of an oracle that restores every cloudy pixel (mask dilated by 8 px) exactly
and leaves the rest, and the share of the input's squared error that lies inside that mask. A scene
whose error lies outside its clouds measures change between the two dates, not cloud removal.

    python scripts/real_pairs_cloud_share.py ../shared/data/sen12mscr_real_pairs
"""

from __future__ import annotations

import sys
from collections import defaultdict

import numpy as np
from scipy import ndimage

from ibhfn.data import SEN12MSCR
from ibhfn.metrics import compute_metrics
from ibhfn.preprocessing import get_preprocessing

DILATION_PX = 8


def main(root: str) -> None:
    reflectance = get_preprocessing("default").reflectance
    rows: dict[str, list[tuple[float, float, float, float]]] = defaultdict(list)
    for sample in SEN12MSCR(root, "all", s1="constant"):
        cloudy, target = reflectance(sample.optical), reflectance(sample.target)
        assert sample.cloud_mask is not None  # the reader's threshold mask
        mask = ndimage.binary_dilation(sample.cloud_mask > 0.5, iterations=DILATION_PX)
        oracle = np.where(mask[None], target, cloudy)
        error = ((cloudy - target) ** 2).mean(axis=0)
        rows[sample.scene].append(
            (
                float((sample.cloud_mask > 0.5).mean()),
                compute_metrics(np.clip(cloudy, 0, 1), target).psnr,
                compute_metrics(np.clip(oracle, 0, 1), target).psnr,
                float(error[mask].sum() / error.sum()),
            )
        )
    print("| scene | pairs | cloud cover | input PSNR (dB) | oracle in the clouds (dB) | input error in the clouds |")
    print("|---|---|---|---|---|---|")
    for scene, values in rows.items():
        cover, psnr, oracle_psnr, share = np.mean(values, axis=0)
        print(f"| {scene} | {len(values)} | {cover:.2f} | {psnr:.2f} | {oracle_psnr:.2f} | {share:.2f} |")


if __name__ == "__main__":
    main(sys.argv[1])
