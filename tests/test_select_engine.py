"""Selectors inside an engine run: exact quotas on the output, and the ledger accounts for the rest."""

from __future__ import annotations

from collections import Counter

from synthloop import engine
from synthloop.engine.recipe import Recipe
from synthloop.formats.parquet import read_samples, write_samples
from synthloop.sample import new_sample


def test_stratified_then_token_budget_through_the_engine(tmp_path):
    qtypes = ["count"] * 60 + ["color"] * 30 + ["ocr"] * 10
    samples = [new_sample(f"s{i:03d}", [{"role": "user", "content": "q " * (1 + i % 5)},
                                        {"role": "assistant", "content": "a"}], qtype=q, source="world", task="vqa")
               for i, q in enumerate(qtypes)]
    write_samples(samples, tmp_path / "pool")
    recipe = Recipe.model_validate({
        "inputs": [{"format": "parquet", "path": str(tmp_path / "pool")}],
        "ops": [{"stratified": {"by": "qtype", "proportions": {"count": 0.5, "color": 0.3, "ocr": 0.2},
                                "budget": 40}},
                {"random": {"budget_tokens": 100}}],
        "output": {"path": str(tmp_path / "a" / "out")}, "run_dir": str(tmp_path / "a" / "run"), "seed": 5})
    ledger = engine.run(recipe, progress=False)
    kept = list(read_samples(tmp_path / "a" / "out"))
    assert ledger["input"] == 100 and ledger["output"] == len(kept)
    assert ledger["input"] == ledger["output"] + ledger["dropped"] + ledger["quarantined"]
    by_op = {op["op"]: op for op in ledger["ops"]}
    assert (by_op["stratified"]["in"], by_op["stratified"]["kept"]) == (100, 40)
    tokens = sum(sum(len(m["content"].split()) for m in s["messages"]) for s in kept)
    assert tokens <= 100 and by_op["random"]["kept"] == len(kept) < 40
    # the same seed gives the same selection
    again = Recipe.model_validate({**recipe.model_dump(), "run_dir": str(tmp_path / "b" / "run"),
                                   "output": {"path": str(tmp_path / "b" / "out")}})
    engine.run(again, progress=False)
    assert [s["id"] for s in read_samples(tmp_path / "b" / "out")] == [s["id"] for s in kept]


def test_stratified_quotas_exact_through_the_engine(tmp_path):
    qtypes = ["count"] * 60 + ["color"] * 30 + ["ocr"] * 10
    samples = [new_sample(f"s{i:03d}", [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
                          qtype=q) for i, q in enumerate(qtypes)]
    write_samples(samples, tmp_path / "pool")
    recipe = Recipe.model_validate({
        "inputs": [{"format": "parquet", "path": str(tmp_path / "pool")}],
        "ops": [{"stratified": {"by": "qtype", "budget": 30}}],
        "output": {"path": str(tmp_path / "out")}, "run_dir": str(tmp_path / "run")})
    engine.run(recipe, progress=False)
    assert Counter(s["qtype"] for s in read_samples(tmp_path / "out")) == {"count": 10, "color": 10, "ocr": 10}
