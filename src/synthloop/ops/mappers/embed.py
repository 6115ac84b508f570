"""`embed`: store an L2-normalised embedding of each sample's first image (or of its text) in
`meta["embedding"]`, where diversity selectors and the engine read it."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from synthloop.models.protocols import ImageEmbedder, TextEmbedder
from synthloop.ops.base import Batch, Mapper, Outcome, register
from synthloop.ops.model_op import ModelParams, image_requests, strip_image_tokens


def sample_text(sample: dict) -> str:
    return " ".join(strip_image_tokens(m["content"]) for m in sample["messages"])


@register
class Embed(ModelParams, Mapper):
    name: ClassVar[str] = "embed"
    pixels: ClassVar[int | None] = 224
    model: str = Field("pkg:efficientnet-lite0", description="embedding model URI")
    source: Literal["image", "text"] = Field("image", description="embed the first image or the text")
    # rounding keeps the JSON in `meta` compact
    decimals: int = Field(4, description="rounding of the stored vector")

    def uses_images(self) -> bool:
        return self.source == "image"

    def needed_protocol(self) -> type:
        return ImageEmbedder if self.source == "image" else TextEmbedder

    def embeddings(self, batch: Batch) -> tuple[dict[int, Any], np.ndarray, list[int]]:
        """(quarantines by row, (m, d) embeddings, the rows they belong to); cached by content."""
        if self.source == "text":
            rows = list(range(len(batch)))
            texts = [sample_text(s) for s in batch.samples]
            values = self.cached_call("embed_texts", texts, [[] for _ in rows],
                                      lambda idx: self.loaded.embed_texts([texts[i] for i in idx]).tolist())
            return {}, np.asarray(values, np.float32).reshape(len(rows), -1), rows
        rows, requests, hashes, failed = image_requests(batch, lambda i, s: [])
        values = self.cached_call("embed_images", [None] * len(rows), hashes,
                                  lambda idx: self.loaded.embed_images([requests[i].images[0] for i in idx]).tolist())
        return failed, np.asarray(values, np.float32).reshape(len(rows), -1), rows

    def process(self, batch: Batch) -> list[Outcome]:
        failed, vectors, rows = self.embeddings(batch)
        outcomes: list[Outcome] = [failed.get(i) or [s] for i, s in enumerate(batch.samples)]
        for row, vector in zip(rows, np.round(vectors, self.decimals).tolist(), strict=True):
            batch.samples[row]["meta"]["embedding"] = vector
        return outcomes
