"""k-means whose centroids do not depend on where its arithmetic runs (not an op; semantic dedup's clustering).

The rows are those of a list of items (a stage's key parts), read where the workers are by a function
the caller gives (`Vectors`); the main process holds the centroids, never the rows. Lloyd's
iterations run as `Workers.group` shuffles: each item's split assigns its rows to the nearest
centroid a block of `BLOCK_ROWS` rows at a time and adds, per centroid, its rows in float64 (row
order, then block order) and counts them; the pieces go by centroid to the buckets, whose combine
adds each centroid's pieces in item order and divides. Blocks are cut from each item by row count
alone and the additions follow item order, so one machine and a cluster of any size (any bucket
count) add the same numbers in the same order and reach the same centroids and labels, bit for bit,
where the nodes run the same numpy build on the same CPU kind (a step's distances are a BLAS matrix
product, whose result does not depend on its thread count here, tests/test_kmeans.py, but may on
another CPU's kernels). The centroids depend on how the rows are cut into items (the shards), not on
where they run.

Initial centroids: k-means++ (D² sampling) over `INIT_SAMPLE` rows per centroid drawn with the seed
by their index over all items (from the items' row counts); the splits send the drawn rows to one
bucket, whose combine draws the centroids, so the sample stays on the workers too.

Why not a library's fit: scipy's `kmeans2` sums each mean in the data's float32 in row order
(scipy/cluster/_vq.pyx `_cal_cluster_means`), in one process; a distributed fit such as NeMo
Curator's semantic dedup, which fits cuML's Dask KMeans over the embedding partitions
(NVIDIA/NeMo-Curator@006a3cf, nemo_curator/modules/semantic_dedup/clusteringmodel.py, `KMeans(
n_clusters, max_iter).fit(cupy_darr)` then `predict`), combines its workers' partial results as
the library and the partitioning decide. Neither lets the caller fix the blocks and the order of
the additions, and a float's last bit moves the labels of rows near a boundary, which moves which
samples are compared and so the dedup's output.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from synthloop.ops.workers import Workers

BLOCK_ROWS = 4096  # rows per block: the unit of the distances and partial sums (never depends on the workers)
INIT_SAMPLE = 64  # rows sampled per centroid for k-means++
ITERATIONS = 10  # Lloyd steps at most (scipy's kmeans2 default); fewer once the centroids repeat

Vectors = Callable[[Any], np.ndarray]  # an item -> its rows (float32, rows x d), read where it runs
Sums = tuple[np.ndarray, np.ndarray, np.ndarray]  # centroid indices, their float64 sums, their row counts


def fit(items: list[Any], counts: list[int], vectors: Vectors, k: int, seed: int, workers: Workers,
        iterations: int = ITERATIONS) -> np.ndarray:
    """The centroids (min(k, rows) x d) of the items' rows (`counts[i]` rows in item i, at least 1 in
    all) after Lloyd's iterations from a seeded k-means++ start; a centroid left with no rows keeps its
    place. Assign rows with `nearest`. The means are float64 until they are float32 centroids, the
    precision of the distances."""
    centroids = np.array(_initial_centroids(items, counts, vectors, k, seed, workers))  # ours to update
    for _ in range(iterations):
        _, means = workers.group(items, partial(_step_split, vectors, centroids), _means)
        moved = False
        for indices, bucket_means in means:
            moved = moved or not np.array_equal(centroids[indices], bucket_means)
            centroids[indices] = bucket_means
        if not moved:
            break
    return centroids


def nearest(centroids: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The nearest centroid of each row (int32), a block at a time, in the rows' float32 as scipy's vq
    assigns (the first on a tie)."""
    near = centroids.astype(np.float32, copy=False)
    squared = (near**2).sum(axis=1)[None, :]
    labels = [(squared - 2 * (rows[lo:lo + BLOCK_ROWS] @ near.T)).argmin(axis=1)  # |x - c|² less |x|²
              for lo in range(0, len(rows), BLOCK_ROWS)]
    return np.concatenate([np.empty(0, np.int64), *labels]).astype(np.int32)


def centroid_sums(centroids: np.ndarray, rows: np.ndarray) -> Sums:
    """One item's part of a Lloyd step: per centroid that has rows, its index, the float64 sum of its
    rows (added in row order within a block, then block by block) and its row count."""
    sums, counts = np.zeros(centroids.shape), np.zeros(len(centroids), np.int64)
    for lo in range(0, len(rows), BLOCK_ROWS):
        block = rows[lo:lo + BLOCK_ROWS]
        labels = nearest(centroids, block)
        block_counts = np.bincount(labels, minlength=len(centroids))
        filled = np.flatnonzero(block_counts)
        starts = np.concatenate([[0], np.cumsum(block_counts[filled])[:-1]])
        sums[filled] += np.add.reduceat(block[np.argsort(labels, kind="stable")], starts, axis=0, dtype=np.float64)
        counts += block_counts
    filled = np.flatnonzero(counts)
    return filled, sums[filled], counts[filled]


def _initial_centroids(items: list[Any], counts: list[int], vectors: Vectors, k: int, seed: int,
                       workers: Workers) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = sum(counts)
    drawn = np.sort(rng.choice(n, INIT_SAMPLE * k, replace=False)) if n > INIT_SAMPLE * k else np.arange(n)
    bounds = np.cumsum([0, *counts])
    wanted = [(item, drawn[np.searchsorted(drawn, lo):np.searchsorted(drawn, hi)] - lo)
              for item, lo, hi in zip(items, bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)]
    _, found = workers.group(wanted, partial(_drawn_rows, vectors), partial(_plus_plus, min(k, n), rng))
    return next(centroids for centroids in found if centroids is not None)


def _drawn_rows(vectors: Vectors, wanted: tuple[Any, np.ndarray], buckets: int) -> tuple[list[np.ndarray], None]:
    """The item's drawn rows, all in bucket 0 (one combine draws the centroids from them all)."""
    item, rows = wanted
    drawn = vectors(item)[rows]
    return [drawn, *(drawn[:0] for _ in range(buckets - 1))], None


def _plus_plus(k: int, rng: np.random.Generator, pieces: list[np.ndarray]) -> np.ndarray | None:
    """k-means++ over the drawn rows (each next centroid drawn with probability proportional to the
    squared distance to the nearest one drawn, in float64); k x d. None for a bucket without rows."""
    drawn = [piece for piece in pieces if len(piece)]
    if not drawn:
        return None
    sample = np.concatenate(drawn).astype(np.float64)
    chosen = [int(rng.integers(len(sample)))]
    closest = ((sample - sample[chosen[0]]) ** 2).sum(axis=1)
    for _ in range(k - 1):
        total = closest.sum()
        pick = int(rng.choice(len(sample), p=closest / total)) if total > 0 else int(rng.integers(len(sample)))
        chosen.append(pick)
        closest = np.minimum(closest, ((sample - sample[pick]) ** 2).sum(axis=1))
    return sample[chosen].astype(np.float32)  # the drawn rows' own values


def _step_split(vectors: Vectors, centroids: np.ndarray, item: Any, buckets: int) -> tuple[list[Sums], None]:
    """The item's `centroid_sums`, cut by centroid index into the buckets."""
    indices, sums, counts = centroid_sums(centroids, vectors(item))
    bucket = indices % buckets
    return [(indices[bucket == b], sums[bucket == b], counts[bucket == b]) for b in range(buckets)], None


def _means(pieces: list[Sums]) -> tuple[np.ndarray, np.ndarray]:
    """Per centroid of the bucket: its index and the mean of its rows (float32), its pieces added in
    item order (a centroid's sum is the same however the centroids are bucketed)."""
    indices = np.unique(np.concatenate([np.empty(0, np.int64), *(piece[0] for piece in pieces)]))
    sums, counts = np.zeros((len(indices), pieces[0][1].shape[1])), np.zeros(len(indices), np.int64)
    for piece_indices, piece_sums, piece_counts in pieces:
        at = np.searchsorted(indices, piece_indices)
        sums[at] += piece_sums
        counts[at] += piece_counts
    return indices, (sums / counts[:, None]).astype(np.float32)
