"""Semantic dedup's resolve at scale: its k-means fit and cluster comparisons in this process (the
local executor's way) and in Ray tasks on a Ray started on this machine, with the same drops.

    PYTHONPATH=src nice -n 19 .venv/bin/python benchmarks/semantic_scale.py --n 20000 100000

The keys are what `semantic_dedup.key` writes (`same_image: drop`: no conversation digest) for
EfficientNet-Lite0 embeddings, 1,280 float16s per sample, drawn in clumps as embeddings of a mixed
pool are: n / 1,000 topic centres far apart, 25 subtopics around each topic on average, samples
around the subtopics, and one sample in ten a copy of an earlier one plus a little noise (so there
are duplicates to find). Per N: the resolve's wall time in this process
and on Ray (its k-means steps and its comparisons, each timed), whether the drops are identical, and
scipy's kmeans2 on the same vectors, the fit the op used before `ops.kmeans`, for scale.
"""

from __future__ import annotations

import argparse
import os
import time
from functools import partial
from types import SimpleNamespace

import numpy as np

from synthloop.engine.executors import executor_class
from synthloop.ops.dedup.semantic_dedup import SemanticDedup
from synthloop.ops.workers import InThisProcess

DIM = 1280  # EfficientNet-Lite0's embedding


def keys(n: int, seed: int = 0) -> list[tuple[str, bytes]]:
    rng = np.random.default_rng(seed)
    topics = 2 * rng.standard_normal((max(1, n // 1000), DIM), np.float32)
    subtopics = topics[rng.integers(len(topics), size=max(1, n // 40))]
    subtopics += rng.standard_normal(subtopics.shape, np.float32)
    vectors = subtopics[rng.integers(len(subtopics), size=n)] + 2 * rng.standard_normal((n, DIM), np.float32)
    copies = np.flatnonzero(rng.random(n) < 0.1)
    copies = copies[copies > 0]
    vectors[copies] = vectors[rng.integers(copies)] + 0.05 * rng.standard_normal((len(copies), DIM), np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return [(f"s{i:09d}", vector.tobytes()) for i, vector in enumerate(vectors.astype(np.float16))]


class Timed:
    """`Workers` that add up the wall time of each function's calls."""

    def __init__(self, workers):
        self.workers, self.seconds, self.largest = workers, {}, 0

    def place(self, items):
        return self.workers.place(items)

    def map_calls(self, function, items):
        start = time.perf_counter()
        results = self.workers.map_calls(function, items)
        name = getattr(function, "func", function).__name__
        if name == "cluster_drops":
            self.largest = max(len(cluster[0]) for cluster in items)
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start
        return results


def resolve(op: SemanticDedup, items: list[tuple[str, bytes]], workers) -> tuple[dict, float, Timed]:
    timed = Timed(workers)
    start = time.perf_counter()
    drops = op.resolve(items, timed)
    return drops, time.perf_counter() - start, timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, nargs="+", default=[20_000, 100_000])
    args = parser.parse_args()
    op = SemanticDedup(same_image="drop")  # keys without the conversation digest
    spec = executor_class("ray").spec_class(kind="ray", object_store_mb=2048)
    ray = executor_class("ray")(spec, partial(SimpleNamespace, ops=[op]), [])
    try:
        for n in args.n:
            items = keys(n)
            k = max(1, round(n / op.cluster_size))
            local, local_s, local_timed = resolve(op, items, InThisProcess())
            remote, ray_s, ray_timed = resolve(op, items, ray)
            same = local == remote
            vectors = np.stack([np.frombuffer(key, np.float16) for _, key in items]).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            from scipy.cluster.vq import kmeans2

            start = time.perf_counter()
            kmeans2(vectors, k, seed=op.seed, minit="++")
            scipy_s = time.perf_counter() - start
            parts = [f"{where}: {', '.join(f'{name} {s:.1f} s' for name, s in timed.seconds.items())}"
                     for where, timed in (("here", local_timed), ("ray", ray_timed))]
            print(f"n={n:,} k={k} (largest cluster {local_timed.largest:,}): {len(local):,} dropped; resolve here {local_s:.1f} s, on Ray {ray_s:.1f} s "
                  f"({ray_s / local_s:.2f}x); drops identical: {same}; ({'; '.join(parts)}); scipy kmeans2 "
                  f"fit alone {scipy_s:.1f} s; load {os.getloadavg()[0]:.1f}", flush=True)
    finally:
        ray.close()


if __name__ == "__main__":
    main()
