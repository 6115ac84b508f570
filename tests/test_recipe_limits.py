"""Hostile recipes: duplicate keys, alias bombs, deep nesting, huge integers, bad bytes, missing inputs.

Each gives one RecipeError line naming the file, the line and the key; none gives a traceback.
"""

import json

import pytest
import test_engine_fixtures  # noqa: F401  (registers the t_ ops)
from typer.testing import CliRunner

from synthloop.cli import app
from synthloop.engine import Recipe, RecipeError
from synthloop.engine.yaml_lines import MAX_DEPTH, MAX_NODES

HEAD = "inputs:\n  - {format: parquet, path: data/}\noutput: {path: out/}\nrun_dir: runs/x\n"


def error_of(tmp_path, text: str | bytes) -> str:
    path = tmp_path / "recipe.yaml"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    with pytest.raises(RecipeError) as info:
        Recipe.from_yaml(path)
    message = str(info.value)
    assert message.startswith(str(path)) and "\n" not in message
    return message.removeprefix(str(path))


def test_duplicate_key_is_refused_with_both_lines(tmp_path):
    assert error_of(tmp_path, HEAD + "seed: 1\nseed: 2\n") == " line 6: seed: duplicate key (first at line 5)"
    nested = HEAD + "executor: {workers: 1, workers: 2}\n"
    assert error_of(tmp_path, nested) == " line 5: executor.workers: duplicate key (first at line 5)"


def test_billion_laughs_is_refused_before_expansion(tmp_path):
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    message = error_of(tmp_path, HEAD + "\n".join(lines) + "\n")
    assert f"aliases expand to more than {MAX_NODES} nodes" in message and message.startswith(" line ")


def test_small_aliases_still_work(tmp_path):
    text = HEAD.replace("path: data/}", "path: data/}\n  - &second {format: parquet, path: more/}") + "x: *second\n"
    assert "x: unknown key" in error_of(tmp_path, text)  # expanded and validated as usual


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 20_000])
def test_deep_nesting_is_refused(tmp_path, depth):
    message = error_of(tmp_path, HEAD + "x: " + "[" * depth + "]" * depth + "\n")
    assert message == f" line 5: nested more than {MAX_DEPTH} levels deep"


@pytest.mark.parametrize("seed, problem", [
    (2**70, f"seed: integer {2**70} does not fit in 64 bits"),
    (-1, "seed: Input should be greater than or equal to 0"),
])
def test_seed_bounds(tmp_path, seed, problem):
    assert error_of(tmp_path, HEAD + f"seed: {seed}\n") == f" line 5: {problem}"


def test_huge_integer_inside_op_parameters(tmp_path):
    text = HEAD + "ops:\n  - t_min_words: {min_words: 99999999999999999999999}\n"
    assert error_of(tmp_path, text) == (" line 6: ops[0].t_min_words.min_words: integer 99999999999999999999999 "
                                        "does not fit in 64 bits")


def test_worker_count_is_bounded(tmp_path):
    assert "executor.workers: Input should be less than or equal to 512" in error_of(
        tmp_path, HEAD + "executor: {workers: 1000000}\n")


def test_non_utf8_recipe_names_the_line(tmp_path):
    assert error_of(tmp_path, HEAD.encode() + b"seed: \xff\n") == f" line 5: not valid UTF-8 (byte {len(HEAD) + 6})"


def test_missing_input_leaves_the_run_folder_usable(tmp_path):
    data = tmp_path / "data.jsonl"
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"inputs:\n  - {{format: llava, path: {data}}}\nops:\n  - answer_nonempty: {{}}\n"
                      f"output: {{path: {tmp_path / 'out'}}}\nrun_dir: {tmp_path / 'run'}\n")
    result = CliRunner().invoke(app, ["run", str(recipe)])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert f"{recipe} line 2: inputs[0].path: {data}: no such file or folder" in " ".join(result.output.split())
    assert not (tmp_path / "run").exists()
    data.write_text(json.dumps({"id": "a", "conversations": [{"from": "human", "value": "hi"},
                                                            {"from": "gpt", "value": "yo"}]}) + "\n")
    result = CliRunner().invoke(app, ["run", str(recipe)])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "run" / "ledger.json").read_text())["output"] == 1
