import json

import test_engine_fixtures  # noqa: F401  (registers the t_ ops)
import yaml
from typer.testing import CliRunner

from synthloop.cli import app
from test_engine_fixtures import noisy_samples, recipe_dict, write_dataset


def test_run_prints_the_funnel_and_resumes(tmp_path):
    data = write_dataset(tmp_path / "data", noisy_samples(12))
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump(recipe_dict(tmp_path, data, [{"t_min_words": {"min_words": 11}}])))
    first = CliRunner().invoke(app, ["run", str(recipe)])
    assert first.exit_code == 0, first.output
    ledger = json.loads((tmp_path / "run" / "ledger.json").read_text())
    assert (ledger["input"], ledger["output"], ledger["dropped"]) == (12, 3, 9)  # 7 question words + 1..5 answer words
    assert "t_min_words" in first.stdout and "input 12 -> output 3 (dropped 9" in first.stdout
    again = CliRunner().invoke(app, ["run", str(recipe)])
    assert again.exit_code == 2 and "already holds a run" in again.output
    assert CliRunner().invoke(app, ["run", str(recipe), "--resume"]).exit_code == 0


def test_bad_recipe_is_one_line_naming_key_and_line(tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("inputs: [{path: d}]\nops:\n  - t_min_words: {min_wordz: 1}\noutput: {path: o}\nrun_dir: r\n")
    result = CliRunner().invoke(app, ["run", str(recipe)])
    assert result.exit_code == 2
    assert result.output == f"error: {recipe} line 3: ops[0].t_min_words.min_wordz: unknown key\n"
