"""The global ops' resolve over the `Workers` shuffle (`engine.resolve`): what it writes does not depend
on how many buckets the shuffle cuts (Ray picks two per CPU, this process eight), and the stage's ids
are checked unique across shards."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_engine_fixtures import noisy_samples, recipe_dict, write_dataset

from synthloop.engine import Recipe, run
from synthloop.ops.workers import InThisProcess
from synthloop.sample import new_sample

OPS = [{"exact_dedup": {"on": "image", "same_image": "merge"}}, {"image_near_dedup": {"max_hamming": 12}},
       {"image_near_dedup": {"max_hamming": 6, "same_image": "drop"}}, {"text_minhash_dedup": {"threshold": 0.8}},
       {"random": {"budget": 30}}]


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for sub in ("out", "run/stages") for p in (root / sub).rglob("*")
            if p.is_file()}


@pytest.mark.parametrize("buckets", [1, 3])
def test_the_resolve_writes_the_same_bytes_whatever_the_buckets(tmp_path, monkeypatch, buckets):
    data = write_dataset(tmp_path / "data", noisy_samples(60))
    eight = run(Recipe.model_validate(recipe_dict(tmp_path / "eight", data, OPS)), progress=False)
    monkeypatch.setattr(InThisProcess, "BUCKETS", buckets)
    other = run(Recipe.model_validate(recipe_dict(tmp_path / "other", data, OPS)), progress=False)
    # every kind of removal happened: merged duplicates, quarantined keys, near and text duplicates, not selected
    assert [(entry["dropped"], entry["quarantined"]) for entry in eight["ops"][1:]] == [
        (3, 0), (0, 5), (2, 0), (7, 0), (13, 0)]
    assert (tmp_path / "eight" / "run" / "stages" / "s0" / "merged").is_dir()
    assert other["ops"] == eight["ops"]
    expected, got = _files(tmp_path / "eight"), _files(tmp_path / "other")
    assert sorted(got) == sorted(expected)
    assert [name for name in expected if got[name] != expected[name]] == []


@pytest.mark.parametrize("buckets", [1, 8])
def test_an_id_in_two_shards_is_an_error_naming_the_least_repeated_id(tmp_path, monkeypatch, buckets):
    samples = noisy_samples(40)
    for i, repeated in ((30, "s_0005"), (35, "s_0002")):  # in later shards than the first ones
        samples[i] = new_sample(repeated, samples[i]["messages"], samples[i]["images"], task="vqa", source="fixture")
    monkeypatch.setattr(InThisProcess, "BUCKETS", buckets)
    data = write_dataset(tmp_path / "data", samples)
    recipe = Recipe.model_validate(recipe_dict(tmp_path, data, [{"text_minhash_dedup": {}}]))
    with pytest.raises(ValueError, match=r"^sample id 's_0002' occurs more than once; dedup and selection need "
                                         r"unique ids$"):
        run(recipe, progress=False)
