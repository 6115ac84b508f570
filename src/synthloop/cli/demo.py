"""`synthloop demo`: the whole loop on the embedded default."""

from __future__ import annotations

from pathlib import Path

import typer

from synthloop.cli.app import app


@app.command()
def demo(out: Path = typer.Option(Path("runs/demo"), help="Run directory for every output.")) -> None:
    """Build a noisy seed pool, curate it, train TinyVLM, evaluate, run 2 loop rounds, write the report."""
    typer.echo(
        "synthloop demo will: render a seed pool with labelled noise, curate it, train TinyVLM, evaluate, "
        f"run 2 loop rounds beside a baseline arm and write {out}/report.html. Not built yet."
    )
