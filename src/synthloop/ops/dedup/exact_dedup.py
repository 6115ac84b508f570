"""`exact_dedup`: drop samples whose images and/or text are identical to an earlier sample's."""

from __future__ import annotations

import hashlib
from typing import ClassVar, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field, model_validator

from synthloop.ops.base import Batch, Quarantine, register
from synthloop.ops.dedup_resolve import (ColumnarDedup, Duplicates, Keys, SameImage, all_keys, find_duplicates,
                                         fixed_width)
from synthloop.ops.image_checks import per_image
from synthloop.ops.text import conversation_digest


@register
class ExactDedup(SameImage, ColumnarDedup):
    """`on: image` hashes the encoded image bytes (blake2b, in image order), not decoded pixels:
    no decode is needed, and re-encoded copies are `image_near_dedup`'s job; with the default
    `same_image: keep` the conversation is part of the key too, so different questions about one
    image all stay (`merge` and `drop`: see `SameImage`). Samples without images are never image
    duplicates. `on: text` hashes the normalised conversation (NFKC, lower case, collapsed
    whitespace, roles kept). `on: both` needs both to match (text-only samples then compare on
    text). Key: a 16-byte hash of the parts."""

    name: ClassVar[str] = "exact_dedup"
    bucketed: ClassVar[bool] = True
    on: Literal["image", "text", "both"] = Field("image", description="identical image bytes, text, or both")

    @model_validator(mode="after")
    def _same_image_needs_images_alone(self) -> ExactDedup:
        if self.same_image != "keep" and self.on != "image":
            raise ValueError(f"same_image: {self.same_image} needs on: image (on: {self.on} keys the text)")
        return self

    def key_type(self) -> pa.DataType:
        return pa.binary(16)

    def key(self, batch: Batch) -> list[bytes | None | Quarantine]:
        with_images = self.on in ("image", "both")
        with_text = self.on != "image" or self.keys_conversation
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
            if with_text:
                parts.append(conversation_digest(sample).hex())
            keys.append(hashlib.blake2b("|".join(parts).encode(), digest_size=16).digest())
        return keys

    def duplicates(self, keys: Keys) -> Duplicates:
        return find_duplicates(fixed_width(all_keys(keys), "<u8"))  # (n, 2): 16 bytes each

    def bucket_hashes(self, values: pa.Array) -> np.ndarray:
        return fixed_width(values, "<u8")[:, :1]  # the key's first 8 bytes (it is a blake2b hash)
