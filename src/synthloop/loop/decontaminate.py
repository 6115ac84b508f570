"""Keep benchmark items out of training data: no benchmark image and no benchmark question.

Images match by content hash of their encoded bytes. Questions match as in GPT-3's
decontamination: a training question is contaminated when it shares any word n-gram (n = 13 by
default) with a benchmark question. Short templated questions ("How many objects are there?")
are shared by many benchmark items and carry no item-specific information, so they never match on
their own; what ties such a question to a benchmark item is its image, which the hash catches.
"""

from __future__ import annotations

import re

from synthloop.images import ImageError, content_hash, image_bytes

NGRAM = 13
_WORD = re.compile(r"[a-z0-9]+")


def question_text(sample: dict) -> str:
    """The first user turn, lower-cased, without `<image>`."""
    for message in sample["messages"]:
        if message["role"] == "user":
            return message["content"].replace("<image>", " ").lower()
    return ""


def ngrams(text: str, n: int = NGRAM) -> set[tuple[str, ...]]:
    words = _WORD.findall(text)
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def image_hashes(sample: dict) -> list[str]:
    hashes = []
    for ref in sample["images"]:
        try:
            hashes.append(content_hash(image_bytes(ref)))
        except ImageError:
            continue  # an unreadable image cannot leak a benchmark image
    return hashes


class BenchmarkIndex:
    """The image hashes and question n-grams of a benchmark."""

    def __init__(self, benchmark: list[dict], n: int = NGRAM):
        self.n = n
        self.images = {h for sample in benchmark for h in image_hashes(sample)}
        self.question_ngrams = {g for sample in benchmark for g in ngrams(question_text(sample), n)}

    def reason(self, sample: dict) -> str | None:
        """Why `sample` is contaminated, or None when it is clean."""
        if any(h in self.images for h in image_hashes(sample)):
            return "benchmark image"
        if ngrams(question_text(sample), self.n) & self.question_ngrams:
            return f"benchmark question ({self.n}-gram overlap)"
        return None


def decontaminate(samples: list[dict], index: BenchmarkIndex) -> tuple[list[dict], list[dict]]:
    """(clean samples, removed samples with `meta["decontaminated"]` naming the reason)."""
    clean, removed = [], []
    for sample in samples:
        reason = index.reason(sample)
        if reason is None:
            clean.append(sample)
        else:
            sample["meta"] = {**sample.get("meta", {}), "decontaminated": reason}
            removed.append(sample)
    return clean, removed
