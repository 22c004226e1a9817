"""One ibhfn command in a fresh Python process: its wall time and its own peak RSS.

Linux's VmHWM restarts at exec, so the child reports its own high-water mark (ru_maxrss would
charge it the RSS its parent had when it forked). Linux only.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass

PEAK_MARKER = "PEAK_RSS_MB="
RUN_AND_REPORT_PEAK = f"""
import runpy, sys
module = sys.argv.pop(1)
try:
    runpy.run_module(module, run_name="__main__")
finally:
    hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    print("{PEAK_MARKER}" + str(int(hwm.split()[1]) / 1024), file=sys.stderr)
"""  # runs `python -m <module> <args>`, then prints its own peak RSS in MB on stderr


@dataclass(frozen=True)
class ChildRun:
    """What one command cost."""

    seconds: float  # wall time, interpreter start included
    peak_rss_mb: float
    stdout: str


def run_child(module: str, *args: str) -> ChildRun:
    """`python -m module args` in a fresh process; SystemExit with its stderr when it fails."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", RUN_AND_REPORT_PEAK, module, *args], capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"python -m {module} {' '.join(args)} failed:\n{done.stderr[-4000:]}")
    report = next(line for line in done.stderr.splitlines() if line.startswith(PEAK_MARKER))
    return ChildRun(seconds, float(report[len(PEAK_MARKER) :]), done.stdout)
