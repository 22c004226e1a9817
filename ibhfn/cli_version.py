"""`--version` for every CLI: the versions of ibhfn and the libraries it runs on (`ibhfn.versions`)."""

from __future__ import annotations

from typing import Annotated

import typer

from ibhfn.versions import version_lines


def _print_versions(value: bool) -> None:
    if value:
        typer.echo("\n".join(version_lines()))
        raise typer.Exit()


VersionOption = Annotated[
    bool,
    typer.Option(
        "--version",
        callback=_print_versions,
        is_eager=True,
        help="Print the versions of ibhfn, Python and the libraries it runs on, and exit.",
    ),
]
