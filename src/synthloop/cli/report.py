"""`synthloop report RUN_DIR`: the self-contained HTML report of a run."""

from __future__ import annotations

import typer

from synthloop.cli.app import app, fail


@app.command()
def report(run_dir: str = typer.Argument(..., help="A run directory (engine run, loop run or demo): a path or a "
                                          "URI (s3://, gs://, memory://, ...)."),
           out: str | None = typer.Option(None, help="Where to write the HTML (default RUN_DIR/report.html).")) -> None:
    """Write report.html: ledger funnels, score histograms, accuracy per round, data added, gallery, recipe."""
    from synthloop.report import write_report
    from synthloop.storage import Location, StorageError

    try:
        root, target = Location.of(run_dir), Location.of(out) if out is not None else None
    except StorageError as err:
        fail(str(err))
    if not root.is_dir():
        fail(f"{run_dir}: no such run directory")
    typer.echo(f"wrote {write_report(root, target)}")
