"""`semantic_dedup`: near-duplicates by meaning, as NeMo Curator's SemDeDup does: embed, cluster
with k-means, and within each cluster drop every sample whose cosine similarity to an earlier kept
sample (by id) reaches `threshold`. Catches crops, re-encodings and small edits that pHash misses.

With `source: image` and the default `same_image: keep`, only samples with the same conversation
are compared (the key starts with its 16-byte digest); `merge` and `drop`: see `SameImage`."""

from __future__ import annotations

from functools import partial
from typing import Any, ClassVar, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from synthloop.models.protocols import ImageEmbedder, TextEmbedder
from synthloop.ops import kmeans
from synthloop.ops.base import Batch, Quarantine, register
from synthloop.ops.dedup_resolve import ClusteredDedup, Duplicates, FoundInParts, KeyPart, SameImage, fixed_width
from synthloop.ops.mappers.embed import Embed
from synthloop.ops.model_op import ModelParams
from synthloop.ops.text import conversation_digest
from synthloop.ops.workers import Workers

DIGEST = 16  # bytes of conversation digest before the vector, when keyed
# one bucket's samples from one part: cluster, stage row, id, conversation digest (or none), float16 vector
Members = tuple[np.ndarray, np.ndarray, pa.Array, np.ndarray, np.ndarray]


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
        embedder = Embed(model=self.model, device=self.device, cache_dir=self.cache_dir, source=self.source,
                         batch_size=self.batch_size)
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

    def find_in_parts(self, parts: list[KeyPart], workers: Workers) -> FoundInParts:
        """k-means (`ops.kmeans`) on the normalised vectors of the samples in play, about `cluster_size`
        per cluster; then a `group` of the samples by cluster, whose combine compares each cluster's
        members in id order (`cluster_drops`). Every key is read on the `workers`; the caller gets
        the centroids, the key errors and the drops."""
        counts = workers.map_calls(self._count, parts)
        n = sum(counts)
        k = max(1, round(n / self.cluster_size))
        centroids = kmeans.fit(parts, counts, self._vectors, k, self.seed, workers) if k > 1 and n > 1 else None
        errors, found = workers.group(parts, partial(self._members, centroids), self._drops)
        return FoundInParts(np.concatenate([np.empty(0, np.int64), *(failed for failed, _ in errors)]),
                            [text for _, texts in errors for text in texts],
                            Duplicates.concat([duplicates for duplicates, _ in found]),
                            [sample_id for _, survivor_ids in found for sample_id in survivor_ids])

    def _count(self, part: KeyPart) -> int:
        return int(part.in_play(part.read(["key", "error"]))[0].sum())

    def _vectors(self, part: KeyPart) -> np.ndarray:
        table = part.read(["key", "error"])
        return _unit(self._parse(table["key"].filter(pa.array(part.in_play(table)[0])))[1])

    def _parse(self, keys: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
        """(the conversation digests, uint8 rows x DIGEST, or x 0 when not keyed on them; the float16
        vectors). Every key has the same length (digest and vector)."""
        skip = DIGEST if self._keyed_on_conversation else 0
        if not len(keys):
            return np.empty((0, skip), np.uint8), np.empty((0, 0), np.float16)
        raw = fixed_width(pc.cast(keys, pa.binary(len(keys[0].as_py()))).combine_chunks(), "uint8")
        return raw[:, :skip], np.ascontiguousarray(raw[:, skip:]).view(np.float16)

    def _members(self, centroids: np.ndarray | None, part: KeyPart, buckets: int) -> tuple[list[Members], tuple]:
        """The part's samples in play with their cluster (the nearest centroid) cut by cluster into the
        buckets; note: the rows whose key is an error, and the errors."""
        table = part.read(["id", "key", "error"])
        in_play, failed = part.in_play(table)
        digests, vectors = self._parse(table["key"].filter(pa.array(in_play)))
        labels = np.zeros(len(vectors), np.int32) if centroids is None else kmeans.nearest(centroids, _unit(vectors))
        rows, ids = np.flatnonzero(in_play) + part.first_row, table["id"].filter(pa.array(in_play)).combine_chunks()
        pieces = []
        for bucket in range(buckets):
            mine = labels % buckets == bucket
            pieces.append((labels[mine], rows[mine], ids.filter(pa.array(mine)), digests[mine], vectors[mine]))
        return pieces, (failed + part.first_row, table["error"].take(pa.array(failed)).to_pylist())

    def _drops(self, pieces: list[Members]) -> tuple[Duplicates, list[str]]:
        """The duplicates in the bucket's clusters, by stage row, and their survivors' ids."""
        pieces = [piece for piece in pieces if len(piece[0])]
        if not pieces:
            return Duplicates.none(), []
        labels, rows, digests, vectors = (np.concatenate([piece[i] for piece in pieces]) for i in (0, 1, 3, 4))
        ids = pa.chunked_array([piece[2] for piece in pieces]).combine_chunks()
        by = [("label", "ascending"), ("id", "ascending")]
        order = pc.sort_indices(pa.table({"label": labels, "id": ids}), by).to_numpy().astype(np.int64)
        found = []
        for members in np.split(order, np.flatnonzero(np.diff(labels[order])) + 1):  # a cluster's, in id order
            dropped, survivors, distances = self.cluster_drops(digests[members], _unit(vectors[members]))
            found.append(Duplicates(members[dropped], members[survivors], distances))
        duplicates = Duplicates.concat(found)
        return (Duplicates(rows[duplicates.rows], rows[duplicates.survivors], duplicates.distances),
                ids.take(pa.array(duplicates.survivors)).to_pylist())

    def cluster_drops(self, digests: np.ndarray, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Among one cluster's members in id order (their conversation digests and unit vectors): each
        member whose similarity to a kept member reaches the threshold (same conversation, when keyed)
        is dropped naming the most similar one; the others are kept. (dropped, survivors, distances)."""
        similarity = vectors @ vectors.T
        if digests.shape[1]:
            conversation = np.unique(digests, axis=0, return_inverse=True)[1].reshape(-1)
            similarity[conversation[:, None] != conversation[None, :]] = -np.inf
        dropped, survivors, distances = [], [], []
        kept: list[int] = []
        for j in range(len(vectors)):
            if kept:
                best = kept[int(np.argmax(similarity[j, kept]))]
                if similarity[j, best] >= self.threshold:
                    dropped.append(j)
                    survivors.append(best)
                    distances.append(round(1 - float(similarity[j, best]), 4))
                    continue
            kept.append(j)
        return np.array(dropped, np.int64), np.array(survivors, np.int64), np.array(distances, np.float64)


def _unit(vectors: np.ndarray) -> np.ndarray:
    """float16 vectors as float32 of length 1."""
    unit = vectors.astype(np.float32)
    unit /= np.linalg.norm(unit, axis=1, keepdims=True).clip(min=1e-12)
    return unit
