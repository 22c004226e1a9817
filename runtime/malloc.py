"""glibc's malloc, told to hand large arrays back to the system as soon as they are freed.

glibc maps a large allocation on its own, but each time such a mapping is freed it raises the size
below which later allocations come from its heap instead (up to 32 MB). The pipeline's block
arrays are just under that and vary in width, so the heap fragments and the peak RSS grows with
the scene's width rather than with the live data. A fixed threshold keeps every large array in
its own mapping. Where the C library has no `mallopt` this does nothing.
"""

from __future__ import annotations

import ctypes

M_MMAP_THRESHOLD = -3  # mallopt parameter, from glibc's malloc.h
LARGE_BYTES = 8 << 20  # block-sized arrays; smaller, tile-sized ones come and go from the heap without harm


def map_large_arrays() -> bool:
    """Serve every allocation of LARGE_BYTES or more from its own mapping; True where that took effect."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):  # no mallopt (macOS, musl) or no process handle (Windows)
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(M_MMAP_THRESHOLD, LARGE_BYTES))
