"""`diversity`: cover the embedding space, by k-center greedy or cluster-balanced sampling.

k-center greedy (Sener and Savarese 2018) repeatedly takes the candidate farthest from everything
taken so far, which minimises the coverage radius (the largest distance from any candidate to its
nearest selected one) within a factor of 2. Cluster-balanced sampling runs k-means and takes
candidates round-robin across clusters, so small clusters are not drowned by large ones.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field
from scipy.cluster.vq import kmeans2

from synthloop.ops.base import register
from synthloop.ops.select.budget import (
    BudgetedSelector,
    embeddings,
    ids_of,
    token_counts,
)


def kcenter_order(x: np.ndarray, tokens: np.ndarray, seed: int, max_picks: int | None = None,
                  max_tokens: int | None = None) -> np.ndarray:
    """Rows in k-center greedy order, stopping at `max_picks` rows or before `max_tokens` tokens."""
    n = len(x)
    limit = n if max_picks is None else min(max_picks, n)
    if n == 0 or limit == 0:
        return np.zeros(0, dtype=np.int64)
    picks = [int(np.random.default_rng(seed).integers(n))]
    nearest = ((x - x[picks[0]]) ** 2).sum(axis=1)
    spent = int(tokens[picks[0]])
    while len(picks) < limit:
        nearest[picks[-1]] = -1.0  # never pick a row twice (covers exact duplicates too)
        row = int(np.argmax(nearest))
        if nearest[row] < 0:
            break
        if max_tokens is not None and spent + tokens[row] > max_tokens:
            break
        picks.append(row)
        spent += int(tokens[row])
        nearest = np.minimum(nearest, ((x - x[row]) ** 2).sum(axis=1))
    return np.asarray(picks, dtype=np.int64)


def cluster_balanced_order(x: np.ndarray, clusters: int, seed: int) -> np.ndarray:
    """Every row, ordered round-robin over k-means clusters (a seeded random order inside each)."""
    n = len(x)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    k = max(1, min(clusters, n))
    _, labels = kmeans2(x.astype(np.float64), k, minit="++", rng=np.random.default_rng(seed))
    shuffle = np.random.default_rng(seed + 1).permutation(n)
    shuffled_labels = labels[shuffle]
    # Rank of each row among the rows of its own cluster, in shuffled order.
    by_cluster = np.argsort(shuffled_labels, kind="stable")
    starts = np.searchsorted(shuffled_labels[by_cluster], shuffled_labels[by_cluster], side="left")
    rank = np.empty(n, dtype=np.int64)
    rank[by_cluster] = np.arange(n) - starts
    return shuffle[np.lexsort((shuffled_labels, rank))]


def coverage_radius(x: np.ndarray, chosen: np.ndarray) -> float:
    """Largest Euclidean distance from any row of `x` to its nearest chosen row."""
    nearest = np.full(len(x), np.inf)
    for row in chosen:
        nearest = np.minimum(nearest, ((x - x[row]) ** 2).sum(axis=1))
    return float(np.sqrt(nearest.max()))


def diversity_order(x: np.ndarray, tokens: np.ndarray, method: str, clusters: int, seed: int,
                    budget: int | None, budget_tokens: int | None) -> np.ndarray:
    if method == "kcenter":
        return kcenter_order(x, tokens, seed, budget, budget_tokens)
    return cluster_balanced_order(x, clusters, seed)


@register
class DiversitySelector(BudgetedSelector):
    name: ClassVar[str] = "diversity"
    method: Literal["kcenter", "cluster"] = Field("kcenter", description="farthest-first, or k-means round-robin")
    clusters: int = Field(default=16, ge=1, description="k-means clusters (method cluster)")

    def select(self, candidates: pa.Table, seed: int) -> list[str]:
        x, tokens = embeddings(candidates), token_counts(candidates)
        order = diversity_order(x, tokens, self.method, self.clusters, seed, self.budget, self.budget_tokens)
        return ids_of(candidates, self.take(order, tokens))
