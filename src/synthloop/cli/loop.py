"""`synthloop loop RECIPE`: the closed loop with its baseline arm."""

from __future__ import annotations

from pathlib import Path

import typer

from synthloop.cli.app import app, fail
from synthloop.loop import recipe as loop_recipe


def _schema() -> str:
    """The loop recipe's YAML schema, as the recipe module documents it (kept verbatim in --help)."""
    block = loop_recipe.__doc__.split("```yaml\n", 1)[1].split("```", 1)[0]
    return "\b\n" + block.rstrip()


@app.command(help="Train on the curated seed pool, then run targeted synthesis rounds beside a uniform baseline "
                  "arm.\n\nThe recipe (YAML; unknown keys are errors naming the key and line):\n\n" + _schema())
def loop(recipe: Path = typer.Argument(..., help="Loop recipe YAML (schema above; recipes/loop_world.yaml)."),
         resume: bool = typer.Option(False, help="Continue a killed run in the recipe's run_dir from its last "
                                                 "finished step (same output as an uninterrupted run).")) -> None:
    import synthloop.lab.loop_world  # noqa: F401  (registers the world's pools and synthesizer)

    import synthloop.lab.probes  # noqa: F401  (a recipe's training settings may name the lab's auxiliary losses)
    from synthloop.loop.recipe import LoopRecipe, LoopRecipeError
    from synthloop.loop.rounds import LoopRunError, run_loop
    from synthloop.loop.serving import ServeError
    from synthloop.models.protocols import ModelError
    from synthloop.train.trainers import TrainerError

    try:
        parsed = LoopRecipe.from_yaml(recipe)
    except LoopRecipeError as err:
        fail(str(err))
    try:
        result = run_loop(parsed, log=typer.echo, resume=resume)
    except LoopRunError as err:
        fail(str(err))
    except (TrainerError, ServeError, ModelError) as err:
        fail(f"{err} (once fixed, --resume continues from the last finished step)")
    for entry in result["rounds"]:
        typer.echo(f"round {entry['round']} {entry['arm']:8s} overall {entry['overall']:.3f}")
    typer.echo(f"wrote {Path(parsed.run_dir) / 'loop.json'}")
