"""`exact_dedup`: drop samples whose images and/or text are identical to an earlier sample's."""

from __future__ import annotations

import hashlib
from typing import ClassVar, Literal

import pyarrow as pa

from synthloop.ops.base import Batch, Quarantine, register
from synthloop.ops.dedup_resolve import ColumnarDedup, Duplicates, Keys, all_keys, find_duplicates, fixed_width
from synthloop.ops.image_checks import per_image
from synthloop.ops.text import normalize


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def text_key(sample: dict) -> str:
    """Hash of the conversation: every turn's role and normalised content, in order."""
    return _digest("\0".join(f"{m['role']}\0{normalize(m['content'])}" for m in sample["messages"]))


@register
class ExactDedup(ColumnarDedup):
    """`on: image` hashes the encoded image bytes (blake2b, in image order), not decoded pixels:
    no decode is needed, and re-encoded copies are `image_near_dedup`'s job. Samples without
    images are never image duplicates. `on: text` hashes the normalised conversation (NFKC, lower
    case, collapsed whitespace, roles kept). `on: both` needs both to match (text-only samples
    then compare on text). Key: a 16-byte hash of the parts."""

    name: ClassVar[str] = "exact_dedup"
    on: Literal["image", "text", "both"] = "image"

    def key_type(self) -> pa.DataType:
        return pa.binary(16)

    def key(self, batch: Batch) -> list[bytes | None | Quarantine]:
        with_images = self.on in ("image", "both")
        image_hashes = per_image(batch, Batch.image_hash) if with_images else []
        keys: list[bytes | None | Quarantine] = []
        for i, sample in enumerate(batch.samples):
            parts = []
            if with_images:
                hashes = image_hashes[i]
                if isinstance(hashes, Quarantine) or (not hashes and self.on == "image"):
                    keys.append(hashes or None)
                    continue
                parts.append(",".join(hashes))
            if self.on in ("text", "both"):
                parts.append(text_key(sample))
            keys.append(hashlib.blake2b("|".join(parts).encode(), digest_size=16).digest())
        return keys

    def duplicates(self, keys: Keys) -> Duplicates:
        return find_duplicates(fixed_width(all_keys(keys), "<u8"))  # (n, 2): 16 bytes each
