"""`random`: a seeded uniform sample of the pool within the budget."""

from __future__ import annotations

from typing import ClassVar

import pyarrow as pa

from synthloop.ops.base import register
from synthloop.ops.select.budget import (
    BudgetedSelector,
    ids_of,
    seeded_order,
    token_counts,
)


@register
class RandomSelector(BudgetedSelector):
    name: ClassVar[str] = "random"

    def select(self, candidates: pa.Table, seed: int) -> list[str]:
        order = seeded_order(candidates.num_rows, seed)
        return ids_of(candidates, self.take(order, token_counts(candidates)))
