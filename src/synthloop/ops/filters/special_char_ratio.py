"""`special_char_ratio`: drop text that is mostly symbols (markup debris, encoding garbage)."""

from __future__ import annotations

import re
from typing import ClassVar

from pydantic import Field

from synthloop.ops.base import Batch, Drop, Filter, register
from synthloop.ops.text import Role, sample_text

# Special: neither a Unicode letter or digit nor whitespace (`_` counts as special).
_SPECIAL = re.compile(r"[^\w\s]|_")


def special_ratio(text: str) -> float:
    """Special characters / all characters; 0 for empty text."""
    return len(_SPECIAL.findall(text)) / len(text) if text else 0.0


@register
class SpecialCharRatio(Filter):
    """Score `special_char_ratio` over the text of `role` (see `text_length` for what the text is)."""

    name: ClassVar[str] = "special_char_ratio"
    min_ratio: float = Field(0.0, ge=0, le=1, description="lowest special-character share kept")
    max_ratio: float = Field(0.25, ge=0, le=1, description="highest special-character share kept")
    role: Role = Field("all", description="whose turns count: all, user or assistant")

    def compute(self, batch: Batch) -> list[float]:
        return [special_ratio(sample_text(sample, self.role)) for sample in batch.samples]

    def decide(self, value: float) -> Drop | None:
        if value < self.min_ratio:
            return Drop(f"special character ratio {value:.3f} < {self.min_ratio}", value=value)
        if value > self.max_ratio:
            return Drop(f"special character ratio {value:.3f} > {self.max_ratio}", value=value)
        return None
