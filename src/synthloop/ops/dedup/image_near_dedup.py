"""`image_near_dedup`: drop samples whose images are perceptually the same as an earlier sample's."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from synthloop.ops.base import Batch, Dedup, Drop, Quarantine, register
from synthloop.ops.dedup_resolve import duplicate_drops, sorted_keys
from synthloop.ops.hamming_index import hamming_pairs
from synthloop.ops.image_checks import per_image
from synthloop.ops.phash import from_hex, phash, to_hex


def _image_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise distance of multi-image hash rows: the largest per-image Hamming distance."""
    return np.bitwise_count(a ^ b).max(axis=1)


def _pairs_within(hashes: np.ndarray, max_hamming: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of rows whose images are all within `max_hamming` bits."""
    i, j, _ = hamming_pairs(hashes[:, 0], max_hamming)  # candidates by the first image
    close = _image_distance(hashes[i], hashes[j]) <= max_hamming
    return i[close], j[close]


@register
class ImageNearDedup(Dedup):
    """Key: the 64-bit pHash of each image as 16 hex digits, joined by `-` for multi-image samples
    (None without images). Two samples match when they have the same number of images and every
    image pair, in order, is within `max_hamming` bits; matches are transitive (see dedup_resolve).
    The distance reported is the largest per-image distance to the survivor."""

    name: ClassVar[str] = "image_near_dedup"
    pixels: ClassVar[int | None] = 64  # pHash reads a 32x32 resize; 64 leaves room for a clean reduce
    grey: ClassVar[bool] = True
    max_hamming: int = Field(8, ge=0, le=64)

    def key(self, batch: Batch) -> list[str | None | Quarantine]:
        decoded = per_image(batch, lambda b, i, j: b.image(i, j))
        images = [img for sample_images in decoded if isinstance(sample_images, list) for img in sample_images]
        hashes = iter(phash(images).tolist())
        keys: list[str | None | Quarantine] = []
        for sample_images in decoded:
            if isinstance(sample_images, Quarantine) or not sample_images:
                keys.append(sample_images or None)
            else:
                keys.append("-".join(to_hex(next(hashes)) for _ in sample_images))
        return keys

    def resolve(self, keys: Iterable[tuple[str, Any]]) -> dict[str, Drop]:
        by_count: dict[int, tuple[list[str], list[list[int]]]] = defaultdict(lambda: ([], []))
        for sample_id, key in zip(*sorted_keys(keys), strict=True):
            hashes = [from_hex(part) for part in key.split("-")]
            ids, rows = by_count[len(hashes)]
            ids.append(sample_id)
            rows.append(hashes)
        drops: dict[str, Drop] = {}
        for ids, rows in by_count.values():
            matrix = np.array(rows, dtype=np.uint64)
            drops.update(duplicate_drops(ids, matrix, lambda m: _pairs_within(m, self.max_hamming), _image_distance))
        return drops
