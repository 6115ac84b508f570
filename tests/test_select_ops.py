"""Selector ops: exact quotas, budgets respected, band selection, diversity coverage."""

from __future__ import annotations

import numpy as np
import orjson
import pyarrow as pa
import pytest
from pydantic import ValidationError

from synthloop.ops import op_class
from synthloop.ops.select.diversity import coverage_radius
from synthloop.apportion import largest_remainder


def candidates(n: int, qtypes: list[str] | None = None, scores: list[dict] | None = None,
               tokens: list[int] | None = None, embedding: np.ndarray | None = None) -> pa.Table:
    columns = {
        "id": [f"s{i:04d}" for i in range(n)],
        "source": ["world" if i % 3 else "easy_vqa" for i in range(n)],
        "task": ["vqa"] * n,
        "qtype": qtypes or ["count"] * n,
        "scores": [orjson.dumps(s).decode() for s in (scores or [{}] * n)],
        "tokens": tokens or [10] * n,
    }
    if embedding is not None:
        columns["embedding"] = embedding.tolist()
    return pa.table(columns)


def make(name: str, **params):
    return op_class(name)(**params)


def test_largest_remainder_is_exact_and_capped():
    assert largest_remainder({"a": 1, "b": 1, "c": 1}, 10) == {"a": 4, "b": 3, "c": 3}
    assert largest_remainder({"a": 0.5, "b": 0.3, "c": 0.2}, 7) == {"a": 4, "b": 2, "c": 1}
    # b can give only 1, so its shortfall goes to a and c in proportion 1:1
    assert largest_remainder({"a": 1, "b": 1, "c": 1}, 9, {"a": 10, "b": 1, "c": 10}) == {"a": 4, "b": 1, "c": 4}
    assert largest_remainder({"a": 1, "b": 1}, 50, {"a": 3, "b": 4}) == {"a": 3, "b": 4}


def test_stratified_quotas_exact():
    qtypes = ["count"] * 50 + ["color"] * 30 + ["ocr"] * 20
    table = candidates(100, qtypes)
    kept = make("stratified", by="qtype", proportions={"count": 0.2, "color": 0.5, "ocr": 0.3}, budget=20).select(table, 0)
    got = {q: sum(qtypes[int(i[1:])] == q for i in kept) for q in ("count", "color", "ocr")}
    assert got == {"count": 4, "color": 10, "ocr": 6}
    assert len(set(kept)) == 20


def test_stratified_equal_shares_and_shortfall_redistributed():
    qtypes = ["count"] * 50 + ["color"] * 30 + ["ocr"] * 2
    table = candidates(82, qtypes)
    kept = make("stratified", budget=32).select(table, 1)
    got = {q: sum(qtypes[int(i[1:])] == q for i in kept) for q in ("count", "color", "ocr")}
    assert got == {"count": 15, "color": 15, "ocr": 2}


def test_stratified_token_budget_never_exceeded():
    rng = np.random.default_rng(0)
    tokens = rng.integers(5, 50, size=200).tolist()
    qtypes = ["a", "b"] * 100
    kept = make("stratified", budget_tokens=1000).select(candidates(200, qtypes, tokens=tokens), 3)
    spent = {q: sum(tokens[int(i[1:])] for i in kept if qtypes[int(i[1:])] == q) for q in ("a", "b")}
    assert sum(spent.values()) <= 1000 and all(400 < s <= 500 for s in spent.values())


def test_random_budgets_and_determinism():
    table = candidates(100, tokens=list(range(1, 101)))
    kept = make("random", budget=25).select(table, 7)
    assert len(kept) == len(set(kept)) == 25
    assert kept == make("random", budget=25).select(table, 7)
    assert kept != make("random", budget=25).select(table, 8)
    by_tokens = make("random", budget_tokens=300).select(table, 7)
    spent = sum(int(i[1:]) + 1 for i in by_tokens)
    next_id = make("random", budget=len(by_tokens) + 1).select(table, 7)[-1]
    assert spent <= 300 < spent + int(next_id[1:]) + 1  # the longest prefix that fits


def test_score_range_band_top_bottom():
    values = [i / 10 for i in range(11)]  # 0.0 .. 1.0
    scores = [{"judge_p": v} for v in values] + [{}]  # the last has no score
    table = candidates(12, scores=scores)
    band = make("score_range", score="judge_p", low=0.5, high=0.7).select(table, 0)
    assert sorted(band) == ["s0005", "s0006", "s0007"]
    assert make("score_range", score="judge_p", mode="top", budget=3).select(table, 0) == ["s0010", "s0009", "s0008"]
    assert make("score_range", score="judge_p", mode="bottom", budget=2).select(table, 0) == ["s0000", "s0001"]
    assert len(make("score_range", score="judge_p", low=0.0, high=1.0, budget=4).select(table, 0)) == 4


def test_score_range_rejects_bad_params():
    with pytest.raises(ValidationError, match="needs `budget`"):
        make("score_range", score="judge_p", mode="top")
    with pytest.raises(ValidationError, match="above high"):
        make("score_range", score="judge_p", low=0.8, high=0.2)
    with pytest.raises(ValidationError, match="not both"):
        make("random", budget=3, budget_tokens=3)


def clustered(seed: int = 0) -> np.ndarray:
    """One big cluster of 460 points and 8 small ones of 5 points each, far apart."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=10.0, size=(9, 8))
    sizes = [460] + [5] * 8
    return np.concatenate([c + rng.normal(scale=0.3, size=(s, 8)) for c, s in zip(centres, sizes)]).astype(np.float32)


@pytest.mark.parametrize("method", ["kcenter", "cluster"])
def test_diversity_covers_more_than_random(method):
    x = clustered()
    table = candidates(len(x), embedding=x)
    ids = table.column("id").to_pylist()
    row = {i: r for r, i in enumerate(ids)}
    diverse = make("diversity", method=method, clusters=9, budget=20).select(table, 0)
    assert len(diverse) == 20
    radius_diverse = coverage_radius(x, np.array([row[i] for i in diverse]))
    radii_random = [coverage_radius(x, np.array([row[i] for i in make("random", budget=20).select(table, s)]))
                    for s in range(5)]
    assert radius_diverse < 0.5 * min(radii_random)
    small_clusters_hit = {(row[i] - 460) // 5 for i in diverse if row[i] >= 460}
    assert len(small_clusters_hit) == 8


def test_quota_diversity_and_missing_embedding():
    x = clustered()
    qtypes = ["a"] * 250 + ["b"] * 250
    table = candidates(len(x), qtypes, embedding=x)
    kept = make("quota_diversity", budget=10).select(table, 0)
    assert sorted(q for q in (qtypes[int(i[1:])] for i in kept)) == ["a"] * 5 + ["b"] * 5
    with pytest.raises(ValueError, match="needs an `embedding` column"):
        make("diversity", budget=3).select(candidates(10), 0)
