"""What every selector shares: a budget in samples or in tokens, and reading candidate columns.

A selector ranks candidates (best first); the budget then keeps the longest prefix of that
ranking that fits. Selection works on compact columns only, never on full rows.
"""

from __future__ import annotations

from typing import Self

import numpy as np
import orjson
import pyarrow as pa
from pydantic import Field, field_validator, model_validator

from synthloop.models.token_count import image_token_count, load_tokenizer, sample_lengths
from synthloop.models.protocols import ModelError
from synthloop.ops.base import Selector


class BudgetedSelector(Selector):
    """A selector with a budget: `budget` samples or `budget_tokens` tokens (at most one).

    Tokens are counted by `tokenizer` (a local Hugging Face tokenizer folder or `smollm2`; none:
    whitespace words) plus `image_tokens` per image (a number, or a LLaVA processor/model folder whose
    count is read when the recipe loads; `models.token_count`). With neither budget,
    every candidate the selector ranks is kept (useful for `score_range` bands).
    """

    budget: int | None = Field(default=None, ge=0, description="samples to keep")
    budget_tokens: int | None = Field(default=None, ge=0, description="tokens to keep (see tokenizer, image_tokens)")
    tokenizer: str | None = Field(default=None, description="tokenizer folder or 'smollm2'; none: whitespace words")
    image_tokens: int | str = Field(default=0, description="tokens per image, e.g. 576 for LLaVA-1.5 at 336 px, "
                                    "or a LLaVA processor/model folder")

    @field_validator("tokenizer")
    @classmethod
    def _loads(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                load_tokenizer(value)
            except ModelError as err:
                raise ValueError(str(err)) from None
        return value

    @field_validator("image_tokens")
    @classmethod
    def _counts(cls, value: int | str) -> int:
        try:
            count = image_token_count(value)
        except ModelError as err:
            raise ValueError(str(err)) from None
        if count < 0:
            raise ValueError("image_tokens must be >= 0")
        return count

    def count_tokens(self, samples: list[dict]) -> list[int]:
        if self.tokenizer is None and self.image_tokens == 0:
            return super().count_tokens(samples)
        return sample_lengths(samples, self.tokenizer, self.image_tokens)

    @model_validator(mode="after")
    def _one_budget(self) -> Self:
        if self.budget is not None and self.budget_tokens is not None:
            raise ValueError("give `budget` (samples) or `budget_tokens`, not both")
        return self

    def take(self, order: np.ndarray, tokens: np.ndarray, budget: int | None = None,
             budget_tokens: int | None = None) -> np.ndarray:
        """The longest prefix of `order` (row indices, best first) within the budget (default: the op's)."""
        if budget is None and budget_tokens is None:
            budget, budget_tokens = self.budget, self.budget_tokens
        if budget is not None:
            return order[:budget]
        if budget_tokens is not None:
            fits = np.cumsum(tokens[order]) <= budget_tokens
            return order[: len(order) if fits.all() else int(np.argmin(fits))]
        return order


def ids_of(candidates: pa.Table, rows: np.ndarray) -> list[str]:
    return candidates.column("id").take(pa.array(rows, type=pa.int64())).to_pylist()


def token_counts(candidates: pa.Table) -> np.ndarray:
    """Tokens per candidate (1 each when the column is absent, so a token budget counts samples)."""
    if "tokens" not in candidates.column_names:
        return np.ones(candidates.num_rows, dtype=np.int64)
    return candidates.column("tokens").fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)


def score_values(candidates: pa.Table, key: str) -> np.ndarray:
    """`scores[key]` of every candidate as float64; NaN where a candidate has no such score."""
    values = np.full(candidates.num_rows, np.nan)
    for row, text in enumerate(candidates.column("scores").to_pylist()):
        value = orjson.loads(text).get(key) if text else None
        if value is not None:
            values[row] = value
    return values


def embeddings(candidates: pa.Table) -> np.ndarray:
    """The `embedding` column as an (n, d) float32 matrix; a clear error when there is none."""
    if "embedding" not in candidates.column_names:
        raise ValueError("this selector needs an `embedding` column: run an embedding op (e.g. `embed`) before it")
    column = candidates.column("embedding").combine_chunks()
    if column.null_count:
        raise ValueError(f"{column.null_count} candidate(s) have no embedding")
    flat = column.flatten().to_numpy(zero_copy_only=False).astype(np.float32)
    return flat.reshape(candidates.num_rows, -1)


def seeded_order(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).permutation(n)
