"""MinHash signatures (through rensa) and banded LSH over them (not an op)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from rensa import RMinHash

from synthloop.ops.hamming_index import BucketIndex
from synthloop.ops.text import words

_MIX = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit constant (golden ratio) for hashing band rows


def shingles(text: str, n: int) -> list[str]:
    """Word n-grams of the lower-cased text (the whole text when it has fewer than n words)."""
    tokens = words(text)
    return [" ".join(tokens[k : k + n]) for k in range(max(1, len(tokens) - n + 1))] if tokens else []


def signatures(shingle_sets: list[list[str]], num_perm: int, seed: int) -> np.ndarray:
    """(n, num_perm) uint32 MinHash signatures; rensa hashes tokens with a fixed hasher, so the
    same text gives the same signature in every process."""
    return np.array(RMinHash.digests_from_token_sets(shingle_sets, num_perm=num_perm, seed=seed), dtype=np.uint32)


@lru_cache
def lsh_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) with bands * rows <= num_perm minimising the equal-weight sum of the false
    positive area (the S-curve 1 - (1 - s^rows)^bands integrated over s in [0, threshold]) and the
    false negative area (1 minus it, over [threshold, 1]), integrated adaptively: datasketch's
    criterion (datasketch/lsh.py `_optimal_param`, v2.0.0), which picks the same pair for every
    threshold and size (tests/test_ops_minhash_params.py). A fixed 201-point grid picked 9 x 14 at 0.8
    where the integral's optimum is 9 x 13 (docs/experiments.md)."""
    from scipy.integrate import quad

    def error(bands: int, rows: int) -> float:
        false_positive = quad(lambda s: 1 - (1 - s**rows) ** bands, 0.0, threshold)[0]
        false_negative = quad(lambda s: (1 - s**rows) ** bands, threshold, 1.0)[0]
        return 0.5 * false_positive + 0.5 * false_negative

    options = [(b, r) for b in range(1, num_perm + 1) for r in range(1, num_perm // b + 1)]
    return min(options, key=lambda option: error(*option))


def jaccard_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise 1 - estimated Jaccard similarity (the share of signature slots that differ)."""
    return (a != b).mean(axis=1)


def row_hashes(columns: np.ndarray) -> np.ndarray:
    """One uint64 hash per row of a (n, k) uint32 array (the same in every process)."""
    key = np.zeros(len(columns), dtype=np.uint64)
    for column in columns.T:
        key = (key ^ column.astype(np.uint64)) * _MIX
    return key


def band_hashes(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(n, bands) uint64: a hash of each band of `rows` signature slots."""
    return np.stack([row_hashes(sigs[:, band * rows : (band + 1) * rows]) for band in range(bands)], axis=1)


def candidate_pairs(band_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs i < j of rows of `band_keys` (n, bands) equal in at least one band, each pair once."""
    n = len(band_keys)
    found = [np.empty(0, np.int64)]
    for column in band_keys.T:
        found.extend(i * n + j for i, j in BucketIndex(column).pairs())
    code = np.unique(np.concatenate(found))
    return code // n, code % n
