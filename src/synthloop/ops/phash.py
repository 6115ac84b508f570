"""64-bit DCT perceptual hash (pHash) of a batch of images (not an op).

The standard definition: grey levels, resized to 32x32 (Lanczos-3), 2-D DCT-II, the 8x8 lowest
frequencies, bit = coefficient > their median; bit 63 is the DC term, then row-major. Re-encoding,
resizing and small crops move few bits, so near duplicates lie within a small Hamming distance.

The resize and the DCT are both linear maps along rows and along columns, so for an image of
h x w pixels the 8x8 low frequencies are P_h @ pixels @ P_w.T, with P_n (8 x n) the product of
the DCT rows and the Lanczos weights: two small matrix products per image, and P_n is computed
once per side length (Pillow would recompute its resampling weights for every image).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image

SIDE = 32
LOW = 8
REDUCING_GAP = 3.0  # box-reduce large images first (as Pillow's reducing_gap): fast on 12-megapixel photos
_LOBES = 3  # Lanczos-3


def phash(images: list[Image.Image]) -> np.ndarray:
    """One uint64 hash per image."""
    if not images:
        return np.empty(0, dtype=np.uint64)
    low = np.stack([_low_frequencies(img) for img in images]).reshape(len(images), LOW * LOW)
    bits = low > np.median(low, axis=1, keepdims=True)
    return np.packbits(bits, axis=1).view(">u8").ravel().astype(np.uint64)


def _low_frequencies(img: Image.Image) -> np.ndarray:
    grey = img if img.mode == "L" else img.convert("L")
    width, height = grey.size
    factor = (max(1, int(width / SIDE / REDUCING_GAP)), max(1, int(height / SIDE / REDUCING_GAP)))
    if factor != (1, 1):
        grey = grey.reduce(factor)
    pixels = np.asarray(grey, dtype=np.float64)
    return _projection(height, factor[1]) @ pixels @ _projection(width, factor[0]).T


@lru_cache(maxsize=4096)
def _projection(length: int, factor: int) -> np.ndarray:
    """(LOW, ceil(length / factor)): resample `length` pixels (box-reduced by `factor`) to SIDE, then
    take the LOW lowest DCT-II frequencies."""
    return _dct_rows() @ _lanczos_weights(length, factor)


@lru_cache
def _dct_rows() -> np.ndarray:
    """(LOW, SIDE) unnormalised DCT-II: X_k = 2 sum_n x_n cos(pi k (2n + 1) / (2 SIDE)), as scipy's dct."""
    k, n = np.arange(LOW)[:, None], np.arange(SIDE)[None, :]
    return 2 * np.cos(np.pi * k * (2 * n + 1) / (2 * SIDE))


def _lanczos_weights(length: int, factor: int) -> np.ndarray:
    """(SIDE, ceil(length / factor)) Lanczos-3 weights resampling `length` pixels to SIDE, widened by
    the scale when shrinking (antialiasing) and renormalised at the borders, as Pillow's resize
    computes them; they apply to the pixels box-reduced by `factor`, each standing for its block of
    the original (the last block possibly narrower), so the reduce does not shift the geometry."""
    starts = np.arange(0, length, factor)
    widths = np.minimum(starts + factor, length) - starts
    scale = length / SIDE
    stretch = max(scale, 1.0)
    centres = (np.arange(SIDE) + 0.5) * scale
    offsets = (starts[None, :] + widths / 2 - centres[:, None]) / stretch
    weights = widths * np.sinc(offsets) * np.sinc(offsets / _LOBES) * (np.abs(offsets) < _LOBES)
    return weights / weights.sum(axis=1, keepdims=True)
