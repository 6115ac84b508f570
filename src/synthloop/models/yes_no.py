"""P(Yes): a judge's answer read from its next-token distribution, the same way for every backend.

The share of "yes" in the probability of "yes" or "no", every spelling of each word counted (case,
leading space), as Genixer's judge reads P(Yes).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

import torch

YES_WORDS = ("yes",)
NO_WORDS = ("no",)
_WORD = re.compile(r"[^a-z]")


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


def yes_share(probs: torch.Tensor, yes_ids: list[int], no_ids: list[int]) -> list[float]:
    """P(Yes) / (P(Yes) + P(No)) per row of (n, vocab) next-token probabilities, given the token ids
    that spell each word."""
    p_yes, p_no = probs[:, yes_ids].sum(-1), probs[:, no_ids].sum(-1)
    return (p_yes / (p_yes + p_no).clamp_min(1e-30)).tolist()
