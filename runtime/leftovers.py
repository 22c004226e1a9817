"""Temporary files a killed run left in OUT (SIGKILL, a lost node), which `ibhfn-run --resume` removes.

A temporary file is named `.<final name>.partial-<pid>.<random>` (`ibhfn.atomic`), so the process
that wrote it is known: only files of the batch's own outputs whose process is no longer alive on
this host are removed, so that another shard's or another host's scenes are left alone.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from ibhfn.atomic import PARTIAL

_TEMPORARY = re.compile(rf"\.(?P<final>.+?){re.escape(PARTIAL)}(?P<pid>\d+)(\..*)?")


def alive(pid: int) -> bool:
    """Whether a process `pid` runs on this host (one of another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_partials(outputs: Iterable[Path]) -> list[Path]:
    """Remove the temporary files of `outputs` whose writing process is gone; return them."""
    finals = {Path(output) for output in outputs}
    removed = []
    for folder in sorted({final.parent for final in finals}):
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            match = _TEMPORARY.fullmatch(entry.name)
            if match and folder / match["final"] in finals and not alive(int(match["pid"])):
                Path(entry.path).unlink(missing_ok=True)
                removed.append(Path(entry.path))
    return removed
