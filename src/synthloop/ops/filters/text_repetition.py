"""`text_repetition`: drop degenerate text that repeats the same word n-grams."""

from __future__ import annotations

from collections import Counter
from typing import ClassVar

from pydantic import Field

from synthloop.ops.base import Batch, Drop, Filter, register
from synthloop.ops.text import Role, sample_text, words


def repetition_ratio(text: str, n: int) -> float:
    """Share of word n-gram occurrences whose n-gram occurs more than once (Data-Juicer's word
    repetition ratio). Words are lower-case `\\w+` tokens; text with fewer than n words scores 0.

    "a b c a b c", n=2: bigrams ab, bc, ca, ab, bc -> ab and bc repeat -> 4 / 5 = 0.8.
    """
    tokens = words(text)
    total = len(tokens) - n + 1
    if total <= 0:
        return 0.0
    counts = Counter(tuple(tokens[k : k + n]) for k in range(total))
    return sum(c for c in counts.values() if c > 1) / total


@register
class TextRepetition(Filter):
    """Score `text_repetition` over the text of `role` (see `text_length` for what the text is)."""

    name: ClassVar[str] = "text_repetition"
    n: int = Field(3, ge=1, description="n-gram length")
    max_ratio: float = Field(0.5, ge=0, le=1, description="highest share of repeated n-grams kept")
    role: Role = Field("all", description="whose turns count: all, user or assistant")

    def compute(self, batch: Batch) -> list[float]:
        return [repetition_ratio(sample_text(sample, self.role), self.n) for sample in batch.samples]

    def decide(self, value: float) -> Drop | None:
        if value > self.max_ratio:
            return Drop(f"{self.n}-gram repetition ratio {value:.3f} > {self.max_ratio}", value=value)
        return None
