"""The recipe engine: `run(recipe, resume=False) -> Ledger` (see executor, recipe, ledger, rundir)."""

from synthloop.engine.executor import run
from synthloop.engine.ledger import Ledger
from synthloop.engine.recipe import Recipe, RecipeError
from synthloop.engine.rundir import RunDirError

__all__ = ["Ledger", "Recipe", "RecipeError", "RunDirError", "run"]
