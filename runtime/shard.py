"""`--shard auto`: which share of a batch this process runs, read from the scheduler that started it.

Batch restoration is embarrassingly parallel, so ibhfn leaves the spreading to the schedulers users
already run: a Slurm job array (`SLURM_ARRAY_TASK_ID`, with `SLURM_ARRAY_TASK_MIN`/`MAX`/`STEP` or
`SLURM_ARRAY_TASK_COUNT`) or a Kubernetes Indexed Job (`JOB_COMPLETION_INDEX`, whose count the Job
does not expose, so it comes from `--shard-count` or `IBHFN_SHARD_COUNT`). Each task computes the
same split from the scene names (`pairing.shard`), so no coordinator is needed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from ibhfn.errors import InputError

AUTO = "auto"
COUNT_VARIABLE = "IBHFN_SHARD_COUNT"
SLURM_ID = "SLURM_ARRAY_TASK_ID"
KUBERNETES_INDEX = "JOB_COMPLETION_INDEX"


def parse_shard(
    value: str | None, count: int | None = None, environ: Mapping[str, str] | None = None
) -> tuple[int, int] | None:
    """`--shard i/n` (0-based i), or `auto` / `auto/n` read from the scheduler's variables; None without one.

    `count` (`--shard-count`) gives the number of tasks where the scheduler does not (Kubernetes).
    """
    if value is None:
        if count is not None:
            raise InputError("--shard-count goes with --shard auto")
        return None
    head, _, tail = value.partition("/")
    if head.strip().lower() == AUTO:
        if tail:
            count = _whole(tail, f"--shard {value}")
        return from_scheduler(os.environ if environ is None else environ, count)
    if count is not None:
        raise InputError("--shard-count goes with --shard auto; --shard i/n names its count")
    if not tail:
        raise InputError(f"--shard {value!r} is not of the form i/n (for example 0/4) or auto")
    return _whole(head, f"--shard {value}"), _whole(tail, f"--shard {value}")  # pairing.shard checks them


def from_scheduler(environ: Mapping[str, str], count: int | None = None) -> tuple[int, int]:
    """(index, count) of this task in a Slurm job array or a Kubernetes Indexed Job; InputError if neither."""
    slurm, kubernetes = environ.get(SLURM_ID), environ.get(KUBERNETES_INDEX)
    if slurm is not None and kubernetes is not None:
        raise InputError(
            f"--shard auto: both {SLURM_ID} and {KUBERNETES_INDEX} are set; unset the one that is "
            "not this job's, or give --shard i/n"
        )
    if slurm is not None:
        return _slurm(environ, count)
    if kubernetes is not None:
        index = _whole(kubernetes, KUBERNETES_INDEX)
        if count is None and environ.get(COUNT_VARIABLE):
            count = _whole(environ[COUNT_VARIABLE], COUNT_VARIABLE)
        if count is None:
            raise InputError(
                f"--shard auto: {KUBERNETES_INDEX} is set but not how many tasks share the batch; "
                f"give --shard-count N or set {COUNT_VARIABLE} to the Job's completions"
            )
        return _checked(index, count, f"{KUBERNETES_INDEX}={index}")
    raise InputError(
        f"--shard auto: neither {SLURM_ID} (a Slurm job array) nor {KUBERNETES_INDEX} (a Kubernetes "
        "Indexed Job) is set; run it as an array task or give --shard i/n"
    )


def _slurm(environ: Mapping[str, str], count: int | None) -> tuple[int, int]:
    """A Slurm array task's 0-based position in its array (`--array=MIN-MAX[:STEP]`) and the array's size."""
    task = _whole(environ[SLURM_ID], SLURM_ID)
    given = environ.get("SLURM_ARRAY_TASK_COUNT")
    if environ.get("SLURM_ARRAY_TASK_MIN") and environ.get("SLURM_ARRAY_TASK_MAX"):
        low = _whole(environ["SLURM_ARRAY_TASK_MIN"], "SLURM_ARRAY_TASK_MIN")
        high = _whole(environ["SLURM_ARRAY_TASK_MAX"], "SLURM_ARRAY_TASK_MAX")
        step = _whole(environ.get("SLURM_ARRAY_TASK_STEP") or "1", "SLURM_ARRAY_TASK_STEP") or 1
        index, size = (task - low) // step, (high - low) // step + 1
        if (task - low) % step or (given and _whole(given, "SLURM_ARRAY_TASK_COUNT") != size):
            raise InputError(
                f"--shard auto: the Slurm array {low}-{high}:{step} is not one evenly stepped range "
                f"(task {task}, {given} tasks); submit it as --array=0-N"
            )
    elif given:
        index, size = task, _whole(given, "SLURM_ARRAY_TASK_COUNT")
    else:
        raise InputError(
            f"--shard auto: {SLURM_ID} is set without SLURM_ARRAY_TASK_COUNT or "
            "SLURM_ARRAY_TASK_MIN/MAX; run it under sbatch --array or give --shard i/n"
        )
    if count is not None and count != size:
        raise InputError(
            f"--shard auto: --shard-count {count} disagrees with the Slurm array's {size} tasks; "
            "leave --shard-count out"
        )
    return _checked(index, size, f"{SLURM_ID}={task}")


def _whole(text: str, what: str) -> int:
    """`text` as a whole number, or InputError naming `what`."""
    try:
        return int(text.strip())
    except ValueError:
        raise InputError(f"{what}: {text!r} is not a whole number") from None


def _checked(index: int, count: int, what: str) -> tuple[int, int]:
    """(index, count) when 0 <= index < count, else InputError naming where they came from."""
    if count < 1 or not 0 <= index < count:
        raise InputError(f"{what}: shard {index} of {count} is not valid; it needs 0 <= index < count")
    return index, count
