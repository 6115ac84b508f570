"""`text_length`: bounds on the characters and words of a sample's text."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from synthloop.ops.base import Batch, Drop, Filter, register
from synthloop.ops.text import Role, sample_text


@register
class TextLength(Filter):
    """Text = the contents of `role`'s messages (all by default) joined by newlines, `<image>` removed,
    stripped. Characters are `len(text)`; words are whitespace-separated tokens.
    Scores: `text_chars`, `text_words`."""

    name: ClassVar[str] = "text_length"
    min_chars: int = Field(0, ge=0, description="fewest characters kept")
    max_chars: int | None = Field(None, ge=0, description="most characters kept; none: no limit")
    min_words: int = Field(0, ge=0, description="fewest words kept")
    max_words: int | None = Field(None, ge=0, description="most words kept; none: no limit")
    role: Role = Field("all", description="whose turns count: all, user or assistant")

    def compute(self, batch: Batch) -> list[tuple[int, int]]:
        values = []
        for sample in batch.samples:
            text = sample_text(sample, self.role)
            chars, words = len(text), len(text.split())
            sample["scores"]["text_chars"] = float(chars)
            sample["scores"]["text_words"] = float(words)
            values.append((chars, words))
        return values

    def decide(self, value: tuple[int, int]) -> Drop | None:
        chars, words = value
        if chars < self.min_chars:
            return Drop(f"{chars} characters < min_chars {self.min_chars}", value=chars)
        if self.max_chars is not None and chars > self.max_chars:
            return Drop(f"{chars} characters > max_chars {self.max_chars}", value=chars)
        if words < self.min_words:
            return Drop(f"{words} words < min_words {self.min_words}", value=words)
        if self.max_words is not None and words > self.max_words:
            return Drop(f"{words} words > max_words {self.max_words}", value=words)
        return None
