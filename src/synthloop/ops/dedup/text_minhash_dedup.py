"""`text_minhash_dedup`: drop samples whose text is a near copy of an earlier sample's."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from synthloop.ops.base import Batch, Dedup, Drop, register
from synthloop.ops.dedup_resolve import duplicate_drops, sorted_keys
from synthloop.ops.minhash_lsh import jaccard_distance, lsh_bands, shingles, signatures, similar_pairs
from synthloop.ops.text import Role, sample_text


@register
class TextMinhashDedup(Dedup):
    """Shingles are word `ngram`s of the text of `role` (see `text_length`); two samples match when
    their estimated Jaccard similarity is >= `threshold`. Candidates come from banded LSH with the
    bands chosen for the threshold, then every candidate is checked on the full signature; matches
    are transitive (see dedup_resolve) and the distance reported is 1 - estimated Jaccard
    similarity to the survivor. Key: the `num_perm` x uint32
    signature as little-endian bytes (None for text without words)."""

    name: ClassVar[str] = "text_minhash_dedup"
    threshold: float = Field(0.8, gt=0, le=1)
    ngram: int = Field(5, ge=1)
    num_perm: int = Field(128, ge=8, le=1024)
    seed: int = 0
    role: Role = "all"

    def key(self, batch: Batch) -> list[bytes | None]:
        shingle_sets = [shingles(sample_text(sample, self.role), self.ngram) for sample in batch.samples]
        with_text = [k for k, s in enumerate(shingle_sets) if s]
        keys: list[bytes | None] = [None] * len(batch)
        if with_text:
            sigs = signatures([shingle_sets[k] for k in with_text], self.num_perm, self.seed)
            for k, sig in zip(with_text, sigs.astype("<u4"), strict=True):
                keys[k] = sig.tobytes()
        return keys

    def resolve(self, keys: Iterable[tuple[str, Any]]) -> dict[str, Drop]:
        ids, values = sorted_keys(keys)
        sigs = np.frombuffer(b"".join(values), dtype="<u4").reshape(len(ids), self.num_perm)
        bands, rows = lsh_bands(self.threshold, self.num_perm)
        return duplicate_drops(ids, sigs, lambda m: similar_pairs(m, self.threshold, bands, rows), jaccard_distance)
