"""`ops.kmeans`: Lloyd's k-means over items cut into fixed blocks gives the same labels wherever its
steps run (here, or in other processes with another BLAS thread count and bucket count, in any
completion order), reaches a Lloyd fixed point, and partitions like scikit-learn's KMeans (the
field's reference implementation)."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from functools import partial

import numpy as np
import pytest
import threadpoolctl

from synthloop.ops import kmeans
from synthloop.ops.kmeans import BLOCK_ROWS, centroid_sums, fit, nearest
from synthloop.ops.workers import InThisProcess


def blobs(n: int, k: int, d: int = 32, spread: float = 0.05, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """n unit vectors around k random unit centres, and the centre of each."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((k, d))
    truth = rng.integers(k, size=n)
    vectors = (centres[truth] / np.linalg.norm(centres[truth], axis=1, keepdims=True)
               + spread * rng.standard_normal((n, d))).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True), truth


def kmeans_labels(vectors: np.ndarray, k: int, seed: int, workers=None, iterations: int = kmeans.ITERATIONS,
                  item_rows: int = 2 * BLOCK_ROWS + 7) -> np.ndarray:
    """The labels of `fit` over the vectors cut into items of `item_rows` rows (a stage's parts)."""
    items = [vectors[lo:lo + item_rows] for lo in range(0, len(vectors), item_rows)]
    counts = [len(item) for item in items]
    return nearest(fit(items, counts, np.asarray, k, seed, workers or InThisProcess(), iterations), vectors)


def _one_thread() -> None:
    threadpoolctl.threadpool_limits(1)


class OtherProcesses:
    """`Workers` in two other processes at one BLAS thread each, with 3 buckets, results gathered in
    order."""

    def __init__(self, pool: ProcessPoolExecutor):
        self.pool, self.steps = pool, 0

    def map_calls(self, function, items):
        futures = [self.pool.submit(function, item) for item in reversed(items)]  # submitted last item first
        return [future.result() for future in reversed(futures)]

    def group(self, items, split, combine):
        self.steps += 1
        splits = self.map_calls(partial(split, buckets=3), items)
        results = self.map_calls(combine, [[pieces[b] for pieces, _ in splits] for b in range(3)])
        return [note for _, note in splits], results


def test_labels_are_the_same_wherever_the_steps_run():
    vectors, _ = blobs(3 * BLOCK_ROWS + 123, 12, spread=0.6)  # overlapping: many rows near a boundary
    here = kmeans_labels(vectors, 12, seed=3)
    with ProcessPoolExecutor(2, initializer=_one_thread) as pool:
        workers = OtherProcesses(pool)
        there = kmeans_labels(vectors, 12, seed=3, workers=workers)
    assert workers.steps > 3  # the start and several Lloyd steps over 2 items ran in the other processes
    assert there.dtype == np.int32 and np.array_equal(here, there)
    assert not np.array_equal(here, kmeans_labels(vectors, 12, seed=4))  # the seed matters


def test_centroid_sums_add_each_centroids_rows():
    vectors, _ = blobs(BLOCK_ROWS + 500, 4)  # two blocks
    centroids = vectors[[0, 1, 2, 3]].astype(np.float64)
    labels = nearest(centroids, vectors)
    closest = ((vectors[:, None, :].astype(np.float64) - centroids[None]) ** 2).sum(axis=2).argmin(axis=1)
    assert np.array_equal(labels, closest)
    indices, sums, counts = centroid_sums(centroids, vectors)
    assert indices.tolist() == [0, 1, 2, 3] and counts.sum() == len(vectors)
    for c in range(4):
        assert counts[c] == (labels == c).sum()
        assert np.allclose(sums[c], vectors[labels == c].astype(np.float64).sum(axis=0), rtol=0, atol=1e-9)


def test_converged_labels_are_a_lloyd_fixed_point():
    vectors, _ = blobs(2 * BLOCK_ROWS, 6, spread=0.3)
    labels = kmeans_labels(vectors, 6, seed=0, iterations=50)
    means = np.stack([vectors[labels == c].astype(np.float64).mean(axis=0) for c in range(6)])
    assert np.array_equal(nearest(means, vectors), labels)  # every row is nearest its own cluster's mean


def test_partition_matches_scikit_learn_on_separated_clusters():
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    vectors, truth = blobs(5000, 8, spread=0.02)
    ours = kmeans_labels(vectors, 8, seed=0)
    theirs = KMeans(8, n_init=10, random_state=0).fit_predict(vectors)
    assert adjusted_rand_score(truth, theirs) == 1.0
    assert adjusted_rand_score(ours, theirs) == 1.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_inertia_is_close_to_scikit_learns(seed):
    from sklearn.cluster import KMeans

    vectors, _ = blobs(6000, 20, d=48, spread=0.4, seed=seed)
    labels = kmeans_labels(vectors, 20, seed=seed)
    means = np.stack([vectors[labels == c].mean(axis=0) for c in np.unique(labels)])
    ours = ((vectors - means[np.searchsorted(np.unique(labels), labels)]) ** 2).sum()
    theirs = KMeans(20, n_init=1, max_iter=kmeans.ITERATIONS, random_state=seed).fit(vectors).inertia_
    assert ours <= 1.02 * theirs


def test_one_cluster_or_one_row():
    vectors, _ = blobs(10, 2)
    assert np.array_equal(kmeans_labels(vectors, 1, seed=0), np.zeros(10, np.int32))
    assert np.array_equal(kmeans_labels(vectors[:1], 5, seed=0), np.zeros(1, np.int32))
    assert sorted(set(kmeans_labels(vectors[:3], 5, seed=0, workers=InThisProcess()).tolist())) == [0, 1, 2]
