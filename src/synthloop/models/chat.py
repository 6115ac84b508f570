"""Helpers shared by backends: chat messages with `<image>` placeholders, yes/no probabilities."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from synthloop.sample import IMAGE_TOKEN

YES_WORDS = ("yes",)
NO_WORDS = ("no",)
_WORD = re.compile(r"[^a-z]")


def content_parts(content: str) -> list[str | None]:
    """Split a message into text pieces and `None` where each `<image>` goes (empty text dropped)."""
    parts: list[str | None] = []
    for k, text in enumerate(content.split(IMAGE_TOKEN)):
        if k > 0:
            parts.append(None)
        if text.strip():
            parts.append(text)
    return parts


def yes_probability(top: Iterable[tuple[str, float]]) -> float:
    """P(Yes) / (P(Yes) + P(No)) from next-token (text, log-prob) pairs; NaN if neither appears.

    Every spelling of a word ("Yes", " yes", "YES") adds to its probability, as tokenizers split
    the same answer into several tokens depending on the leading space and case.
    """
    p_yes = p_no = 0.0
    for text, logprob in top:
        word = _WORD.sub("", text.lower())
        if word in YES_WORDS:
            p_yes += math.exp(logprob)
        elif word in NO_WORDS:
            p_no += math.exp(logprob)
    total = p_yes + p_no
    return p_yes / total if total > 0 else math.nan
