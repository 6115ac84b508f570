"""`synthloop loop RECIPE`: the closed loop with its baseline arm."""

from __future__ import annotations

from pathlib import Path

import typer

from synthloop.cli.app import app, fail


@app.command()
def loop(recipe: Path = typer.Argument(..., help="Loop recipe YAML (see synthloop.loop.recipe).")) -> None:
    """Train on the curated seed pool, then run targeted synthesis rounds beside a uniform baseline arm."""
    import synthloop.lab.probes  # noqa: F401  (a recipe's training settings may name the lab's auxiliary losses)
    from synthloop.loop.recipe import LoopRecipe, LoopRecipeError
    from synthloop.loop.rounds import LoopRunError, run_loop

    try:
        parsed = LoopRecipe.from_yaml(recipe)
    except LoopRecipeError as err:
        fail(str(err))
    try:
        result = run_loop(parsed, log=typer.echo)
    except LoopRunError as err:
        fail(str(err))
    for entry in result["rounds"]:
        typer.echo(f"round {entry['round']} {entry['arm']:8s} overall {entry['overall']:.3f}")
    typer.echo(f"wrote {Path(parsed.run_dir) / 'loop.json'}")
