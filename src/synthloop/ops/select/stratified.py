"""`stratified`: exact quotas per group (source, task or qtype), then a choice inside each group.

Quotas follow the target proportions with largest-remainder rounding, so they add up to the
budget exactly; a group with fewer candidates than its quota gives the shortfall to the others
(again in proportion). Inside a group candidates are taken at random, or for diversity
(k-center greedy or cluster-balanced on embeddings): quota-then-diversity.
"""

from __future__ import annotations

from typing import ClassVar, Literal, Self

import numpy as np
import pyarrow as pa
from pydantic import Field, model_validator

from synthloop.apportion import largest_remainder
from synthloop.ops.base import register
from synthloop.ops.select.budget import (
    BudgetedSelector,
    embeddings,
    ids_of,
    seeded_order,
    token_counts,
)
from synthloop.ops.select.diversity import diversity_order


@register
class StratifiedSelector(BudgetedSelector):
    name: ClassVar[str] = "stratified"
    by: Literal["source", "task", "qtype"] = Field("qtype", description="sample field that defines the groups")
    proportions: dict[str, float] | None = Field(None, description="group -> share of the budget; none: equal shares")
    within: Literal["random", "kcenter", "cluster"] = Field("random", description="how to pick inside a group")
    clusters: int = Field(default=8, ge=1, description="k-means clusters (within cluster)")

    @model_validator(mode="after")
    def _needs_budget(self) -> Self:
        if self.budget is None and self.budget_tokens is None:
            raise ValueError("stratified selection needs `budget` or `budget_tokens`")
        if self.proportions is not None and any(p < 0 for p in self.proportions.values()):
            raise ValueError("proportions must not be negative")
        return self

    def select(self, candidates: pa.Table, seed: int) -> list[str]:
        groups = np.asarray(candidates.column(self.by).fill_null("").to_pylist(), dtype=object)
        tokens = token_counts(candidates)
        members = {g: np.flatnonzero(groups == g) for g in sorted(set(groups.tolist()))}
        weights = self.proportions if self.proportions is not None else {g: 1.0 for g in members}
        in_tokens = self.budget_tokens is not None
        capacity = {g: int(tokens[rows].sum()) if in_tokens else len(rows) for g, rows in members.items()}
        quotas = largest_remainder(weights, self.budget_tokens if in_tokens else self.budget, capacity)
        x = embeddings(candidates) if self.within != "random" else None
        chosen: list[np.ndarray] = []
        for index, (group, quota) in enumerate(sorted(quotas.items())):
            rows = members.get(group, np.zeros(0, dtype=np.int64))
            if quota == 0 or len(rows) == 0:
                continue
            limits = {"budget_tokens": quota} if in_tokens else {"budget": quota}
            if x is None:
                order = rows[seeded_order(len(rows), seed + index)]
            else:
                order = rows[diversity_order(x[rows], tokens[rows], self.within, self.clusters, seed + index,
                                             limits.get("budget"), limits.get("budget_tokens"))]
            chosen.append(self.take(order, tokens, **limits))
        return ids_of(candidates, np.concatenate(chosen)) if chosen else []
