"""Turning duplicate keys and matched pairs into drops (not an op).

Rule shared by every dedup: samples are visited in id order; a sample is a duplicate of the first
(by id) already-kept sample it matches, and is kept if it matches none. So every dropped sample
names a survivor it really matches (no chaining A~B~C into "C duplicates A" when C is far from
A), no two kept samples match each other, and the result does not depend on input order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from synthloop.ops.base import Drop

# (i, j, distance) over exact-key groups, i < j, every pair within the threshold
PairFinder = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]


def sorted_keys(keys: Iterable[tuple[str, Any]]) -> tuple[list[str], list[Any]]:
    """(ids, keys) in id order, leaving out samples whose key is None (nothing to compare)."""
    items = sorted((sample_id, key) for sample_id, key in keys if key is not None)
    return [sample_id for sample_id, _ in items], [key for _, key in items]


def exact_groups(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group equal rows of `keys` (samples in id order). Returns (group of each sample, first sample
    of each group), groups numbered by their first sample so group order follows id order."""
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank[inverse.reshape(-1)], first[order]


def greedy_survivors(groups: int, i: np.ndarray, j: np.ndarray, distance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walk groups in order; a group matching an earlier kept group joins the first such one.
    Returns (survivor group of each group, itself when kept; distance to it, 0 when kept)."""
    survivor = np.arange(groups)
    to_survivor = np.zeros(groups, dtype=np.float64)
    for a, b, d in zip(*(x[np.lexsort((i, j))].tolist() for x in (i, j, distance)), strict=True):
        if survivor[b] == b and survivor[a] == a:  # b still kept and a kept
            survivor[b], to_survivor[b] = a, d
    return survivor, to_survivor


def duplicate_drops(ids: list[str], keys: np.ndarray, find_pairs: PairFinder | None = None) -> dict[str, Drop]:
    """Drops for every duplicate among `ids` (sorted) with key rows `keys`: equal rows are exact
    duplicates (distance 0); `find_pairs(group_keys)` adds near pairs between distinct rows."""
    if not ids:
        return {}
    group, first = exact_groups(keys)
    survivor, to_survivor = np.arange(len(first)), np.zeros(len(first))
    if find_pairs is not None:
        survivor, to_survivor = greedy_survivors(len(first), *find_pairs(keys[first]))
    # a sample survives only as the first of a kept group; otherwise it names that group's survivor
    target = first[survivor[group]]
    dropped = np.flatnonzero(target != np.arange(len(ids)))
    distance = np.where(survivor[group] == group, 0.0, to_survivor[group])
    return {
        ids[k]: Drop(f"duplicate of {ids[target[k]]}", value={"survivor": ids[target[k]], "distance": float(distance[k])})
        for k in dropped.tolist()
    }
