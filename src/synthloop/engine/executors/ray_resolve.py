"""The Ray executor's part of the global ops' resolves (`engine.resolve` runs them on the driver).

A `ColumnarDedup` that is `bucketed` groups its keys' bucket hashes on the cluster: map tasks read
the key parts where they are and hash each key into buckets, the buckets are shuffled by hash to
reduce tasks, and the driver gets back only the positions whose hash another key shares
(`sharing_rows`). A `ClusteredDedup`'s k-means steps and its comparisons within each cluster run in
tasks (`map_calls`), the fit's blocks put in the object store once (`place`) for all its steps.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from typing import Any

import numpy as np
import pyarrow as pa

from synthloop.ops.dedup_resolve import sharing_rows


class ClusterResolves:
    """The resolves' tasks, with the executor's task options (`num_cpus`, `max_retries`); `get` waits
    for tasks' values."""

    def __init__(self, ray: Any, options: dict[str, Any], get: Callable[[Any], Any]):
        self.ray, self.get = ray, get
        self.bucket_map = ray.remote(**options)(_bucket_map)
        self.bucket_reduce = ray.remote(**options)(_bucket_reduce)
        self.call_each = ray.remote(**options)(_call_each)

    def sharing_rows(self, op: Any, keys: Any) -> np.ndarray | None:
        """The positions of `keys` (`PartKeys`) whose bucket hashes (`ColumnarDedup.bucket_hashes`: the
        key's hash, the near dedup's conversation or pHash blocks, MinHash's digest and LSH bands)
        another key shares; the driver then resolves only those (same duplicates, same survivors:
        `dedup_resolve.sharing_rows`). None for an op that is not bucketed."""
        if not op.bucketed or not len(keys):
            return None
        cpus = max(int(self.ray.cluster_resources().get("CPU", 1)), 1)
        buckets = max(2, 2 * cpus)
        wanted = [keys.position[keys.offsets[j]:keys.offsets[j + 1]] for j in range(len(keys.parts))]
        jobs = [list(zip(keys.parts[j::4 * cpus], wanted[j::4 * cpus], strict=True)) for j in range(4 * cpus)]
        op_ref = self.ray.put(op)
        mapped = [self.bucket_map.options(num_returns=buckets).remote(op_ref, job, buckets) for job in jobs if job]
        reduced = [self.bucket_reduce.remote(*(outputs[b] for outputs in mapped)) for b in range(buckets)]
        return np.unique(np.concatenate([np.empty(0, np.int64), *self.get(reduced)]))

    def place(self, items: list[Any]) -> list[Any]:
        """Each item in the object store: its reference (which `map_calls` resolves in its task)."""
        return [self.ray.put(item) for item in items]

    def map_calls(self, function: Callable[[Any], Any], items: list[Any]) -> list[Any]:
        """The items (or references from `place`) cut into runs of consecutive ones, a task per run (4
        per CPU), results in order."""
        if not items:
            return []
        tasks = min(len(items), 4 * max(int(self.ray.cluster_resources().get("CPU", 1)), 1))
        bounds = np.linspace(0, len(items), tasks + 1).astype(int).tolist()
        function_ref = self.ray.put(function)
        # the items as arguments of their own: Ray hands a task an argument's value, not its reference
        runs = [self.call_each.remote(function_ref, *items[lo:hi]) for lo, hi in pairwise(bounds)]
        return [result for results in self.get(runs) for result in results]


def _bucket_map(op: Any, job: list[tuple[Any, np.ndarray]], buckets: int) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Per bucket: (hash, position) of the wanted keys of these parts (`wanted[row]`: the row's
    position, -1 when it is not in play)."""
    found: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in range(buckets)]
    for part, wanted in job:
        chosen = wanted >= 0
        if not chosen.any():
            continue
        hashes = op.bucket_hashes(part.read_parquet(["key"])["key"].combine_chunks().filter(pa.array(chosen)))
        flat, positions = hashes.reshape(-1), np.repeat(wanted[chosen], hashes.shape[1])
        bucket = flat % np.uint64(buckets)
        for b in range(buckets):
            found[b].append((flat[bucket == b], positions[bucket == b]))
    empty = (np.empty(0, np.uint64), np.empty(0, np.int64))
    return tuple((np.concatenate([h for h, _ in pieces] or [empty[0]]), np.concatenate([p for _, p in pieces] or [empty[1]]))
                 for pieces in found)


def _call_each(function: Callable[[Any], Any], *items: Any) -> list[Any]:
    return [function(item) for item in items]


def _bucket_reduce(*pieces: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    return sharing_rows(np.concatenate([h for h, _ in pieces]), np.concatenate([p for _, p in pieces]))
