"""IB-HFN: SAR-assisted optical cloud removal, and the toolkit that deploys it.

This package root stays free of heavy imports: `import ibhfn.runtime` on a Jetson must not pull
torch, so the network lives in `ibhfn.model` and is imported only where it is used.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ibhfn")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
