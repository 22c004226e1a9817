"""Evaluation: a network over a SEN12MS-CR split, as the literature reports it, beside "output = cloudy input".

Modules: `evaluation` (`evaluate(model, reader) -> EvaluationReport`, per ROI-season and per
cloud-coverage bucket; `evaluate_checkpoint(path, root, split)`, what `ibhfn-eval` runs, for a checkpoint or
an engine: `engine_network`), `table`
(the text table), `cli` (`ibhfn-eval`).

    report = evaluate(load_checkpoint("run/best.pt"), SEN12MSCR(root, "test"))
    print(report.table())
"""

from ibhfn.evaluate.evaluation import (
    IDENTITY,
    EvaluationReport,
    GroupResult,
    ImageScore,
    evaluate,
    evaluate_checkpoint,
    mean_metrics,
    score_images,
)
from ibhfn.evaluate.table import format_table

__all__ = [
    "IDENTITY",
    "EvaluationReport",
    "GroupResult",
    "ImageScore",
    "evaluate",
    "evaluate_checkpoint",
    "format_table",
    "mean_metrics",
    "score_images",
]
