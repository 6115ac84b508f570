"""The typer application every `synthloop.cli.<area>` module registers its commands on."""

from __future__ import annotations

from importlib.metadata import version
from typing import NoReturn

import typer
from rich.console import Console

app = typer.Typer(
    name="synthloop",
    help="A closed-loop data engine for multimodal training data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console(stderr=True)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"synthloop {version('synthloop')}")
        raise typer.Exit()


@app.callback()
def main(
    show_version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                      help="Print the version and exit."),
) -> None:
    """A closed-loop data engine for multimodal training data."""


def fail(message: str, code: int = 2) -> NoReturn:
    """Exit non-zero with one line that says what is wrong."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)
