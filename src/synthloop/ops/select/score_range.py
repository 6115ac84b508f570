"""`score_range`: keep the top-k, the bottom-k, or a band [low, high] of any score.

Genixer keeps generated pairs whose judge probability lies in [0.5, 0.7]:
`score_range: {score: judge_p, mode: band, low: 0.5, high: 0.7}`. Candidates without the
score are never selected. Ties break by id so the result does not depend on input order.
"""

from __future__ import annotations

from typing import ClassVar, Literal, Self

import numpy as np
import pyarrow as pa
from pydantic import Field, model_validator

from synthloop.ops.base import register
from synthloop.ops.select.budget import (
    BudgetedSelector,
    ids_of,
    score_values,
    seeded_order,
    token_counts,
)


@register
class ScoreRangeSelector(BudgetedSelector):
    name: ClassVar[str] = "score_range"
    score: str = Field(description="score name in meta, e.g. judge_p")
    mode: Literal["top", "bottom", "band"] = Field("band", description="keep the top, the bottom, or [low, high]")
    low: float = Field(-np.inf, description="band lower bound")
    high: float = Field(np.inf, description="band upper bound")

    @model_validator(mode="after")
    def _mode_needs(self) -> Self:
        if self.mode == "band" and self.low > self.high:
            raise ValueError(f"band low {self.low} is above high {self.high}")
        if self.mode != "band" and self.budget is None and self.budget_tokens is None:
            raise ValueError(f"mode {self.mode!r} needs `budget` or `budget_tokens`")
        return self

    def select(self, candidates: pa.Table, seed: int) -> list[str]:
        values = score_values(candidates, self.score)
        has = np.flatnonzero(~np.isnan(values))
        ids = np.asarray(candidates.column("id").to_pylist(), dtype=object)
        if self.mode == "band":
            inside = has[(values[has] >= self.low) & (values[has] <= self.high)]
            # A budget smaller than the band keeps a seeded random part of it, not its top.
            order = inside[seeded_order(len(inside), seed)]
        else:
            key = -values[has] if self.mode == "top" else values[has]
            order = has[np.lexsort((ids[has], key))]
        return ids_of(candidates, self.take(order, token_counts(candidates)))
