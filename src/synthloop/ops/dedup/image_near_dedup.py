"""`image_near_dedup`: drop samples whose images are perceptually the same as an earlier sample's."""

from __future__ import annotations

from itertools import pairwise
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from synthloop.ops.base import Batch, Quarantine, register
from synthloop.ops.dedup_resolve import ColumnarDedup, Duplicates, Keys, SameImage, all_keys, find_duplicates
from synthloop.ops.hamming_index import hamming_pairs
from synthloop.ops.image_checks import per_image
from synthloop.ops.minhash_lsh import row_hashes
from synthloop.ops.phash import phash
from synthloop.ops.text import conversation_digest


def _image_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise distance of multi-image hash rows: the largest per-image Hamming distance."""
    return np.bitwise_count(a ^ b).max(axis=1)


def _pairs_within(hashes: np.ndarray, images: int, max_hamming: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of rows whose `images` first columns are all within `max_hamming` bits and whose other
    columns (the conversation digest, when keyed) are equal."""
    i, j, _ = hamming_pairs(hashes[:, 0], max_hamming)  # candidates by the first image
    close = _image_distance(hashes[i, :images], hashes[j, :images]) <= max_hamming
    close &= (hashes[i, images:] == hashes[j, images:]).all(axis=1)
    return i[close], j[close]


def _columns(values: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keys as (number of values per key, all values flat, each key's first index in them)."""
    counts = pc.list_value_length(values).to_numpy()
    return counts, values.flatten().to_numpy(), np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)


@register
class ImageNearDedup(SameImage, ColumnarDedup):
    """Key: the 64-bit pHash of each image, in image order (None without images), and with the
    default `same_image: keep` a 64-bit digest of the conversation after them. Two samples match
    when they have the same number of images, every image pair, in order, is within `max_hamming`
    bits, and (when keyed) their conversations are the same; matches are transitive (see
    dedup_resolve). The distance reported is the largest per-image distance to the survivor."""

    name: ClassVar[str] = "image_near_dedup"
    bucketed: ClassVar[bool] = True
    pixels: ClassVar[int | None] = 64  # pHash reads a 32x32 resize; 64 leaves room for a clean reduce
    grey: ClassVar[bool] = True
    max_hamming: int = Field(8, ge=0, le=64, description="pHash bit distance at or under which images are duplicates")

    def key_type(self) -> pa.DataType:
        return pa.list_(pa.uint64())

    def key(self, batch: Batch) -> list[list[int] | None | Quarantine]:
        decoded = per_image(batch, lambda b, i, j: b.image(i, j))
        images = [img for sample_images in decoded if isinstance(sample_images, list) for img in sample_images]
        hashes = iter(phash(images).tolist())
        keys: list[list[int] | None | Quarantine] = []
        for i, sample_images in enumerate(decoded):
            if isinstance(sample_images, Quarantine) or not sample_images:
                keys.append(sample_images or None)
            else:
                keys.append([next(hashes) for _ in sample_images] + self._conversation(batch.samples[i]))
        return keys

    def _conversation(self, sample: dict) -> list[int]:
        return [int.from_bytes(conversation_digest(sample)[:8], "little")] if self.keys_conversation else []

    def bucket_hashes(self, values: pa.Array) -> np.ndarray:
        """Samples match only with as many key values, so that count is in every hash. Keyed on the
        conversation: one hash, of the count and the conversation digest (which matches must share).
        Otherwise the first image's pHash is cut into max_hamming + 1 bit blocks, one hash per block:
        two pHashes at most max_hamming bits apart leave at least one block unchanged (pigeonhole; a
        block is empty, and shared by all, when max_hamming is 64)."""
        counts, flat, starts = _columns(values)
        size = counts.astype(np.uint64)
        if self.keys_conversation:
            return row_hashes(np.column_stack([size, flat[starts + counts - 1]]))[:, None]
        first, bounds = flat[starts], np.linspace(0, 64, self.max_hamming + 2).astype(int).tolist()
        blocks = [(first >> np.uint64(lo)) & np.uint64((1 << (hi - lo)) - 1) for lo, hi in pairwise(bounds)]
        return np.column_stack([row_hashes(np.column_stack([size, np.full(len(size), b, np.uint64), block]))
                                for b, block in enumerate(blocks)])

    def duplicates(self, keys: Keys) -> Duplicates:
        counts, flat, starts = _columns(all_keys(keys))
        found = []
        extra = int(self.keys_conversation)
        for count in np.unique(counts).tolist():  # samples match only samples with as many images
            positions = np.flatnonzero(counts == count)
            matrix = flat[starts[positions, None] + np.arange(count)]
            images = count - extra
            dups = find_duplicates(
                matrix, lambda first, m=matrix, n=images: _pairs_within(m[first], n, self.max_hamming),
                lambda a, b, m=matrix, n=images: _image_distance(m[a, :n], m[b, :n]))
            found.append(Duplicates(positions[dups.rows], positions[dups.survivors], dups.distances))
        return Duplicates.concat(found)
