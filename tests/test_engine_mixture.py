import json
from pathlib import Path

import numpy as np
import pytest

from synthloop.engine import Recipe, RecipeError, run
from synthloop.engine.mixture import chosen_positions, draw_count
from synthloop.formats.parquet import read_samples


def write_source(folder, name, n):
    """A LLaVA JSON file of `n` text-only samples `<name>_<i>`."""
    records = [{"id": f"{name}_{i}", "conversations": [{"from": "human", "value": f"Question {i} of {name}?"},
                                                      {"from": "gpt", "value": f"Answer {i}."}]} for i in range(n)]
    path = folder / f"{name}.json"
    path.write_text(json.dumps(records))
    return str(path)


def mixture(tmp_path, seed=0, run_name="run", **limits):
    a, b, c = (write_source(tmp_path, name, n) for name, n in (("a", 50), ("b", 30), ("c", 20)))
    recipe = Recipe.model_validate({
        "inputs": [{"format": "llava", "path": a, "weight": limits.get("weight", 0.3)},
                   {"format": "llava", "path": b, "cap": limits.get("cap", 10)},
                   {"format": "llava", "path": c}],
        "output": {"format": "parquet", "path": str(tmp_path / run_name / "out")},
        "run_dir": str(tmp_path / run_name / "rundir"), "executor": {"workers": 1, "batch_size": 4, "shard_rows": 8},
        "seed": seed})
    ledger = run(recipe, progress=False)
    return ledger, [s["id"] for s in read_samples(tmp_path / run_name / "out")]


def test_three_sources_give_exactly_their_weight_cap_and_all(tmp_path):
    ledger, ids = mixture(tmp_path)
    by_source = {name: [i for i in ids if i.startswith(name + "_")] for name in "abc"}
    assert [len(by_source[name]) for name in "abc"] == [15, 10, 20]  # round(0.3 * 50), cap 10, all 20
    assert by_source["c"] == [f"c_{i}" for i in range(20)]  # an unlimited source is read whole, in order
    assert by_source["a"] == sorted(by_source["a"], key=lambda i: int(i.split("_")[1]))  # drawn, in file order
    assert [(s["available"], s["drawn"]) for s in ledger["sources"]] == [(50, 15), (30, 10), (20, 20)]
    assert ledger["input"] == ledger["output"] == 45


def test_a_mixture_is_reproducible_by_seed(tmp_path):
    _, first = mixture(tmp_path, seed=1, run_name="one")
    _, again = mixture(tmp_path, seed=1, run_name="two")
    _, other = mixture(tmp_path, seed=2, run_name="three")
    assert first == again
    assert first != other and len(first) == len(other)


def test_draws_are_exact_and_uniform_over_positions():
    assert draw_count(1000, 0.25, None) == 250 and draw_count(1000, 0.25, 100) == 100 and draw_count(7, None, 0) == 0
    hits = np.zeros(100)
    for seed in range(400):
        mask = chosen_positions((f"s_{i}" for i in range(100)), seed, 0.1, None)
        assert mask.sum() == 10
        hits += mask
    assert hits.min() > 15 and hits.max() < 70  # every position is drawn about 40 times in 400


@pytest.mark.parametrize("limit", [{"weight": 0}, {"weight": 1.5}, {"cap": -1}])
def test_bad_limits_are_recipe_errors(tmp_path, limit):
    with pytest.raises((RecipeError, ValueError)):
        Recipe.model_validate({"inputs": [{"format": "llava", "path": "x.json", **limit}],
                               "output": {"path": str(tmp_path / "o")}, "run_dir": str(tmp_path / "r")})


def test_the_llava15_mix_recipe_validates():
    recipe = Recipe.from_yaml(Path(__file__).parent.parent / "recipes" / "mix_llava15.yaml")
    assert sum(spec.cap for spec in recipe.inputs) == 624_000 and all(spec.weight is None for spec in recipe.inputs)
