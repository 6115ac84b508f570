"""Reading simple world scenes back from their pixels, independently of the generator's code.

Shared helpers for tests/test_world_*.py: connected components of one exact colour, and a shape
classifier from fill ratio and row widths.
"""

from __future__ import annotations

import io
import re

import numpy as np
from PIL import Image
from scipy import ndimage

# The palette as published in the world's docs; the tests read it from pixels, not from annotations.
PALETTE = {
    "red": (220, 30, 30), "green": (30, 150, 50), "blue": (30, 70, 220), "yellow": (240, 200, 20),
    "orange": (245, 130, 20), "purple": (140, 50, 180), "pink": (250, 120, 190), "brown": (130, 80, 30),
    "gray": (128, 128, 128), "black": (20, 20, 20),
}
SHAPE_WORDS = ("circle", "square", "triangle", "diamond", "star", "hexagon", "cross")
EXPR = re.compile(rf"\b({'|'.join(PALETTE)}) ({'|'.join(SHAPE_WORDS)})\b")


def pixels(sample: dict) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(sample["images"][0]["bytes"])).convert("RGB"))


def components(arr: np.ndarray, color: str) -> list[tuple[slice, slice]]:
    mask = np.all(arr == PALETTE[color], axis=-1)
    labels, _ = ndimage.label(mask, structure=np.ones((3, 3)))
    return [s for s in ndimage.find_objects(labels) if s is not None]


def all_components(arr: np.ndarray) -> list[tuple[str, tuple[slice, slice]]]:
    return [(color, c) for color in PALETTE for c in components(arr, color)]


def classify(arr: np.ndarray, color: str, box: tuple[slice, slice]) -> str:
    """Shape of one flat-coloured component from its fill ratio, top row width and widest row."""
    mask = np.all(arr[box] == PALETTE[color], axis=-1)
    height, width = mask.shape
    fill = mask.mean()
    rows = mask.sum(axis=1) / width
    top = rows[0]
    widest = int(np.argmax(rows)) / max(1, height - 1)
    if fill > 0.93:
        return "square"
    if fill < 0.45:
        return "star"
    if fill < 0.68:
        if top > 0.25:
            return "cross"
        return "triangle" if widest > 0.8 else "diamond"
    return "hexagon" if top > 0.4 else "circle"


def expressions(text: str) -> list[tuple[str, str]]:
    """(colour, shape) pairs named in a question, in order."""
    return EXPR.findall(text)


def find_object(sample: dict, color: str, shape: str) -> dict:
    [obj] = [o for o in sample["meta"]["objects"] if o["color"] == color and o["shape"] == shape]
    return obj
