"""Progress that tells the truth: totals from Parquet metadata, a rate that is not stuck at 0."""

from rich.progress import Progress
from test_engine_fixtures import noisy_samples, recipe_dict, write_dataset

from synthloop.engine import Recipe
from synthloop.engine.driver import _RateColumn
from synthloop.engine.inputs import known_total


def test_parquet_inputs_give_their_total_from_metadata(tmp_path):
    data = write_dataset(tmp_path / "data", noisy_samples(37), shard_rows=10)  # 4 files
    recipe = Recipe.model_validate(recipe_dict(tmp_path, data, []))
    assert known_total(recipe.inputs) == 37
    drawn = recipe_dict(tmp_path, data, [])
    drawn["inputs"][0]["cap"] = 5
    assert known_total(Recipe.model_validate(drawn).inputs) is None  # a draw is counted while reading


def test_rate_is_samples_over_elapsed_time():
    progress = Progress(disable=True)
    task_id = progress.add_task("x", total=100)
    task = progress.tasks[task_id]
    assert _RateColumn().render(task).plain == "- samples/s"
    progress.advance(task_id, 100)  # one update, as one shard's result: rich's own speed has no estimate yet
    task.finished_time = 4.0
    assert _RateColumn().render(task).plain == "25 samples/s"
