"""Turns ibhfn's exceptions and Python's warnings into the one-line messages (and exit code) every CLI promises."""

from __future__ import annotations

import contextlib
import functools
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import TypeVar

from ibhfn.errors import IbhfnError, InputError

F = TypeVar("F", bound=Callable[..., object])


def print_error(message: object) -> None:
    """Print one `error: <message>` line on stderr: a problem that stops the tool, or one item of a batch."""
    print(f"error: {message}", file=sys.stderr)


@contextlib.contextmanager
def one_line_errors() -> Iterator[None]:
    """Print an IbhfnError raised inside as `error: <message>` on stderr and exit with its code."""
    try:
        yield
    except IbhfnError as exc:
        print_error(exc)
        raise SystemExit(exc.exit_code) from None


def report_errors(func: F) -> F:
    """Run a CLI command; print an IbhfnError as `error: <message>` and exit with its code."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with one_line_errors():
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: object = None,
    line: str | None = None,
) -> None:
    """Print a Python warning as one `warning: <message>` line on stderr, without its source line.

    The line goes out in one write, so that processes sharing stderr (`ibhfn-run --jobs`) never mix lines.
    """
    sys.stderr.write(f"warning: {' '.join(str(message).split())}\n")
    sys.stderr.flush()


def one_line_warnings(func: F) -> F:
    """Run a CLI command with every Python warning shown as one line, as its errors are."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def check_threads(threads: int | None) -> None:
    """Refuse a torch thread count below 1 (torch raises a RuntimeError on it)."""
    if threads is not None and threads < 1:
        raise InputError(f"--threads must be at least 1, got {threads}")
