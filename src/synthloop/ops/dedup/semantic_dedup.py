"""`semantic_dedup`: near-duplicates by meaning, as NeMo Curator's SemDeDup does: embed, cluster
with k-means, and within each cluster drop every sample whose cosine similarity to an earlier kept
sample (by id) reaches `threshold`. Catches crops, re-encodings and small edits that pHash misses.

With `source: image` and the default `same_image: keep`, only samples with the same conversation
are compared (the key starts with its 16-byte digest); `merge` and `drop`: see `SameImage`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from synthloop.models.protocols import ImageEmbedder, TextEmbedder
from synthloop.ops.base import Batch, Drop, Quarantine, register
from synthloop.ops.dedup_resolve import ClusteredDedup, SameImage, duplicate_drop
from synthloop.ops.kmeans import kmeans_labels
from synthloop.ops.workers import Workers
from synthloop.ops.mappers.embed import Embed
from synthloop.ops.model_op import ModelParams
from synthloop.ops.text import conversation_digest

DIGEST = 16  # bytes of conversation digest before the vector, when keyed
Cluster = tuple[list[str], np.ndarray, np.ndarray]  # ids, conversation digests, normalised vectors


@register
class SemanticDedup(SameImage, ModelParams, ClusteredDedup):
    name: ClassVar[str] = "semantic_dedup"
    pixels: ClassVar[int | None] = 224
    model: str = Field("pkg:efficientnet-lite0", description="embedding model URI")
    source: Literal["image", "text"] = Field("image", description="embed the first image or the text")
    # EfficientNet-Lite0: 90% crops score >= 0.9, unrelated photos <= 0.35
    threshold: float = Field(0.85, description="cosine similarity at or above which samples are duplicates")
    cluster_size: int = Field(1000, description="about this many samples per k-means cluster")
    seed: int = Field(0, description="k-means seed")

    def uses_images(self) -> bool:
        return self.source == "image"

    def needed_protocol(self) -> type:
        return ImageEmbedder if self.source == "image" else TextEmbedder

    def key(self, batch: Batch) -> list[Any | Quarantine]:
        embedder = Embed(model=self.model, device=self.device, cache_dir=self.cache_dir, source=self.source)
        embedder._loaded, embedder._cache = self.loaded, self.cache
        failed, vectors, rows = embedder.embeddings(batch)
        keys: list[Any | Quarantine] = [failed.get(i, Quarantine("semantic_dedup: not embedded"))
                                        for i in range(len(batch))]
        for row, vector in zip(rows, vectors.astype(np.float16), strict=True):
            # compact: 2 bytes per dimension in the key column
            keys[row] = self._conversation(batch.samples[row]) + vector.tobytes()
        return keys

    @property
    def _keyed_on_conversation(self) -> bool:
        return self.source == "image" and self.keys_conversation

    def _conversation(self, sample: dict) -> bytes:
        return conversation_digest(sample) if self._keyed_on_conversation else b""

    def clusters(self, keys: Iterable[tuple[str, Any]], workers: Workers) -> list[Cluster]:
        """The samples with a key, in id order, cut by k-means on their normalised vectors (`ops.kmeans`:
        its Lloyd steps run on `workers`, to the same labels wherever they run)."""
        items = sorted((item for item in keys if item[1] is not None), key=lambda item: item[0])  # None: no image
        if not items:
            return []
        ids = [item[0] for item in items]
        skip = DIGEST if self._keyed_on_conversation else 0
        conversations = np.array([item[1][:skip] for item in items], object)
        vectors = np.stack([np.frombuffer(item[1][skip:], np.float16) for item in items]).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)
        k = max(1, round(len(ids) / self.cluster_size))
        labels = kmeans_labels(vectors, k, self.seed, workers)
        return [([ids[m] for m in members.tolist()], conversations[members], vectors[members])
                for members in (np.flatnonzero(labels == cluster) for cluster in np.unique(labels))]  # in id order

    def cluster_drops(self, cluster: Cluster) -> dict[str, Drop]:
        """Each member, in id order, whose similarity to a kept member reaches the threshold (same
        conversation, when keyed) is dropped naming the most similar one; the others are kept."""
        ids, conversations, vectors = cluster
        similarity = vectors @ vectors.T
        similarity[conversations[:, None] != conversations[None, :]] = -np.inf
        drops: dict[str, Drop] = {}
        kept: list[int] = []
        for j in range(len(ids)):
            if kept:
                best = kept[int(np.argmax(similarity[j, kept]))]
                if similarity[j, best] >= self.threshold:
                    drops[ids[j]] = duplicate_drop(ids[best], round(1 - float(similarity[j, best]), 4), self.merges())
                    continue
            kept.append(j)
        return drops
