"""The Ray executor's `Workers` (`ops.workers`): the parts of the global ops' resolves that need no
global view, run in Ray tasks, so the driver between stages holds only compact results.

`group` is a shuffle in two rounds of tasks: split tasks each take a run of consecutive items, cut
each into one piece per bucket and return the pieces as separate objects (`num_returns`), which the
combine task of each bucket takes straight from the object store; the driver gets the items' notes
and the buckets' results, never the pieces. `engine.resolve` groups a stage's sample ids by hash
(uniqueness) and a dedup's bucket hashes (which rows share one); semantic dedup groups its k-means
sums by centroid and its samples by cluster. `map_calls` runs items in tasks, a run of consecutive
items per task.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from typing import Any

import numpy as np


class ClusterWorkers:
    """Tasks with the executor's options (`num_cpus`, `max_retries`); `get` waits for tasks' values."""

    def __init__(self, ray: Any, options: dict[str, Any], get: Callable[[Any], Any]):
        self.ray, self.get = ray, get
        self.call_each = ray.remote(**options)(_call_each)
        self.split_run = ray.remote(**options)(_split_run)
        self.combine_bucket = ray.remote(**options)(_combine_bucket)

    def _cpus(self) -> int:
        return max(int(self.ray.cluster_resources().get("CPU", 1)), 1)

    def _runs(self, items: list[Any]) -> list[list[Any]]:
        """The items cut into runs of consecutive ones, 4 per CPU (fewer when there are fewer items)."""
        bounds = np.linspace(0, len(items), min(len(items), 4 * self._cpus()) + 1).astype(int).tolist()
        return [items[lo:hi] for lo, hi in pairwise(bounds)]

    def group(self, items: list[Any], split: Callable[[Any, int], tuple[list[Any], Any]],
              combine: Callable[[list[Any]], Any]) -> tuple[list[Any], list[Any]]:
        """Two buckets per CPU."""
        buckets = 2 * self._cpus()
        split_ref, combine_ref = self.ray.put(split), self.ray.put(combine)
        split_run = self.split_run.options(num_returns=buckets + 1)
        # the items as arguments of their own: Ray hands a task an argument's value, not its reference
        mapped = [split_run.remote(split_ref, buckets, *run) for run in self._runs(items)]
        results = [self.combine_bucket.remote(combine_ref, *(outputs[b] for outputs in mapped)) for b in range(buckets)]
        notes = [note for run in self.get([outputs[buckets] for outputs in mapped]) for note in run]
        return notes, self.get(results)

    def map_calls(self, function: Callable[[Any], Any], items: list[Any]) -> list[Any]:
        if not items:
            return []
        function_ref = self.ray.put(function)
        runs = [self.call_each.remote(function_ref, *run) for run in self._runs(items)]
        return [result for results in self.get(runs) for result in results]


def _call_each(function: Callable[[Any], Any], *items: Any) -> list[Any]:
    return [function(item) for item in items]


def _split_run(split: Callable[[Any, int], tuple[list[Any], Any]], buckets: int, *items: Any) -> tuple[Any, ...]:
    """Per bucket, the pieces of these items, in item order; last, the items' notes."""
    pieces: list[list[Any]] = [[] for _ in range(buckets)]
    notes = []
    for item in items:
        item_pieces, note = split(item, buckets)
        for bucket, piece in zip(pieces, item_pieces, strict=True):
            bucket.append(piece)
        notes.append(note)
    return (*pieces, notes)


def _combine_bucket(combine: Callable[[list[Any]], Any], *runs: list[Any]) -> Any:
    return combine([piece for run in runs for piece in run])
