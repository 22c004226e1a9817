"""Score a network over a SEN12MS-CR split, as the literature reports it, beside the identity baseline.

Every image is scored on its own with `ibhfn.metrics` (network output clipped to reflectance
[0, 1]); a group's numbers are the means over its images: the whole split, each ROI-season, each
cloud-coverage bucket, and apart the pairs whose target shows new snow (`ibhfn.data.surface_change`).
The identity baseline ("output = cloudy input") is scored on the same images, so a table always
shows how much the network improves on doing nothing.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ibhfn.data import COVERAGE_BUCKETS, SEN12MSCR, Sample, coverage_bucket
from ibhfn.data.surface_change import SAME_SURFACE, SNOW_IN_TARGET, new_snow_share, surface_group
from ibhfn.errors import InputError, ShapeError
from ibhfn.evaluate.engine_network import is_engine, opened_network
from ibhfn.metrics import MetricSet, compute_metrics
from ibhfn.preprocessing import get_preprocessing

IDENTITY = "cloudy input"  # the name of the identity baseline in reports
UNKNOWN_COVERAGE = "unknown"  # bucket of samples without a cloud mask


@dataclass(frozen=True)
class ImageScore:
    """One test image: where it comes from and the metrics of the network and of the identity."""

    scene: str
    patch: int
    roi_season: str
    coverage: float | None
    bucket: str
    model: MetricSet
    identity: MetricSet
    new_snow: float = 0.0  # share of pixels snow in the target over clear ground in the input
    surface: str = SAME_SURFACE


@dataclass(frozen=True)
class GroupResult:
    """Mean metrics of the network and of the identity over a group of images."""

    count: int
    model: MetricSet
    identity: MetricSet

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "model": json_metrics(self.model), "identity": json_metrics(self.identity)}


@dataclass
class EvaluationReport:
    """The per-image scores of one network on one split, and their groupings."""

    model_name: str
    split: str
    scores: list[ImageScore] = field(default_factory=list)
    source: dict[str, Any] = field(default_factory=dict)  # data root, checkpoint, ... (for the JSON)
    skipped: int = 0  # unreadable samples left out

    def overall(self) -> GroupResult:
        """The means over the whole split."""
        return summarise(self.scores)

    def by_roi_season(self) -> dict[str, GroupResult]:
        """The means per ROI-season (for example 'ROIs1158_spring'), sorted by name."""
        return group_by(self.scores, "roi_season", sorted({s.roi_season for s in self.scores}))

    def by_coverage(self) -> dict[str, GroupResult]:
        """The means per cloud-coverage bucket present in the split, in bucket order."""
        present = {s.bucket for s in self.scores}
        order = [b for b in (*COVERAGE_BUCKETS, UNKNOWN_COVERAGE) if b in present]
        return group_by(self.scores, "bucket", order)

    def by_surface(self) -> dict[str, GroupResult]:
        """The means of pairs whose target shows the input's surface and of those with new snow in the target,
        when any has (empty otherwise: a split without them gets no extra rows)."""
        present = {s.surface for s in self.scores}
        if present <= {SAME_SURFACE}:
            return {}
        return group_by(self.scores, "surface", [g for g in (SAME_SURFACE, SNOW_IN_TARGET) if g in present])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready results: overall, per ROI-season, per coverage bucket, per surface, and every image."""
        return {
            "model": self.model_name,
            "baseline": IDENTITY,
            "split": self.split,
            "samples": len(self.scores),
            "skipped": self.skipped,
            "units": {"mae": "reflectance", "rmse": "reflectance", "psnr": "dB", "ssim": "1", "sam": "degrees"},
            **self.source,
            "overall": self.overall().to_dict(),
            "by_roi_season": {k: v.to_dict() for k, v in self.by_roi_season().items()},
            "by_coverage": {k: v.to_dict() for k, v in self.by_coverage().items()},
            "by_surface": {k: v.to_dict() for k, v in self.by_surface().items()},
            "images": [
                {
                    "scene": s.scene,
                    "patch": s.patch,
                    "coverage": s.coverage,
                    "new_snow": s.new_snow,
                    "surface": s.surface,
                    "model": json_metrics(s.model),
                    "identity": json_metrics(s.identity),
                }
                for s in self.scores
            ],
        }

    def table(self) -> str:
        """The literature-style text table (see `ibhfn.evaluate.table`)."""
        from ibhfn.evaluate.table import format_table  # here: the table module imports this one

        return format_table(self)


def json_metrics(metrics: MetricSet) -> dict[str, float | str]:
    """The metrics by name, with inf and NaN as the strings 'inf' and 'nan' (strict JSON has neither)."""
    return {k: v if math.isfinite(v) else str(v) for k, v in metrics.to_dict().items()}


def mean_metrics(sets: Sequence[MetricSet]) -> MetricSet:
    """The field-wise mean of metric sets (NaN when there are none)."""
    if not sets:
        return MetricSet(*(float("nan"),) * len(fields(MetricSet)))
    return MetricSet(*(float(np.mean([getattr(s, f.name) for s in sets])) for f in fields(MetricSet)))


def summarise(scores: Sequence[ImageScore]) -> GroupResult:
    """Mean network and identity metrics over `scores`."""
    return GroupResult(
        count=len(scores),
        model=mean_metrics([s.model for s in scores]),
        identity=mean_metrics([s.identity for s in scores]),
    )


def group_by(scores: Sequence[ImageScore], key: str, order: Sequence[str]) -> dict[str, GroupResult]:
    """`summarise` of the scores sharing each value of `key`, in `order`."""
    return {value: summarise([s for s in scores if getattr(s, key) == value]) for value in order}


def to_reflectance(optical: np.ndarray, preprocessing: str, *, clip: bool) -> np.ndarray:
    """Network-scale optical values as reflectance, clipped to [0, 1] for predictions."""
    out = get_preprocessing(preprocessing).reflectance(optical)
    return np.clip(out, 0.0, 1.0) if clip else out


def score_images(pred: np.ndarray, target: np.ndarray, preprocessing: str = "default") -> list[MetricSet]:
    """Metrics of every image of a (N, 13, H, W) prediction (clipped to [0, 1]) against its target."""
    pred = to_reflectance(pred, preprocessing, clip=True)
    target = to_reflectance(target, preprocessing, clip=False)
    return [compute_metrics(p, t) for p, t in zip(pred, target)]


@torch.no_grad()
def restore(model: nn.Module, sar: torch.Tensor, optical: torch.Tensor) -> torch.Tensor:
    """The network's deterministic restoration of a batch (eval mode, no sampling)."""
    model.eval()
    return model(sar, optical).float()


def evaluate(
    model: nn.Module,
    reader: SEN12MSCR,
    *,
    samples: int | None = None,
    batch_size: int = 4,
    device: str | torch.device = "cpu",
    preprocessing: str = "default",
    model_name: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> EvaluationReport:
    """Score `model` on the first `samples` (all when None) of a `SEN12MSCR` reader, with the identity baseline."""
    for option, value in (("--samples", samples), ("--batch-size", batch_size)):
        if value is not None and value < 1:
            raise InputError(f"{option} must be at least 1, got {value}")
    count = len(reader) if samples is None else min(samples, len(reader))
    multiple = getattr(model, "size_multiple", 1)
    report = EvaluationReport(model_name=model_name or describe(model), split=reader.split)
    model = model.to(device)
    done = 0
    for batch in _batches(reader, count, batch_size):
        for sample in batch:
            h, w = sample.optical.shape[-2:]
            if h % multiple or w % multiple:
                raise ShapeError(
                    f"{reader.root}: {sample.scene} patch {sample.patch} is {h} x {w} px, "
                    f"not a multiple of the network's {multiple}"
                )
        sar = torch.from_numpy(np.stack([s.sar for s in batch])).to(device)
        optical = torch.from_numpy(np.stack([s.optical for s in batch])).to(device)
        # each converted to reflectance once: scored, and compared for new snow (cloudy against target)
        target = to_reflectance(np.stack([s.target for s in batch]), preprocessing, clip=False)
        pred = to_reflectance(restore(model, sar, optical).cpu().numpy(), preprocessing, clip=True)
        cloudy = to_reflectance(optical.cpu().numpy(), preprocessing, clip=False)
        for sample, p, c, t in zip(batch, pred, cloudy, target):
            identity = compute_metrics(np.clip(c, 0.0, 1.0), t)
            new_snow = new_snow_share(c, t, sample.cloud_mask)
            report.scores.append(_image_score(sample, compute_metrics(p, t), identity, new_snow))
        done += len(batch)
        if progress is not None:
            progress(done, count)
    report.skipped = count - done
    if not report.scores:
        raise InputError(
            f"{reader.root}: no image of the {reader.split} split could be scored (all {count} samples unreadable)"
        )
    return report


def evaluate_checkpoint(
    checkpoint: str | os.PathLike,
    data: str | os.PathLike,
    split: str = "test",
    *,
    samples: int | None = None,
    batch_size: int = 4,
    cloud_mask: str = "threshold",
    s1: str = "files",
    optical: str = "cloudy",
    scenes: Sequence[str] | None = None,
    device: str | torch.device = "cpu",
    progress: Callable[[int, int], None] | None = None,
) -> EvaluationReport:
    """Score the network of a checkpoint (read once, with its preprocessing), or an engine file (.onnx, .plan: with
    the preprocessing its metadata holds), on a split of a SEN12MS-CR folder; the report's `source` names both
    and how S1 and the input were read."""
    with opened_network(checkpoint, str(device)) as (model, preprocessing):
        reader = SEN12MSCR(
            Path(data), split, preprocessing=preprocessing, cloud_mask=cloud_mask, s1=s1, optical=optical, scenes=scenes
        )
        report = evaluate(
            model,
            reader,
            samples=samples,
            batch_size=batch_size,
            device="cpu" if is_engine(checkpoint) else device,
            preprocessing=preprocessing,
            progress=progress,
        )
    report.source = {
        "data": str(data),
        "engine" if is_engine(checkpoint) else "checkpoint": str(checkpoint),
        "s1": s1,
        "input": optical,
    }
    return report


def describe(model: nn.Module) -> str:
    """'ibhfn edge', 'dsen2cr small': the architecture and preset a network was built from."""
    config = getattr(model, "config", {})
    return f"{config.get('arch', type(model).__name__)} {config.get('preset', '')}".strip()


def _image_score(sample: Sample, model: MetricSet, identity: MetricSet, new_snow: float) -> ImageScore:
    """An ImageScore from a reader Sample, with the share of new snow its target shows."""
    coverage = sample.coverage
    return ImageScore(
        scene=sample.scene,
        patch=int(sample.patch),
        roi_season=sample.roi_season,
        coverage=None if coverage is None else float(coverage),
        bucket=UNKNOWN_COVERAGE if coverage is None else coverage_bucket(coverage),
        model=model,
        identity=identity,
        new_snow=new_snow,
        surface=surface_group(new_snow),
    )


def _batches(reader: SEN12MSCR, count: int, batch_size: int) -> Iterator[list[Sample]]:
    """Consecutive readable samples in lists of `batch_size`, a list ending early where the tile size changes.

    A corrupt sample is skipped with the reader's warning, as SEN12MS-CR holds a few damaged patches.
    """
    batch: list[Sample] = []
    for index in range(count):
        sample = reader.read_or_skip(index)
        if sample is None:
            continue
        if batch and (len(batch) == batch_size or batch[0].optical.shape != sample.optical.shape):
            yield batch
            batch = []
        batch.append(sample)
    if batch:
        yield batch
