"""`text_minhash_dedup`: drop samples whose text is a near copy of an earlier sample's."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pyarrow as pa
from pydantic import Field

from synthloop.ops.base import Batch, register
from synthloop.ops.dedup_resolve import ColumnarDedup, Duplicates, Keys, find_duplicates, fixed_width
from synthloop.ops.minhash_lsh import (band_hashes, candidate_pairs, jaccard_distance, lsh_bands, row_hashes, shingles,
                                       signatures)
from synthloop.ops.text import Role, sample_text


_BAND = np.uint64(0xD6E8FEB86659FD93)  # odd constant: band hashes of different bands differ


@register
class TextMinhashDedup(ColumnarDedup):
    """Shingles are word `ngram`s of the text of `role` (see `text_length`); two samples match when
    their estimated Jaccard similarity is >= `threshold`. Candidates come from banded LSH with the
    bands chosen for the threshold, then every candidate is checked on the full signature; matches
    are transitive (see dedup_resolve) and the distance reported is 1 - estimated Jaccard
    similarity to the survivor. Key: the `num_perm` x uint32
    signature as little-endian bytes (None for text without words).

    Resolving streams the signatures once to keep only a 64-bit digest (equal digests: exact
    duplicates) and the band hashes per sample; signatures are read again only for the candidate
    pairs and the drops."""

    name: ClassVar[str] = "text_minhash_dedup"
    bucketed: ClassVar[bool] = True
    threshold: float = Field(0.8, gt=0, le=1, description="estimated Jaccard similarity that marks duplicates")
    ngram: int = Field(5, ge=1, description="word n-gram length of the shingles")
    num_perm: int = Field(128, ge=8, le=1024, description="MinHash permutations")
    seed: int = Field(0, description="MinHash seed")
    role: Role = Field("all", description="whose turns count: all, user or assistant")

    def key(self, batch: Batch) -> list[bytes | None]:
        shingle_sets = [shingles(sample_text(sample, self.role), self.ngram) for sample in batch.samples]
        with_text = [k for k, s in enumerate(shingle_sets) if s]
        keys: list[bytes | None] = [None] * len(batch)
        if with_text:
            sigs = signatures([shingle_sets[k] for k in with_text], self.num_perm, self.seed)
            for k, sig in zip(with_text, sigs.astype("<u4"), strict=True):
                keys[k] = sig.tobytes()
        return keys

    def key_type(self) -> pa.DataType:
        return pa.binary(4 * self.num_perm)

    def _digests_and_bands(self, values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """Per signature: a 64-bit digest (equal digests: exact duplicates) and its LSH band hashes."""
        bands, rows = lsh_bands(self.threshold, self.num_perm)
        sigs = fixed_width(values, "<u4")
        return row_hashes(sigs), band_hashes(sigs, bands, rows)

    def bucket_hashes(self, values: pa.Array) -> np.ndarray:
        digests, band_keys = self._digests_and_bands(values)
        band_keys = band_keys ^ (np.arange(1, band_keys.shape[1] + 1, dtype=np.uint64) * _BAND)  # band i's own space
        return np.column_stack([digests, band_keys])

    def duplicates(self, keys: Keys) -> Duplicates:
        bands, _ = lsh_bands(self.threshold, self.num_perm)
        digests = np.empty(len(keys), np.uint64)
        band_keys = np.empty((len(keys), bands), np.uint64)
        for positions, values in keys.chunks():
            digests[positions], band_keys[positions] = self._digests_and_bands(values)

        def signatures_at(positions: np.ndarray) -> np.ndarray:
            return fixed_width(keys.take(positions), "<u4")

        def similar(first: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            i, j = candidate_pairs(band_keys[first])
            involved, inverse = np.unique(np.concatenate([i, j]), return_inverse=True)
            sigs = signatures_at(first[involved])
            a, b = sigs[inverse[: len(i)]], sigs[inverse[len(i) :]]
            close = (a == b).mean(axis=1) >= self.threshold
            return i[close], j[close]

        return find_duplicates(digests, similar, lambda a, b: jaccard_distance(signatures_at(a), signatures_at(b)))
