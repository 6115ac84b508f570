"""Semantic dedup's engine resolve keeps the driver flat: every key part is read in a `Workers` call,
no call returns more than the centroids, the removals and a few numbers per part (no column per
sample), the drops are the exact copies in id order, and the bucket count changes no byte."""

from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_engine_fixtures import noisy_samples, recipe_dict, write_dataset

from synthloop.engine.keys import key_table
from synthloop.engine.plan import plan_stages
from synthloop.engine.recipe import Recipe
from synthloop.engine.resolve import resolve_stage
from synthloop.engine.rundir import RunDir
from synthloop.ops.base import Quarantine
from synthloop.ops.workers import InThisProcess
from synthloop.storage import Location

PARTS, ROWS, DIM = 40, 50, 32


def _rows(value) -> int:
    """How many things a returned value holds: an array's rows, a list's or tuple's members' rows."""
    if isinstance(value, np.ndarray | pa.Array | pa.ChunkedArray):
        return len(value) if np.ndim(value) else 1
    if isinstance(value, list | tuple):
        return sum(_rows(member) for member in value)
    if dataclasses.is_dataclass(value):
        return sum(_rows(getattr(value, f.name)) for f in dataclasses.fields(value))
    return 1


class Recording(InThisProcess):
    """`Workers` in this process with `buckets` buckets, recording what each call returns to the
    caller; `inside`: a call's function is running."""

    def __init__(self, buckets: int):
        self.buckets, self.returned, self.inside = buckets, [], False

    def _called(self, function):
        def call(*args):
            self.inside = True
            try:
                return function(*args)
            finally:
                self.inside = False
        return call

    def map_calls(self, function, items):
        results = super().map_calls(self._called(function), items)
        self.returned.append(_rows(results))
        return results

    def group(self, items, split, combine):
        splits = [self._called(split)(item, self.buckets) for item in items]
        results = [self._called(combine)([pieces[b] for pieces, _ in splits]) for b in range(self.buckets)]
        self.returned.append(_rows([note for _, note in splits]) + _rows(results))
        return [note for _, note in splits], results


def _keys(rng: np.random.Generator) -> tuple[list[str], list, dict[str, str]]:
    """Stage rows' ids (shuffled against the rows), keys (a 16-byte conversation digest and a float16
    vector around one of 40 topics; 1 in 20 an exact copy of an earlier row's, every third of them
    with another conversation; some quarantined, some without an image) and the expected drops."""
    n = PARTS * ROWS
    ids = [f"s{i:05d}" for i in rng.permutation(n)]
    topics = rng.standard_normal((40, DIM))
    vectors = (topics[rng.integers(40, size=n)] / np.sqrt(DIM) + 0.2 * rng.standard_normal((n, DIM))).astype(np.float16)
    digests = [bytes([i % 3]) * 16 for i in range(n)]
    keys: list = []
    groups: dict[bytes, list[str]] = {}
    for i in range(n):
        if i % 97 == 50:
            keys.append(Quarantine("semantic_dedup: not embedded"))
            continue
        if i % 89 == 7:
            keys.append(None)
            continue
        if i > 100 and rng.random() < 0.05:
            source = int(rng.integers(100))  # rows below 100 are never copies, quarantined or image-less
            vectors[i] = vectors[source]
            digests[i] = digests[source] if rng.random() < 0.66 else b"x" * 16
        keys.append(digests[i] + vectors[i].tobytes())
        groups.setdefault(keys[-1], []).append(ids[i])
    expected = {dropped: min(group) for group in groups.values() for dropped in group if dropped != min(group)}
    return ids, keys, expected


@pytest.fixture(scope="module")
def stage_keys(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("semantic")
    data = write_dataset(tmp / "data", noisy_samples(4))
    ops = [{"semantic_dedup": {"cluster_size": 50, "threshold": 0.95}}]
    recipe = Recipe.model_validate(recipe_dict(tmp, data, ops))
    rundir, ops = RunDir(recipe), recipe.build_ops()
    stage = plan_stages(ops)[0]
    ids, keys, expected = _keys(np.random.default_rng(7))
    for j in range(PARTS):
        part = slice(j * ROWS, (j + 1) * ROWS)
        rundir.keys_part(stage.index, stage.global_ops[0], j).write_parquet(key_table(ids[part], keys[part]))
    return rundir, stage, ops, keys, expected


def _resolve(stage_keys, buckets: int, monkeypatch) -> tuple[dict, Recording, list[bytes], dict]:
    rundir, stage, ops, _, _ = stage_keys
    workers = Recording(buckets)
    read = Location.read_parquet

    def read_in_a_call(location, columns=None):
        assert workers.inside, f"{location} read outside a Workers call"
        return read(location, columns)

    with monkeypatch.context() as patched:
        patched.setattr(Location, "read_parquet", read_in_a_call)
        counts = resolve_stage(rundir, stage, ops, PARTS, seed=0, workers=workers)
    paths = [path for j in range(PARTS) if (path := rundir.removed_part(stage.index, j).local).exists()]
    files = [path.read_bytes() for path in paths]
    removed = pq.read_table(paths).to_pylist()
    return counts["ops"][str(stage.global_ops[0])], workers, files, removed


def test_the_driver_gets_no_column_per_sample(stage_keys, monkeypatch):
    _, _, _, keys, expected = stage_keys
    counts, workers, _, removed = _resolve(stage_keys, 1, monkeypatch)
    errors = sum(isinstance(key, Quarantine) for key in keys)
    assert counts == {"in": PARTS * ROWS, "kept": PARTS * ROWS - len(expected) - errors, "dropped": len(expected),
                      "quarantined": errors, "added": 0}
    assert {r["id"]: r["survivor"] for r in removed if r["survivor"]} == expected and len(expected) > 50
    assert sorted(r["error"] for r in removed if r["error"]) == ["semantic_dedup: not embedded"] * errors
    k = round(sum(key is not None and not isinstance(key, Quarantine) for key in keys) / 50)
    bound = 2 * PARTS + 2 * k + 4 * (len(expected) + errors)  # counts, notes, centroids, the removals
    assert max(workers.returned) <= bound < PARTS * ROWS / 2
    assert len(workers.returned) > 4  # counts, the k-means start, Lloyd steps, the clusters, the removed parts


def test_the_bucket_count_changes_no_byte(stage_keys, monkeypatch):
    _, _, one_bucket, _ = _resolve(stage_keys, 1, monkeypatch)
    _, _, three_buckets, _ = _resolve(stage_keys, 3, monkeypatch)
    assert one_bucket == three_buckets
