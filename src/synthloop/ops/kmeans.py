"""k-means whose labels do not depend on where its arithmetic runs (not an op; semantic dedup's clustering).

Lloyd's iterations over fixed blocks of `BLOCK_ROWS` rows: each block's step (assign its rows to
the nearest centroid; per centroid, the sum of its rows in float64 and their count) can run
anywhere (`Workers.map_calls`: here, or in an executor's tasks), and the caller adds the blocks'
partial sums in block order. The blocks are cut by row count alone, so one machine and a cluster of
any size add the same numbers in the same order and reach the same centroids and labels, bit for
bit, where the nodes run the same numpy build on the same CPU kind (a step's distances are a BLAS
matrix product, whose result does not depend on its thread count here, tests/test_kmeans.py, but
may on another CPU's kernels). Initial centroids: k-means++ (D² sampling) over a sample of `INIT_SAMPLE` rows per centroid
drawn with the seed, on the caller.

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

from synthloop.ops.workers import InThisProcess, Workers

BLOCK_ROWS = 4096  # rows per block: the unit of the partial sums (never depends on the workers)
INIT_SAMPLE = 64  # rows sampled per centroid for k-means++
ITERATIONS = 10  # Lloyd steps at most (scipy's kmeans2 default); fewer once the labels repeat


def kmeans_labels(vectors: np.ndarray, k: int, seed: int, workers: Workers | None = None,
                  iterations: int = ITERATIONS) -> np.ndarray:
    """The cluster (0..k-1) of each row of `vectors` (float32, n x d) after Lloyd's iterations from a
    seeded k-means++ start. A centroid left with no rows keeps its place."""
    workers = workers or InThisProcess()
    n = len(vectors)
    if k <= 1 or n <= 1:
        return np.zeros(n, np.int32)
    centroids = initial_centroids(vectors, min(k, n), seed)
    blocks = workers.place([vectors[lo:lo + BLOCK_ROWS] for lo in range(0, n, BLOCK_ROWS)])
    labels = None
    for _ in range(iterations):
        steps = workers.map_calls(partial(block_step, centroids), blocks)
        new_labels = np.concatenate([step[0] for step in steps])
        if labels is not None and np.array_equal(new_labels, labels):
            break
        labels = new_labels
        sums, counts = np.zeros(centroids.shape), np.zeros(len(centroids), np.int64)
        for _, block_sums, block_counts in steps:  # in block order: the same additions wherever the steps ran
            sums += block_sums
            counts += block_counts
        filled = counts > 0
        centroids = centroids.copy()
        centroids[filled] = sums[filled] / counts[filled, None]
    return labels


def initial_centroids(vectors: np.ndarray, k: int, seed: int) -> np.ndarray:
    """k-means++ (each next centroid drawn with probability proportional to the squared distance to
    the nearest one drawn) over `INIT_SAMPLE * k` rows drawn with `seed`; float64, k x d."""
    rng = np.random.default_rng(seed)
    n = len(vectors)
    rows = np.sort(rng.choice(n, INIT_SAMPLE * k, replace=False)) if n > INIT_SAMPLE * k else np.arange(n)
    sample = vectors[rows].astype(np.float64)
    chosen = [int(rng.integers(len(sample)))]
    nearest = ((sample - sample[chosen[0]]) ** 2).sum(axis=1)
    for _ in range(k - 1):
        total = nearest.sum()
        pick = int(rng.choice(len(sample), p=nearest / total)) if total > 0 else int(rng.integers(len(sample)))
        chosen.append(pick)
        nearest = np.minimum(nearest, ((sample - sample[pick]) ** 2).sum(axis=1))
    return sample[chosen]


def block_step(centroids: np.ndarray, block: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One block's part of a Lloyd step: (the nearest centroid of each row, in the rows' float32 as
    scipy's vq assigns (the first on a tie); per centroid the float64 sum of its rows, added in row
    order; per centroid its row count)."""
    near = centroids.astype(np.float32)
    distances = (near**2).sum(axis=1)[None, :] - 2 * (block @ near.T)  # |x - c|² less |x|²
    labels = distances.argmin(axis=1).astype(np.int32)
    counts = np.bincount(labels, minlength=len(centroids)).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])[counts > 0]
    sums = np.zeros(centroids.shape)
    if len(starts):
        sums[counts > 0] = np.add.reduceat(block[np.argsort(labels, kind="stable")], starts, axis=0, dtype=np.float64)
    return labels, sums, counts
