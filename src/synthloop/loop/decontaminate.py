"""Keep benchmark items out of training data: no benchmark image and no benchmark question.

Images match by content hash of their encoded bytes. A question matches by its normalised text,
but only when that text identifies a benchmark item: templated questions that several benchmark
images share ("How many objects are there?") carry no item-specific information, and matching
them would remove every training sample of that template.
"""

from __future__ import annotations

import re
from collections import Counter

from synthloop.images import ImageError, content_hash, image_bytes

_SPACE = re.compile(r"\s+")


def question_text(sample: dict) -> str:
    """The first user turn, lower-cased, without `<image>` and with spaces collapsed."""
    for message in sample["messages"]:
        if message["role"] == "user":
            return _SPACE.sub(" ", message["content"].replace("<image>", " ")).strip().lower()
    return ""


def image_hashes(sample: dict) -> list[str]:
    hashes = []
    for ref in sample["images"]:
        try:
            hashes.append(content_hash(image_bytes(ref)))
        except ImageError:
            continue  # an unreadable image cannot leak a benchmark image
    return hashes


class BenchmarkIndex:
    """The images and item-identifying questions of a benchmark."""

    def __init__(self, benchmark: list[dict]):
        self.images = {h for sample in benchmark for h in image_hashes(sample)}
        counts = Counter(question_text(sample) for sample in benchmark)
        self.questions = {text for text, n in counts.items() if n == 1 and text}

    def reason(self, sample: dict) -> str | None:
        """Why `sample` is contaminated, or None when it is clean."""
        if any(h in self.images for h in image_hashes(sample)):
            return "benchmark image"
        if question_text(sample) in self.questions:
            return "benchmark question"
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
