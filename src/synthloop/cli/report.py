"""`synthloop report RUN_DIR`: the self-contained HTML report of a run."""

from __future__ import annotations

from pathlib import Path

import typer

from synthloop.cli.app import app, fail


@app.command()
def report(run_dir: Path = typer.Argument(..., help="A run directory (engine run, loop run or demo)."),
           out: Path | None = typer.Option(None, help="Where to write the HTML (default RUN_DIR/report.html).")) -> None:
    """Write report.html: ledger funnels, score histograms, accuracy per round, data added, gallery, recipe."""
    from synthloop.report import write_report

    if not run_dir.is_dir():
        fail(f"{run_dir}: no such run directory")
    typer.echo(f"wrote {write_report(run_dir, out)}")
