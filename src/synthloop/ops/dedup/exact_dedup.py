"""`exact_dedup`: drop samples whose images and/or text are identical to an earlier sample's."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any, ClassVar, Literal

import numpy as np

from synthloop.images import ImageError, content_hash
from synthloop.ops.base import Batch, Dedup, Drop, Quarantine, register
from synthloop.ops.dedup_resolve import duplicate_drops, sorted_keys
from synthloop.ops.text import normalize


def text_key(sample: dict) -> str:
    """Hash of the conversation: every turn's role and normalised content, in order."""
    text = "\0".join(f"{m['role']}\0{normalize(m['content'])}" for m in sample["messages"])
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


@register
class ExactDedup(Dedup):
    """`on: image` hashes the encoded image bytes (blake2b, in image order), not decoded pixels:
    no decode is needed, and re-encoded copies are `image_near_dedup`'s job. Samples without
    images are never image duplicates. `on: text` hashes the normalised conversation (NFKC,
    lower case, collapsed whitespace, roles kept). `on: both` needs both to match."""

    name: ClassVar[str] = "exact_dedup"
    on: Literal["image", "text", "both"] = "image"

    def key(self, batch: Batch) -> list[str | None | Quarantine]:
        keys: list[str | None | Quarantine] = []
        for i, sample in enumerate(batch.samples):
            parts = []
            if self.on in ("image", "both"):
                try:
                    images = [content_hash(batch.image_bytes(i, j)) for j in range(len(sample["images"]))]
                except ImageError as err:
                    keys.append(Quarantine(f"image {j}: {err}"))
                    continue
                if not images and self.on == "image":
                    keys.append(None)
                    continue
                parts.append(",".join(images))
            if self.on in ("text", "both"):
                parts.append(text_key(sample))
            keys.append("|".join(parts))
        return keys

    def resolve(self, keys: Iterable[tuple[str, Any]]) -> dict[str, Drop]:
        ids, values = sorted_keys(keys)
        return duplicate_drops(ids, np.array(values, dtype=str))
