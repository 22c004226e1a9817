"""Ablations at equal budget: IB-HFN, one variant without each of its parts, and DSen2-CR.

Every variant trains with the same data, steps, batch, crop, learning-rate schedule and seeds,
then is scored on the same evaluation sets (the synthetic test split and, where `../shared`
exists, the real SEN12MS-CR patches). Runs go `jobs` at a time, one torch thread each; a run
whose `scores.json` exists is not repeated, so an interrupted ablation resumes. The table gives
mean ± standard deviation over seeds.

    python -m ibhfn.train.ablation --data runs/ablation/data --out runs/ablation --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import statistics
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from ibhfn.atomic import atomic_path
from ibhfn.losses import LossSchedule


@dataclass(frozen=True)
class Variant:
    """One network of the ablation: architecture, network overrides and loss-schedule overrides."""

    name: str
    what: str  # the part it lacks, for the table
    arch: str = "ibhfn"
    model: dict[str, Any] = field(default_factory=dict)
    schedule: dict[str, Any] = field(default_factory=dict)


VARIANTS = (
    Variant("ibhfn", "full IB-HFN edge"),
    Variant("concat-fusion", "plain concatenation instead of the bottleneck fusion", model={"fusion": "concat"}),
    Variant("no-gate", "no gate and no Dirac skip (Y = R)", model={"gate": False}),
    Variant("no-contrastive", "no contrastive sharpness term", schedule={"contrastive": 0.0}),
    Variant(
        "fixed-weights",
        "fixed loss weights from step 0, no schedule",
        schedule={"l1_warmup_steps": 0, "ramp_steps": 0, "kl_warmup_steps": 0},
    ),
    Variant(
        "residual-decoder",
        "decoder predicts a correction of the input, not the image (not a part: a test)",
        model={"residual": True},
    ),
    Variant(
        "sar-skips",
        "every SAR level through its own bottleneck into the decoder (the fix; not a part)",
        model={"sar_skips": True},
    ),
    Variant("dsen2cr", "DSen2-CR small baseline", arch="dsen2cr"),
)


@dataclass(frozen=True)
class EvalSet:
    """A set of patches every variant is scored on (`SEN12MSCR` arguments)."""

    name: str
    root: Path
    split: str = "test"
    s1: str = "files"
    optical: str = "cloudy"


def default_eval_sets(data: Path, shared: Path) -> list[EvalSet]:
    """The synthetic test split, and the real sets of `shared` where it exists."""
    sets = [EvalSet("synthetic test", data)]
    real = shared / "data"
    if (real / "sen12mscr_real_pairs").is_dir():
        sets += [
            EvalSet("real pairs (constant S1)", real / "sen12mscr_real_pairs", "all", s1="constant"),
            EvalSet("real clear pass-through", real / "sen12mscr_real_pairs", "all", s1="constant", optical="clear"),
        ]
    if (real / "sen12mscr_sample").is_dir():
        sets.append(EvalSet("real triplet", real / "sen12mscr_sample", "all"))
    return sets


@dataclass(frozen=True)
class Budget:
    """What every variant gets: the same for all, so the comparison is fair."""

    steps: int = 600
    batch_size: int = 8
    crop: int = 96
    lr: float = 1e-3
    warmup_steps: int = 50
    clear_input: float = 0.0
    s1_dropout: float = 0.0  # share of samples given the constant S1 of pairs without SAR


def run_one(
    variant: Variant, seed: int, data: Path, out: Path, budget: Budget, eval_sets: list[EvalSet]
) -> dict[str, Any]:
    """Train one variant with one seed and score it on every set; the scores are cached in out/scores.json."""
    import torch

    from ibhfn.data import SEN12MSCR
    from ibhfn.evaluate.evaluation import evaluate
    from ibhfn.model import load_checkpoint
    from ibhfn.train.config import TrainConfig
    from ibhfn.train.loop import train

    scores_path = out / "scores.json"
    if scores_path.is_file():
        return json.loads(scores_path.read_text(encoding="utf-8"))
    torch.set_num_threads(1)
    schedule = replace(LossSchedule(l1_warmup_steps=100, ramp_steps=200, kl_warmup_steps=400), **variant.schedule)
    config = TrainConfig(
        out=out,
        data=data,
        arch=variant.arch,
        model_overrides=dict(variant.model),
        epochs=10_000,
        max_steps=budget.steps,
        batch_size=budget.batch_size,
        crop=budget.crop,
        lr=budget.lr,
        warmup_steps=budget.warmup_steps,
        clear_input=budget.clear_input,
        s1_dropout=budget.s1_dropout,
        seed=seed,
        val_samples=8,
        loss_schedule=schedule,
        device="cpu",
    )
    result = train(config)
    model = load_checkpoint(result.best_checkpoint or result.last_checkpoint)
    scores: dict[str, Any] = {"variant": variant.name, "seed": seed, "seconds": result.seconds, "sets": {}}
    for eval_set in eval_sets:
        reader = SEN12MSCR(eval_set.root, eval_set.split, s1=eval_set.s1, optical=eval_set.optical)
        report = evaluate(model, reader, batch_size=4)
        overall = report.overall()
        scores["sets"][eval_set.name] = {
            "count": overall.count,
            "model": overall.model.to_dict(),
            "identity": overall.identity.to_dict(),
            "images": [
                {"scene": s.scene, "patch": s.patch, "psnr": s.model.psnr, "identity_psnr": s.identity.psnr}
                for s in report.scores
            ],
        }
    with atomic_path(scores_path) as tmp:
        tmp.write_text(json.dumps(scores, indent=2) + "\n", encoding="utf-8")
    return scores


def run_ablation(
    data: Path,
    out: Path,
    *,
    seeds: list[int],
    budget: Budget,
    eval_sets: list[EvalSet],
    variants: tuple[Variant, ...] = VARIANTS,
    jobs: int = 2,
) -> list[dict[str, Any]]:
    """Every variant x seed (`jobs` in parallel); returns their scores."""
    runs = [(v, s) for s in seeds for v in variants]
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(run_one, v, s, data, out / f"{v.name}-seed{s}", budget, eval_sets) for v, s in runs]
        return [future.result() for future in futures]


def _mean_std(values: list[float]) -> str:
    if len(values) < 2:
        return f"{values[0]:.2f}"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}"


def table(scores: list[dict[str, Any]], variants: tuple[Variant, ...] = VARIANTS) -> str:
    """A markdown table per evaluation set: PSNR / SSIM / SAM of each variant, mean ± std over seeds."""
    lines: list[str] = []
    set_names = list(dict.fromkeys(name for s in scores for name in s["sets"]))
    for set_name in set_names:
        rows = [s for s in scores if set_name in s["sets"]]
        count = rows[0]["sets"][set_name]["count"]
        identity = rows[0]["sets"][set_name]["identity"]
        seeds = sorted({s["seed"] for s in rows})
        lines += [
            f"**{set_name}** ({count} patches, seeds {', '.join(map(str, seeds))})",
            "",
            "| variant | without | PSNR (dB) | SSIM | SAM (deg) |",
            "|---|---|---|---|---|",
            f"| cloudy input | | {identity['psnr']:.2f} | {identity['ssim']:.3f} | {identity['sam']:.2f} |",
        ]
        for variant in variants:
            runs = [s["sets"][set_name]["model"] for s in rows if s["variant"] == variant.name]
            if runs:
                ssim = [r["ssim"] for r in runs]
                spread = f" ± {statistics.stdev(ssim):.3f}" if len(ssim) > 1 else ""
                ssim_text = f"{statistics.mean(ssim):.3f}{spread}"
                lines.append(
                    f"| {variant.name} | {variant.what} | {_mean_std([r['psnr'] for r in runs])} | "
                    f"{ssim_text} | {_mean_std([r['sam'] for r in runs])} |"
                )
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Command line: train and score every variant, print the table and write it to OUT/ablation.md."""
    parser = argparse.ArgumentParser(prog="python -m ibhfn.train.ablation", description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="SEN12MS-CR-layout root (train, val, test splits)")
    parser.add_argument("--out", type=Path, required=True, help="one run folder per variant and seed")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=Budget.steps)
    parser.add_argument("--batch-size", type=int, default=Budget.batch_size)
    parser.add_argument("--crop", type=int, default=Budget.crop)
    parser.add_argument("--clear-input", type=float, default=Budget.clear_input)
    parser.add_argument("--s1-dropout", type=float, default=Budget.s1_dropout)
    parser.add_argument("--variants", nargs="+", choices=[v.name for v in VARIANTS], default=None)
    parser.add_argument("--shared", type=Path, default=Path("../shared"), help="the real data folder's parent")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    variants = VARIANTS if args.variants is None else tuple(v for v in VARIANTS if v.name in args.variants)
    budget = Budget(
        steps=args.steps,
        batch_size=args.batch_size,
        crop=args.crop,
        clear_input=args.clear_input,
        s1_dropout=args.s1_dropout,
    )
    scores = run_ablation(
        args.data,
        args.out,
        seeds=args.seeds,
        budget=budget,
        eval_sets=default_eval_sets(args.data, args.shared),
        variants=variants,
        jobs=args.jobs,
    )
    text = table(scores, variants)
    print(text)
    with atomic_path(args.out / "ablation.md") as tmp:
        tmp.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
