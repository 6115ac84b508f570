"""All pairs of 64-bit hashes within a Hamming distance, by multi-index hashing (not an op).

Split each hash into m chunks. If two hashes differ in at most D bits, some chunk differs in at
most floor(D / m) bits (pigeonhole), so probing every chunk's buckets with all flips of up to
floor(D / m) bits finds every pair; candidates are then checked on the full hash. m is chosen so
that probes plus random chunk collisions cost least for the number of hashes, which keeps the work
near-linear instead of the n^2 of comparing all pairs (Norouzi et al., "Fast search in Hamming
space with multi-index hashing", CVPR 2012).
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import combinations
from math import comb

import numpy as np

Pairs = tuple[np.ndarray, np.ndarray, np.ndarray]  # (i, j, distance) with i < j, sorted by (i, j)
_TABLE_BITS = 24  # chunks up to this wide use a direct bucket table instead of binary search
_CANDIDATE_COST = 4.0  # a candidate check costs about this many bucket look-ups


class BucketIndex:
    """Keys grouped into buckets of equal value; `pairs(mask)` finds every pair (i, j), i < j,
    with keys[i] ^ mask == keys[j]."""

    def __init__(self, keys: np.ndarray, bits: int = 64):
        self.order = np.argsort(keys, kind="stable")
        self.sorted_keys = keys[self.order]
        self.starts = None
        if bits <= _TABLE_BITS:
            counts = np.bincount(self.sorted_keys.astype(np.int64), minlength=1 << bits)
            self.starts = np.concatenate([[0], np.cumsum(counts)])

    def _buckets(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.starts is not None:
            q = queries.astype(np.int64)
            left = self.starts[q]
            return left, self.starts[q + 1] - left
        left = np.searchsorted(self.sorted_keys, queries, "left")
        return left, np.searchsorted(self.sorted_keys, queries, "right") - left

    def pairs(self, mask: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        # Queries go in key order, so XOR-ed queries stay piecewise sorted and the bucket look-ups
        # walk memory nearly in order. Level t pairs each query with the t-th key of its bucket:
        # no step holds more than one pair per query; the loop ends after the largest bucket.
        left, counts = self._buckets(self.sorted_keys ^ np.asarray(mask, dtype=self.sorted_keys.dtype))
        active = np.flatnonzero(counts)
        level = 0
        while len(active):
            i, j = self.order[active], self.order[left[active] + level]
            keep = i < j
            yield i[keep], j[keep]
            level += 1
            active = active[counts[active] > level]


def _chunk_count(n: int, max_distance: int) -> int:
    """The number of chunks m (1..D+1, at most 64) with the least expected probe plus candidate work."""
    def cost(m: int) -> float:
        widest, narrowest = -(-64 // m), 64 // m
        probes = sum(comb(widest, r) for r in range(max_distance // m + 1))
        return m * probes * (1 + _CANDIDATE_COST * n / 2.0**narrowest)

    return min(range(1, min(max_distance, 63) + 2), key=cost)  # at most 64 chunks of >= 1 bit


def _flip_masks(bits: int, radius: int) -> Iterator[int]:
    for r in range(radius + 1):
        for flipped in combinations(range(bits), r):
            yield sum(1 << b for b in flipped)


def hamming_pairs(hashes: np.ndarray, max_distance: int) -> Pairs:
    """Every pair i < j of `hashes` (uint64) with popcount(h[i] ^ h[j]) <= max_distance."""
    hashes = np.asarray(hashes, dtype=np.uint64)
    n = len(hashes)
    empty = np.empty(0, np.int64)
    if n < 2 or max_distance < 0:
        return empty, empty, empty
    m = _chunk_count(n, max_distance)
    bounds = np.linspace(0, 64, m + 1).astype(int)
    found_i, found_j = [empty], [empty]
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        bits = int(hi - lo)
        chunk = (hashes >> np.uint64(lo)) & np.uint64((1 << bits) - 1)
        index = BucketIndex(chunk, bits)
        for mask in _flip_masks(bits, max_distance // m):
            for i, j in index.pairs(mask):
                close = np.bitwise_count(hashes[i] ^ hashes[j]) <= max_distance
                found_i.append(i[close])
                found_j.append(j[close])
    code = np.unique(np.concatenate(found_i) * n + np.concatenate(found_j))  # one row per pair
    i, j = code // n, code % n
    return i, j, np.bitwise_count(hashes[i] ^ hashes[j]).astype(np.int64)
