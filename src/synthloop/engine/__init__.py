"""The recipe engine: `run(recipe, resume=False) -> Ledger` (see driver, executors, recipe, ledger, rundir)."""

from synthloop.engine.driver import run
from synthloop.engine.ledger import Ledger
from synthloop.engine.recipe import Recipe, RecipeError
from synthloop.engine.rundir import RunDirError

__all__ = ["Ledger", "Recipe", "RecipeError", "RunDirError", "run"]
