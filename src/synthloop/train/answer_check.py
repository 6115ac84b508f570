"""Whether a trained checkpoint answers at all.

A model that has not learnt enough ends every reply at once: each generation is the empty string,
and an evaluation scores 0.0 on every question type without saying why. After `synthloop train`,
the checkpoint answers the first user turn of a seeded draw of its own training samples (greedy,
16 new tokens); when every answer is empty, the command fails and says so.
"""

from __future__ import annotations

import random
from pathlib import Path

from synthloop.images import decode, image_bytes
from synthloop.models.protocols import Request
from synthloop.models.tinyvlm.checkpoint import load_checkpoint
from synthloop.sample import IMAGE_TOKEN


def _first_question(sample: dict) -> list[dict] | None:
    """The messages up to the first assistant turn, when that turn answers a user turn holding every image."""
    for k, message in enumerate(sample["messages"]):
        if message["role"] == "assistant":
            prompt = sample["messages"][:k]
            found = sum(m["content"].count(IMAGE_TOKEN) for m in prompt)
            return prompt if k and found == len(sample["images"]) else None
    return None


def empty_answers(checkpoint: str | Path, samples: list[dict], n: int = 32, seed: int = 0) -> tuple[int, int]:
    """(empty answers, questions asked) for up to `n` of `samples`."""
    chosen = [s for s in samples if _first_question(s) is not None]
    chosen = random.Random(seed).sample(chosen, min(n, len(chosen)))
    if not chosen:
        return 0, 0
    requests = [Request(images=[decode(image_bytes(ref)) for ref in s["images"]], messages=_first_question(s))
                for s in chosen]
    answers = load_checkpoint(checkpoint).generate(requests, max_new_tokens=16)
    return sum(not a.text.strip() for a in answers), len(answers)
