"""`image_near_dedup`: drop samples whose images are perceptually the same as an earlier sample's."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from synthloop.ops.base import Batch, Quarantine, register
from synthloop.ops.dedup_resolve import ColumnarDedup, Duplicates, Keys, all_keys, find_duplicates
from synthloop.ops.hamming_index import hamming_pairs
from synthloop.ops.image_checks import per_image
from synthloop.ops.phash import phash


def _image_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise distance of multi-image hash rows: the largest per-image Hamming distance."""
    return np.bitwise_count(a ^ b).max(axis=1)


def _pairs_within(hashes: np.ndarray, max_hamming: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of rows whose images are all within `max_hamming` bits."""
    i, j, _ = hamming_pairs(hashes[:, 0], max_hamming)  # candidates by the first image
    close = _image_distance(hashes[i], hashes[j]) <= max_hamming
    return i[close], j[close]


@register
class ImageNearDedup(ColumnarDedup):
    """Key: the 64-bit pHash of each image, in image order (None without images). Two samples
    match when they have the same number of images and every image pair, in order, is within
    `max_hamming` bits; matches are transitive (see dedup_resolve). The distance reported is the
    largest per-image distance to the survivor."""

    name: ClassVar[str] = "image_near_dedup"
    pixels: ClassVar[int | None] = 64  # pHash reads a 32x32 resize; 64 leaves room for a clean reduce
    grey: ClassVar[bool] = True
    max_hamming: int = Field(8, ge=0, le=64)

    def key_type(self) -> pa.DataType:
        return pa.list_(pa.uint64())

    def key(self, batch: Batch) -> list[list[int] | None | Quarantine]:
        decoded = per_image(batch, lambda b, i, j: b.image(i, j))
        images = [img for sample_images in decoded if isinstance(sample_images, list) for img in sample_images]
        hashes = iter(phash(images).tolist())
        keys: list[list[int] | None | Quarantine] = []
        for sample_images in decoded:
            if isinstance(sample_images, Quarantine) or not sample_images:
                keys.append(sample_images or None)
            else:
                keys.append([next(hashes) for _ in sample_images])
        return keys

    def duplicates(self, keys: Keys) -> Duplicates:
        values = all_keys(keys)
        counts = pc.list_value_length(values).to_numpy()
        flat = values.flatten().to_numpy()
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        found = []
        for count in np.unique(counts).tolist():  # samples match only samples with as many images
            positions = np.flatnonzero(counts == count)
            matrix = flat[starts[positions, None] + np.arange(count)]
            dups = find_duplicates(matrix, lambda first, m=matrix: _pairs_within(m[first], self.max_hamming),
                                   lambda a, b, m=matrix: _image_distance(m[a], m[b]))
            found.append(Duplicates(positions[dups.rows], positions[dups.survivors], dups.distances))
        return Duplicates.concat(found)
