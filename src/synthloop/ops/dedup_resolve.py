"""Turning duplicate keys and matched pairs into drops, over compact key columns (not an op).

Rule shared by every dedup: matches are transitive. Samples with equal keys form exact groups;
groups joined by any chain of near matches form one cluster (connected components, so the answer
does not depend on the order pairs are found in); the cluster's first sample by id survives and
every other member is dropped naming it, with its own distance to that survivor (which may exceed
the threshold when it joined through a chain). Input order never changes the result.

Memory: a `ColumnarDedup` sees its keys as a `Keys` column (streamed from the run directory by
the engine, or an in-memory Arrow array) and samples as positions in id order, never as Python
objects per sample, so resolving millions of keys costs a few numpy arrays.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, Field

from synthloop.ops.base import Dedup, Drop
from synthloop.ops.workers import InThisProcess, Workers
from synthloop.storage import Location

# positions of the first sample of each group -> (i, j): pairs of groups (indices into that array) that match
PairFinder = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
# (positions a, positions b) -> distance of each pair
Distance = Callable[[np.ndarray, np.ndarray], np.ndarray]


class Keys(Protocol):
    """One dedup's keys for the samples in play, by position: position k is the k-th sample by id."""

    def __len__(self) -> int: ...

    def chunks(self) -> Iterator[tuple[np.ndarray, pa.Array]]:
        """Every key once, a bounded chunk at a time: (positions, their keys)."""
        ...

    def take(self, positions: np.ndarray) -> pa.Array:
        """The keys at `positions`, in that order."""
        ...


class ArrayKeys:
    """`Keys` held in memory: `values[k]` is the key at position k."""

    def __init__(self, values: pa.Array):
        self.values = values

    def __len__(self) -> int:
        return len(self.values)

    def chunks(self) -> Iterator[tuple[np.ndarray, pa.Array]]:
        yield np.arange(len(self.values)), self.values

    def take(self, positions: np.ndarray) -> pa.Array:
        return self.values.take(pa.array(positions, pa.int64()))


def all_keys(keys: Keys) -> pa.Array:
    """Every key, by position."""
    return keys.take(np.arange(len(keys)))


def fixed_width(values: pa.Array, dtype: str) -> np.ndarray:
    """A non-null fixed-size binary array as a (len, width / itemsize) numpy array of `dtype`."""
    if values.null_count:
        raise ValueError("keys must not be null here")
    width = values.type.byte_width
    data = np.frombuffer(values.buffers()[1], np.uint8)[values.offset * width:(values.offset + len(values)) * width]
    return data.view(dtype).reshape(len(values), width // np.dtype(dtype).itemsize)


@dataclass(frozen=True)
class Duplicates:
    """Duplicates among positions (samples in id order): `rows[k]` is dropped as a duplicate of
    `survivors[k]`, at `distances[k]`."""

    rows: np.ndarray
    survivors: np.ndarray
    distances: np.ndarray

    @classmethod
    def none(cls) -> Duplicates:
        return cls(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float64))

    @classmethod
    def concat(cls, parts: list[Duplicates]) -> Duplicates:
        return cls(*(np.concatenate([getattr(d, f) for d in [cls.none(), *parts]])
                     for f in ("rows", "survivors", "distances")))

    def drops(self, ids: list[str], merged: bool = False) -> dict[str, Drop]:
        """As `Dedup.resolve` names them, with `ids[k]` the id at position k."""
        return {ids[k]: duplicate_drop(ids[s], d, merged) for k, s, d in
                zip(self.rows.tolist(), self.survivors.tolist(), self.distances.tolist(), strict=True)}


def duplicate_drop(survivor: str, distance: float, merged: bool = False) -> Drop:
    """A duplicate's removal, naming its survivor (`merged`: the survivor absorbed its turns)."""
    reason = f"merged into {survivor}" if merged else f"duplicate of {survivor}"
    return Drop(reason, value={"survivor": survivor, "distance": float(distance)})


SameImageMode = Literal["keep", "merge", "drop"]


class SameImage(BaseModel):
    """What an image dedup does with samples whose images match but whose conversations differ
    (in a LLaVA mix one COCO image carries VQAv2, GQA, OCR-VQA and RefCOCO conversations): `keep`
    them all (the key is the image and the conversation: only a repeated question about the same
    image is a duplicate), `merge` them into the first one by id (one sample holding all their
    distinct turns, `ops.merge_turns`), or `drop` all but that one (the key is the image alone)."""

    same_image: SameImageMode = Field("keep", description="samples sharing an image but not their conversation: "
                                      "keep them, merge their turns into one sample, or drop all but one")

    @property
    def keys_conversation(self) -> bool:
        return self.same_image == "keep"

    def merges(self) -> bool:
        return self.same_image == "merge"


class ColumnarDedup(Dedup):
    """A dedup that resolves over a `Keys` column (its `key_type` says the keys' Arrow type)."""

    bucketed: ClassVar[bool] = False  # True: `bucket_hashes` gives the hashes duplicates share

    def duplicates(self, keys: Keys) -> Duplicates:
        """The duplicates among the keys (no nulls: samples without a key are not in play)."""
        raise NotImplementedError

    def bucket_hashes(self, values: pa.Array) -> np.ndarray:
        """(n, m) uint64 hashes of the keys such that two samples the op could match share at least one
        (a key's hash, LSH band hashes), for ops that are `bucketed`. Samples sharing none with any other
        sample are neither dropped nor survivors, so `duplicates` over just the samples that share one
        (`sharing_rows`, in id order) finds the same duplicates: a cluster can group the hashes and
        leave the driver only those samples."""
        raise NotImplementedError

    def resolve(self, keys: Iterable[tuple[str, Any]]) -> dict[str, Drop]:
        ids, values = sorted_keys(keys)
        return self.duplicates(ArrayKeys(pa.array(values, self.key_type()))).drops(ids, self.merges())


@dataclass(frozen=True)
class KeyPart:
    """One shard's keys for a dedup (columns `id`, `key`, `error`): its key part (a Parquet file, or the
    table in memory), its first row in the stage, and its rows that earlier global ops removed
    (numbered within the part)."""

    part: Location | pa.Table
    first_row: int = 0
    removed: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))

    def read(self, columns: list[str]) -> pa.Table:
        return self.part.select(columns) if isinstance(self.part, pa.Table) else self.part.read_parquet(columns)

    def in_play(self, table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
        """(per row of the part's `table`: not removed, with a key and no error; the rows not removed
        whose key is an error)."""
        kept = np.ones(table.num_rows, bool)
        kept[self.removed] = False
        failed = np.flatnonzero(kept & table["error"].is_valid().to_numpy(zero_copy_only=False))
        in_play = kept & table["key"].is_valid().to_numpy(zero_copy_only=False)
        in_play[failed] = False
        return in_play, failed


@dataclass(frozen=True)
class FoundInParts:
    """What a `ClusteredDedup` found in a stage's key parts, by stage row: the rows whose key is an
    error and the errors; the duplicates (`duplicates.rows[k]` dropped as a duplicate of the row
    `duplicates.survivors[k]`, whose id is `survivor_ids[k]`)."""

    failed: np.ndarray
    errors: list[str]
    duplicates: Duplicates
    survivor_ids: list[str]


class ClusteredDedup(Dedup):
    """A dedup that cuts its samples into clusters and compares samples within a cluster only, reading
    the keys where the `workers` are: the main process gets the clusters' centres and the drops."""

    def find_in_parts(self, parts: list[KeyPart], workers: Workers) -> FoundInParts:
        raise NotImplementedError

    def resolve(self, keys: Iterable[tuple[str, Any]]) -> dict[str, Drop]:
        """In memory, in this process: the keys as one key part."""
        ids, values = sorted_keys(keys)
        table = pa.table({"id": pa.array(ids, pa.string()), "key": pa.array(values, self.key_type()),
                          "error": pa.nulls(len(ids), pa.string())})
        return self.find_in_parts([KeyPart(table)], InThisProcess()).duplicates.drops(ids, self.merges())


def sharing_rows(hashes: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The distinct `rows` whose entry in `hashes` (flat, one hash per entry) another entry shares."""
    order = np.argsort(hashes, kind="stable")
    ordered = hashes[order]
    same = ordered[1:] == ordered[:-1]
    shared = np.zeros(len(ordered), bool)
    shared[1:] |= same
    shared[:-1] |= same
    return np.unique(rows[order][shared])


def sorted_keys(keys: Iterable[tuple[str, Any]]) -> tuple[list[str], list[Any]]:
    """(ids, keys) in id order, leaving out samples whose key is None (nothing to compare)."""
    items = sorted((sample_id, key) for sample_id, key in keys if key is not None)
    return [sample_id for sample_id, _ in items], [key for _, key in items]


def exact_groups(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group equal rows of `keys` (samples in id order). Returns (group of each sample, first sample
    of each group), groups numbered by their first sample so group order follows id order."""
    _, first, inverse = np.unique(keys, axis=0 if keys.ndim > 1 else None, return_index=True, return_inverse=True)
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank[inverse.reshape(-1)], first[order]


def cluster_survivors(groups: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """For each group, the first group of its connected component under the pairs (i, j)."""
    # imported here: only the main process resolves, and workers need not load scipy.sparse
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(i), dtype=np.int8), (i, j)), shape=(groups, groups))
    _, label = connected_components(graph, directed=False)
    first = np.full(label.max() + 1, groups)
    np.minimum.at(first, label, np.arange(groups))
    return first[label]


def find_duplicates(keys: np.ndarray, find_pairs: PairFinder | None = None,
                    distance: Distance | None = None) -> Duplicates:
    """Duplicates among positions with exact-match rows `keys` (equal rows are exact duplicates);
    `find_pairs(first)` joins distinct groups; `distance` measures each drop's distance to its
    survivor (0 without it; samples of one exact group share their distances)."""
    if not len(keys):
        return Duplicates.none()
    group, first = exact_groups(keys)
    survivor = cluster_survivors(len(first), *find_pairs(first)) if find_pairs else np.arange(len(first))
    target = first[survivor[group]]
    dropped = np.flatnonzero(target != np.arange(len(keys)))
    if distance is None:
        return Duplicates(dropped, target[dropped], np.zeros(len(dropped)))
    # one distance per dropped group: its first sample's (its members are equal to it)
    groups, member = np.unique(group[dropped], return_inverse=True)
    by_group = distance(first[groups], first[survivor[groups]]).astype(np.float64)
    return Duplicates(dropped, target[dropped], by_group[member.reshape(-1)])
