import platform
import subprocess
import sys

import pytest

FREED_BYTES = """
import numpy as np
from ibhfn.runtime.malloc import map_large_arrays

def rss():
    return next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith("VmRSS:"))

if {fixed}:
    assert map_large_arrays()
np.ones(30 << 17)                # freed at once: a 30 MB mapping: glibc now serves smaller arrays from its heap
before = rss()
large = np.ones(20 << 17)        # 20 MB
small = np.ones(64 << 10)        # 512 kB above it, so the heap cannot shrink from the top
del large
print(rss() - before)
"""

glibc_only = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt's threshold is glibc's")


def bytes_kept_after_free(fixed: bool) -> int:
    done = subprocess.run(
        [sys.executable, "-c", FREED_BYTES.format(fixed=fixed)], capture_output=True, text=True, check=True
    )
    return int(done.stdout)


@glibc_only
def test_a_freed_large_array_goes_back_to_the_system():
    assert bytes_kept_after_free(fixed=True) < 5 << 20


@glibc_only
def test_without_it_glibc_keeps_the_freed_array():
    """The check above can fail: glibc's own behaviour keeps the 20 MB."""
    assert bytes_kept_after_free(fixed=False) > 15 << 20
