"""`score_range`: keep the top-k, the bottom-k, or a band [low, high] of any score.

Genixer keeps generated pairs whose judge probability lies in [0.5, 0.7]:
`score_range: {score: judge_p, mode: band, low: 0.5, high: 0.7}`. Candidates without the
score are never selected. Ties break by id so the result does not depend on input order.

`fraction` keeps a share instead of a budget, and `per: input_shard` ranks and cuts each input file
of a URL input on its own. VILA keeps the 20% of each COYO-700M metadata shard with the highest CLIP
similarity (NVlabs/VILA@b760c34, data_prepare/coyo/coyo_downloader.py: `clip_sim` is the sum of
`clip_similarity_vitb32` and `clip_similarity_vitl14`, the top `int(n * 0.2)` rows of the shard's n):
`score_range: {score: clip_similarity_vitb32+clip_similarity_vitl14, mode: top, fraction: 0.2,
per: input_shard}`; a `score` of names joined by `+` is their sum. The share is of the shard's
candidates, rounded down, as VILA's `int(n * 0.2)`.
"""

from __future__ import annotations

from typing import ClassVar, Literal, Self

import numpy as np
import pyarrow as pa
from pydantic import Field, model_validator

from synthloop.formats.urls import INPUT_SHARD
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
    fraction: float | None = Field(None, gt=0, le=1, description="top/bottom: keep this share (rounded down) "
                                                                 "instead of a budget")
    per: Literal["all", "input_shard"] = Field("all", description="rank all candidates together, or each input "
                                                                 "file of a URL input (meta.input_shard) apart")

    @model_validator(mode="after")
    def _mode_needs(self) -> Self:
        if self.mode == "band" and self.low > self.high:
            raise ValueError(f"band low {self.low} is above high {self.high}")
        budgets = [b for b in (self.budget, self.budget_tokens, self.fraction) if b is not None]
        if self.mode != "band" and len(budgets) != 1:
            raise ValueError(f"mode {self.mode!r} needs `budget`, `budget_tokens` or `fraction` (one of them)")
        if (self.fraction is not None or self.per != "all") and (self.mode == "band" or self.fraction is None):
            raise ValueError("`fraction` and `per` go together with mode top or bottom (per: all or input_shard)")
        return self

    def select(self, candidates: pa.Table, seed: int) -> list[str]:
        values = sum(score_values(candidates, name.strip()) for name in self.score.split("+"))
        ids = np.asarray(candidates.column("id").to_pylist(), dtype=object)
        if self.mode == "band":
            has = np.flatnonzero(~np.isnan(values))
            inside = has[(values[has] >= self.low) & (values[has] <= self.high)]
            # A budget smaller than the band keeps a seeded random part of it, not its top.
            order = inside[seeded_order(len(inside), seed)]
            return ids_of(candidates, self.take(order, token_counts(candidates)))
        if self.fraction is None:
            return ids_of(candidates, self.take(self._ranked(np.arange(len(ids)), values, ids),
                                                token_counts(candidates)))
        kept = [self._ranked(rows, values, ids)[: int(len(rows) * self.fraction)] for rows in self._groups(candidates)]
        return ids_of(candidates, np.concatenate(kept) if kept else np.array([], dtype=np.int64))

    def _ranked(self, rows: np.ndarray, values: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """`rows` that have the score, best first, ties by id."""
        has = rows[~np.isnan(values[rows])]
        key = -values[has] if self.mode == "top" else values[has]
        return has[np.lexsort((ids[has], key))]

    def _groups(self, candidates: pa.Table) -> list[np.ndarray]:
        if self.per == "all":
            return [np.arange(candidates.num_rows)]
        if INPUT_SHARD not in candidates.column_names:
            raise ValueError("per: input_shard needs samples from a urls or mmc4 input (their meta.input_shard)")
        shards = np.asarray(candidates.column(INPUT_SHARD).fill_null("").to_pylist(), dtype=object)
        return [np.flatnonzero(shards == shard) for shard in sorted(set(shards.tolist()))]
