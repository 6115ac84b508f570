"""`synthloop run RECIPE [--resume | --force]`: run a curation recipe and print its funnel."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from synthloop.cli.app import app, fail
from synthloop.engine import Ledger, Recipe, RecipeError
from synthloop.engine import run as run_recipe
from synthloop.models.protocols import ModelError


@app.command()
def run(
    recipe: Path = typer.Argument(..., help="Recipe YAML: inputs, ops, output, run_dir, executor, seed."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in run_dir where it stopped."),
    force: bool = typer.Option(False, "--force", help="Start over: remove what an earlier run in run_dir wrote "
                               "(output, dropped, quarantine, stages; the model cache stays)."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Fetch again the URLs that failed in the "
                                      "finished run in run_dir and merge them into its output."),
) -> None:
    """Run a recipe: stream the inputs through its ops, write the output, the audit and the ledger."""
    try:
        parsed = Recipe.from_yaml(recipe, check_files=True)
        ledger = run_recipe(parsed, resume=resume, force=force, retry_failed=retry_failed)
    except (RecipeError, ModelError, OSError, ValueError) as err:
        fail(" ".join(str(err).split()))
    print_funnel(ledger, parsed)


def print_funnel(ledger: Ledger, recipe: Recipe) -> None:
    table = Table(title="funnel")
    for column in ("op", "in", "kept", "dropped", "quarantined", "added"):
        table.add_column(column, justify="left" if column == "op" else "right")
    for entry in ledger["ops"]:
        table.add_row(entry["op"], *(f"{entry[key]:,}" for key in ("in", "kept", "dropped", "quarantined", "added")))
    console = Console()
    console.print(table)
    console.print(f"input {ledger['input']:,} -> output {ledger['output']:,} "
                  f"(dropped {ledger['dropped']:,}, quarantined {ledger['quarantined']:,}, added {ledger['added']:,})")
    console.print(f"output: {recipe.output.path}  dropped: {ledger['dropped_path']}  "
                  f"quarantine: {ledger['quarantine_path']}  ledger: {Path(recipe.run_dir) / 'ledger.json'}")
