"""Turns ibhfn's exceptions into the one-line message and exit code every CLI promises."""

from __future__ import annotations

import functools
import sys
from typing import Callable, TypeVar

from ibhfn.errors import IbhfnError

F = TypeVar("F", bound=Callable[..., object])


def report_errors(func: F) -> F:
    """Run a CLI command; print an IbhfnError as `error: <message>` and exit with its code."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except IbhfnError as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise SystemExit(exc.exit_code) from None

    return wrapper  # type: ignore[return-value]
