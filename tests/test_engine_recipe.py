import pytest
import test_engine_fixtures  # noqa: F401  (registers the t_ ops)

from synthloop.engine import Recipe, RecipeError
from synthloop.engine.yaml_lines import load_yaml_with_lines
from test_engine_fixtures import MinWords

GOOD = """\
inputs:
  - {format: parquet, path: data/}
ops:
  - t_min_words: {min_words: 2}
  - t_text_dedup: {}
output: {format: parquet, path: out/}
run_dir: runs/x
executor: {workers: 2, batch_size: 64}
seed: 3
"""


def write(tmp_path, text):
    path = tmp_path / "recipe.yaml"
    path.write_text(text)
    return path


def error_of(tmp_path, text) -> str:
    with pytest.raises(RecipeError) as info:
        Recipe.from_yaml(write(tmp_path, text))
    return str(info.value)


def test_good_recipe_resolves_op_defaults(tmp_path):
    recipe = Recipe.from_yaml(write(tmp_path, GOOD))
    assert recipe.ops == [{"t_min_words": {"min_words": 2}}, {"t_text_dedup": {}}]
    assert recipe.executor.workers == 2 and recipe.executor.rows_per_shard == 8 * 64
    assert [type(op).__name__ for op in recipe.build_ops()] == ["MinWords", "TextDedup"]
    assert recipe.seed == 3


def test_unknown_key_names_key_and_line(tmp_path):
    text = GOOD.replace("executor: {workers: 2, batch_size: 64}", "executor:\n  workers: 2\n  batchsize: 64")
    message = error_of(tmp_path, text)
    assert message == f"{tmp_path / 'recipe.yaml'} line 10: executor.batchsize: unknown key"


def test_unknown_top_level_key(tmp_path):
    assert error_of(tmp_path, GOOD + "sed: 1\n").endswith("line 10: sed: unknown key")


def test_bad_op_parameter_names_op_key_and_line(tmp_path):
    text = GOOD.replace("t_min_words: {min_words: 2}", "t_min_words:\n      min_words: many")
    message = error_of(tmp_path, text)
    assert "line 5: ops[0].t_min_words.min_words: Input should be a valid integer" in message


def test_unknown_op_parameter(tmp_path):
    text = GOOD.replace("t_text_dedup: {}", "t_text_dedup: {on: text}")
    assert "line 5: ops[1].t_text_dedup.on: unknown key" in error_of(tmp_path, text)


def test_unknown_op_lists_known_ops(tmp_path):
    message = error_of(tmp_path, GOOD.replace("t_text_dedup", "t_nope"))
    assert "line 5: ops[1].t_nope: unknown op 't_nope'; known ops:" in message
    assert "t_text_dedup" in message


def test_bad_value_and_missing_field(tmp_path):
    assert "line 8: executor.workers: Input should be greater than or equal to 0" in error_of(
        tmp_path, GOOD.replace("workers: 2", "workers: -1"))
    assert ": run_dir: Field required" in error_of(tmp_path, GOOD.replace("run_dir: runs/x\n", ""))
    assert "line 2: inputs[0].format: unknown input format 'csv'" in error_of(
        tmp_path, GOOD.replace("format: parquet, path: data/", "format: csv, path: data/"))


def test_a_model_ops_uri_is_checked_when_the_recipe_is_read(tmp_path):
    text = GOOD.replace("t_text_dedup: {}", "caption: {model: 'llava-hf/llava-1.5-7b-hf'}")
    assert error_of(tmp_path, text).endswith("line 5: ops[1].caption.model: model URI 'llava-hf/llava-1.5-7b-hf': "
                                             "expected one of builtin:, hf:, openai:, pkg:, py:...")


def test_invalid_yaml_names_line(tmp_path):
    assert "line 3: invalid YAML" in error_of(tmp_path, "inputs: [\nops: {\n  - x: ]\n")


def test_missing_file(tmp_path):
    assert "no-such.yaml" in str(pytest.raises(RecipeError, Recipe.from_yaml, tmp_path / "no-such.yaml").value)


def test_hash_tracks_what_decides_the_output(tmp_path):
    base = Recipe.from_yaml(write(tmp_path, GOOD))
    same = Recipe.from_yaml(write(tmp_path, GOOD.replace("workers: 2", "workers: 1")))
    changed = Recipe.from_yaml(write(tmp_path, GOOD.replace("min_words: 2", "min_words: 3")))
    assert base.resolved_hash() == same.resolved_hash()
    assert base.resolved_hash() != changed.resolved_hash()
    assert len(base.resolved_hash()) == 16


def test_ops_built_in_code_are_accepted():
    recipe = Recipe.model_validate({"inputs": [{"path": "d"}], "ops": [MinWords(min_words=4)],
                                    "output": {"path": "o"}, "run_dir": "r"})
    assert recipe.ops == [{"t_min_words": {"min_words": 4}}]
    assert recipe.inputs[0].format == "parquet"


def test_yaml_lines_cover_nested_keys_and_items():
    _, lines = load_yaml_with_lines(GOOD)
    assert lines[("ops", 1)] == 5 and lines[("ops", 0, "t_min_words", "min_words")] == 4
    assert lines[("executor", "batch_size")] == 8


def test_yaml_on_off_yes_no_stay_strings():
    data, _ = load_yaml_with_lines("a: {on: image, off: yes, b: true, c: no}\n")
    assert data == {"a": {"on": "image", "off": "yes", "b": True, "c": "no"}}


def test_executor_kind_is_local_by_default_and_an_unknown_kind_names_the_known_ones(tmp_path):
    recipe = Recipe.from_yaml(write(tmp_path, GOOD))
    explicit = Recipe.from_yaml(write(tmp_path, GOOD.replace("{workers: 2,", "{kind: local, workers: 2,")))
    assert recipe.executor.kind == explicit.executor.kind == "local"
    assert recipe.resolved()["executor"] == {"kind": "local", "workers": 2, "batch_size": 64, "shard_rows": None}
    message = error_of(tmp_path, GOOD.replace("{workers: 2,", "{kind: spark, workers: 2,"))
    assert "line 8: executor.kind: unknown executor kind 'spark'; known: local, ray" in message


def test_kind_ray_without_ray_installed_says_how_to_install_it(tmp_path, monkeypatch):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else find_spec(name, *a))
    message = error_of(tmp_path, GOOD.replace("{workers: 2,", "{kind: ray,"))
    assert "line 8: executor.kind: executor kind ray needs Ray, which is not installed: pip install 'synthloop[ray]'" \
        in message and "\n" not in message


def test_the_recipe_hash_ignores_where_and_how_many_workers_run(tmp_path):
    one = Recipe.from_yaml(write(tmp_path, GOOD))
    other = Recipe.from_yaml(write(tmp_path, GOOD.replace("{workers: 2,", "{kind: local, workers: 0,")))
    resized = Recipe.from_yaml(write(tmp_path, GOOD.replace("batch_size: 64", "batch_size: 32")))
    assert one.resolved_hash() == other.resolved_hash() != resized.resolved_hash()
