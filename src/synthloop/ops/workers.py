"""Where a global op's arithmetic runs: the `Workers` an executor offers, and their in-process form.

A global op resolves in the main process, but the parts of its work that need no global view can run
where the shard workers are: `map_calls` maps a function over items there, and `group` shuffles
items' pieces by hash so equal things meet in one bucket (a dedup's bucket hashes, a stage's sample
ids, semantic dedup's k-means sums and clusters). `InThisProcess` runs both here; the engine's executors
inherit it and override what they can spread (`engine.executors.ray`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class Workers(Protocol):
    def map_calls(self, function: Callable[[Any], Any], items: list[Any]) -> list[Any]:
        """`[function(item) for item in items]`, run where the workers are."""
        ...

    def group(self, items: list[Any], split: Callable[[Any, int], tuple[list[Any], Any]],
              combine: Callable[[list[Any]], Any]) -> tuple[list[Any], list[Any]]:
        """A shuffle: `split(item, buckets)` cuts each item into `buckets` pieces (by a hash of what
        they hold, so equal things meet in one bucket) and a note for the caller; `combine(pieces)`
        reduces one bucket's pieces, given in item order. Returns the items' notes (item order) and the
        buckets' results. The workers pick the bucket count, so what the caller makes of the results
        must not depend on it."""
        ...


class InThisProcess:
    """`Workers` in this process. `group` combines its `BUCKETS` buckets one after the other, each
    bucket's pieces let go once combined, so a combine's scratch memory is for a bucket's share."""

    BUCKETS = 8

    def map_calls(self, function: Callable[[Any], Any], items: list[Any]) -> list[Any]:
        return [function(item) for item in items]

    def group(self, items: list[Any], split: Callable[[Any, int], tuple[list[Any], Any]],
              combine: Callable[[list[Any]], Any]) -> tuple[list[Any], list[Any]]:
        notes, buckets = [], [[] for _ in range(self.BUCKETS)]
        for item in items:
            pieces, note = split(item, self.BUCKETS)
            notes.append(note)
            for bucket, piece in zip(buckets, pieces, strict=True):
                bucket.append(piece)
        results = []
        while buckets:
            results.append(combine(buckets.pop(0)))
        return notes, results
