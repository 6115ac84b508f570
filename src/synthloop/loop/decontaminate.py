"""Keep benchmark items out of training data: no benchmark image and no benchmark question.

Images match by content hash of their encoded bytes. Questions match as in GPT-3's
decontamination: a training question is contaminated when it shares any word n-gram (n = 13 by
default) with a benchmark question. Every user turn is checked, not only the first. A sample is
removed when its image or its first question matches; a later turn that matches (a follow-up question
without an image of its own) is cut out with its replies, and the sample keeps its other turns. Short
templated questions ("How many objects are there?") are shared by many benchmark items and carry no
item-specific information, so they never match on their own; what ties such a question to a benchmark
item is its image, which the hash catches.
"""

from __future__ import annotations

import re

from synthloop.images import ImageError, content_hash, image_bytes

NGRAM = 13
IMAGE = "<image>"
_WORD = re.compile(r"[a-z0-9]+")


def ngrams(text: str, n: int = NGRAM) -> set[tuple[str, ...]]:
    """The word n-grams of a question, lower-cased, without `<image>`."""
    words = _WORD.findall(text.replace(IMAGE, " ").lower())
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
        self.question_ngrams = {g for sample in benchmark for m in sample["messages"] if m["role"] == "user"
                                for g in ngrams(m["content"], n)}

    def has_image(self, sample: dict) -> bool:
        return any(h in self.images for h in image_hashes(sample))

    def has_question(self, text: str) -> bool:
        return bool(ngrams(text, self.n) & self.question_ngrams)


def decontaminate(samples: list[dict], index: BenchmarkIndex) -> tuple[list[dict], list[dict]]:
    """(clean samples, removed samples). A removed sample's `meta["decontaminated"]` names the reason; a
    clean one that lost follow-up turns counts them in `meta["decontaminated_turns"]`."""
    clean, removed = [], []
    for sample in samples:
        reason, cut = _contamination(sample, index)
        if reason is not None:
            sample["meta"] = {**sample.get("meta", {}), "decontaminated": reason}
            removed.append(sample)
        elif cut:
            clean.append({**sample, "messages": _without_turns(sample["messages"], cut),
                          "meta": {**sample.get("meta", {}), "decontaminated_turns": len(cut)}})
        else:
            clean.append(sample)
    return clean, removed


def _contamination(sample: dict, index: BenchmarkIndex) -> tuple[str | None, set[int]]:
    """Why the whole sample must go (or None), and the indexes of the follow-up user turns to cut."""
    if index.has_image(sample):
        return "benchmark image", set()
    users = [i for i, m in enumerate(sample["messages"]) if m["role"] == "user"]
    matched = {i for i in users if index.has_question(sample["messages"][i]["content"])}
    first_question = users[0] if users else None
    if first_question in matched or any(IMAGE in sample["messages"][i]["content"] for i in matched):
        return f"benchmark question ({index.n}-gram overlap)", set()
    return None, matched


def _without_turns(messages: list[dict], cut: set[int]) -> list[dict]:
    """`messages` without the user messages at indexes `cut` and the replies that follow each."""
    kept, turn = [], None
    for i, message in enumerate(messages):
        turn = i if message["role"] == "user" else turn
        if turn not in cut:
            kept.append(message)
    return kept
