"""Labelled noise: exact labels, each kind really breaks what it says, and filter scoring."""

from __future__ import annotations

import pytest

from synthloop.images import ImageError, decode
from synthloop.lab.world import generate
from synthloop.lab.world.noise import KINDS, inject, score_filter
from synthloop.sample import SampleError, validate_sample


@pytest.fixture(scope="module")
def clean() -> list[dict]:
    return generate(360, seed=21)


@pytest.fixture(scope="module")
def noisy(clean) -> list[dict]:
    return inject(clean, rate=0.25, seed=3)


def labelled(samples: list[dict]) -> set[str]:
    return {s["id"] for s in samples if s["meta"].get("noise")}


def test_deterministic_and_inputs_untouched(clean, noisy):
    assert inject(clean, rate=0.25, seed=3) == noisy
    assert inject(clean, rate=0.25, seed=4) != noisy
    assert all("noise" not in s["meta"] for s in clean)


def test_every_kind_present_and_counts_add_up(clean, noisy):
    kinds = [s["meta"]["noise"] for s in noisy if s["meta"].get("noise")]
    assert set(kinds) == set(KINDS)
    duplicates = kinds.count("near_duplicate") + kinds.count("exact_duplicate")
    assert len(noisy) == len(clean) + duplicates
    # 90 events; a swap labels two samples.
    assert len(kinds) == 90 + kinds.count("swapped_caption") // 2
    assert len({s["id"] for s in noisy}) == len(noisy)


def test_each_kind_breaks_what_it_says(clean, noisy):
    originals = {s["id"]: s for s in clean}
    for s in noisy:
        kind = s["meta"].get("noise")
        source = originals.get(s["meta"].get("duplicate_of", s["id"]))
        answer = s["messages"][1]["content"]
        if kind is None:
            assert s == source
        elif kind in ("wrong_answer", "swapped_caption"):
            assert answer != source["messages"][1]["content"] and answer == s["meta"]["answer"]
        elif kind == "empty_answer":
            assert answer == ""
        elif kind in ("corrupt_image", "truncated_image"):
            with pytest.raises(ImageError):
                decode(s["images"][0]["bytes"])
        elif kind == "bad_box":
            x1, y1, x2, y2 = s["meta"]["box"]
            assert x2 <= x1 or y2 <= y1 or max(x2, y2) > 1
        elif kind == "image_token_mismatch":
            with pytest.raises(SampleError, match="placeholder"):
                validate_sample(s)
        elif kind == "exact_duplicate":
            assert s["images"] == source["images"] and s["messages"] == source["messages"]
        elif kind == "near_duplicate":
            assert s["images"][0]["bytes"] != source["images"][0]["bytes"]
            a, b = decode(s["images"][0]["bytes"]), decode(source["images"][0]["bytes"])
            assert abs(a.width - b.width) <= b.width // 2
            assert s["messages"] == source["messages"]


def test_oracle_filter_scores_one(noisy):
    bad = labelled(noisy)
    score = score_filter(noisy, [s["id"] for s in noisy if s["id"] not in bad], bad)
    assert score["precision"] == 1.0 and score["recall"] == 1.0
    assert all(k["precision"] == 1.0 and k["recall"] == 1.0 for k in score["kinds"].values())
    assert score["noisy"] == len(bad) and score["kept"] + score["removed"] == len(noisy)


def test_imperfect_filter_scores_exactly(noisy):
    bad = sorted(labelled(noisy))
    clean_ids = [s["id"] for s in noisy if s["id"] not in set(bad)]
    removed = set(bad[: len(bad) // 2]) | set(clean_ids[:10])
    score = score_filter(noisy, {s["id"] for s in noisy} - removed, removed)
    hit = len(bad) // 2
    assert score["precision"] == pytest.approx(hit / (hit + 10))
    assert score["recall"] == pytest.approx(hit / len(bad))


def test_keeping_a_copy_instead_of_the_original_is_fine(noisy):
    dup = next(s for s in noisy if s["meta"].get("noise") == "exact_duplicate")
    bad = labelled(noisy) - {dup["id"]} | {dup["meta"]["duplicate_of"]}
    score = score_filter(noisy, [s["id"] for s in noisy if s["id"] not in bad], bad)
    assert score["precision"] == 1.0 and score["recall"] == 1.0


def test_scoring_rejects_an_inconsistent_ledger(noisy):
    ids = [s["id"] for s in noisy]
    with pytest.raises(ValueError, match="both kept and removed"):
        score_filter(noisy, ids, ids[:1])
    with pytest.raises(ValueError, match="neither kept nor removed"):
        score_filter(noisy, ids[1:], [])


def test_kinds_subset_and_bad_arguments(clean):
    only = inject(clean, rate=0.1, seed=0, kinds=("empty_answer",))
    assert {s["meta"].get("noise") for s in only} == {None, "empty_answer"}
    assert len(labelled(only)) == 36
    with pytest.raises(ValueError, match="unknown noise kind"):
        inject(clean, 0.1, 0, kinds=("typo",))
    with pytest.raises(ValueError, match="rate"):
        inject(clean, 1.5, 0)


def test_wrong_answer_in_a_multi_turn_sample_changes_the_family_reply_only():
    clean = generate(40, mix={"color": 1.0}, seed=5, turns=3)
    noisy = inject(clean, rate=1.0, seed=0, kinds=("wrong_answer",))
    originals = {s["id"]: s for s in clean}
    for s in noisy:
        source, turn = originals[s["id"]], s["meta"]["turn"]
        changed = [i for i, (a, b) in enumerate(zip(s["messages"], source["messages"], strict=True)) if a != b]
        assert changed == [2 * turn + 1]
        assert s["messages"][2 * turn + 1]["content"] == s["meta"]["answer"] != source["meta"]["answer"]
    assert {s["meta"]["turn"] for s in noisy} != {2}  # not always the last turn
