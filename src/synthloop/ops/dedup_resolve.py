"""Turning duplicate keys and matched pairs into drops (not an op).

Rule shared by every dedup: matches are transitive. Samples with equal keys form exact groups;
groups joined by any chain of near matches form one cluster (connected components, so the answer
does not depend on the order pairs are found in); the cluster's first sample by id survives and
every other member is dropped naming it, with its own distance to that survivor (which may exceed
the threshold when it joined through a chain). Input order never changes the result.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from synthloop.ops.base import Drop

# group keys -> (i, j): pairs of rows within the threshold
PairFinder = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
# (rows a, rows b) -> row-wise distance
Distance = Callable[[np.ndarray, np.ndarray], np.ndarray]


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


def cluster_survivors(groups: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """For each group, the first group of its connected component under the pairs (i, j)."""
    graph = coo_matrix((np.ones(len(i), dtype=np.int8), (i, j)), shape=(groups, groups))
    _, label = connected_components(graph, directed=False)
    first = np.full(label.max() + 1, groups)
    np.minimum.at(first, label, np.arange(groups))
    return first[label]


def duplicate_drops(ids: list[str], keys: np.ndarray, find_pairs: PairFinder | None = None,
                    distance: Distance | None = None) -> dict[str, Drop]:
    """Drops for every duplicate among `ids` (sorted) with key rows `keys`: equal rows are exact
    duplicates; `find_pairs(group_keys)` joins distinct rows; `distance` measures each drop's
    distance to its survivor (0 without it)."""
    if not ids:
        return {}
    group, first = exact_groups(keys)
    survivor = cluster_survivors(len(first), *find_pairs(keys[first])) if find_pairs else np.arange(len(first))
    target = first[survivor[group]]
    dropped = np.flatnonzero(target != np.arange(len(ids)))
    distances = distance(keys[dropped], keys[target[dropped]]) if distance else np.zeros(len(dropped))
    return {
        ids[k]: Drop(f"duplicate of {ids[t]}", value={"survivor": ids[t], "distance": float(d)})
        for k, t, d in zip(dropped.tolist(), target[dropped].tolist(), distances.tolist(), strict=True)
    }
