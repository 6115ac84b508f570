"""Bounding boxes written in text, in both dialects, and LLaVA's expand-to-square transform.

- LLaVA / DataOptim: `[0.1, 0.2, 0.3, 0.4]` (Python list style, up to 3 decimals here);
- Shikra: `[0.100,0.200,0.300,0.400]` (3 fixed decimals, no spaces; `;` joins boxes of one group).

Boxes are normalised `[x1, y1, x2, y2]` on the original image. LLaVA-1.5 trained with
`--image_aspect_ratio pad` sees the image pasted centred on a square of its long side, so its
boxes must be moved to that square as DataOptim's `tools/expand_to_square.py` moves them
(BAAI-DCAI/DataOptim@c50a7c6): to whole pixels with Python's `round`, shift the short axis by
(long - short) // 2, divide by the long side, round to 3 decimals.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

Box = list[float]
Dialect = Literal["llava", "shikra"]

_NUMBER = r"\d*\.?\d+"
_FOUR = rf"{_NUMBER}\s*,\s*{_NUMBER}\s*,\s*{_NUMBER}\s*,\s*{_NUMBER}"
BOX_GROUP = re.compile(rf"\[\s*({_FOUR}(?:\s*;\s*{_FOUR})*)\s*\]")
SHIKRA_GROUP = re.compile(r"\d\.\d{3}(?:[,;]\d\.\d{3})*")


def parse_box(text: str) -> Box:
    """`[0.1, 0.2, 0.3, 0.4]` or `[0.100,0.200,0.300,0.400]` -> [0.1, 0.2, 0.3, 0.4]."""
    boxes = parse_group(text)
    if len(boxes) != 1:
        raise ValueError(f"expected one box, got {text!r}")
    return boxes[0]


def parse_group(text: str) -> list[Box]:
    """A bracketed group of one or more `;`-separated boxes -> boxes."""
    match = BOX_GROUP.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not a box: {text!r}")
    return [[float(v) for v in box.split(",")] for box in match.group(1).split(";")]


def dialect_of(text: str) -> Dialect:
    inner = text.strip()[1:-1]
    return "shikra" if SHIKRA_GROUP.fullmatch(inner) else "llava"


def format_box(box: Box, dialect: Dialect = "llava", decimals: int | None = None) -> str:
    return format_group([box], dialect, decimals)


def format_group(boxes: list[Box], dialect: Dialect = "llava", decimals: int | None = None) -> str:
    """Boxes as text; in the LLaVA dialect each value rounded to 3 decimals as Python writes it
    (`0.1`), or with exactly `decimals` digits (`0.10` for 2)."""
    if dialect == "shikra":
        return "[" + ";".join(",".join(f"{v:.3f}" for v in box) for box in boxes) + "]"

    def value(v: float) -> str:
        return repr(round(v, 3)) if decimals is None else f"{v:.{decimals}f}"

    return "[" + "; ".join(", ".join(value(v) for v in box) for box in boxes) + "]"


def find_boxes(text: str) -> list[Box]:
    """Every normalised box written in `text`, in order (bracketed numbers outside [0, 1] are not boxes)."""
    found = []
    for match in BOX_GROUP.finditer(text):
        boxes = parse_group(match.group(0))
        if _normalised(boxes):
            found.extend(boxes)
    return found


def map_boxes(text: str, transform: Callable[[Box], Box]) -> str:
    """`text` with every normalised box replaced by `transform(box)`, written in its own dialect."""

    def replace(match: re.Match[str]) -> str:
        boxes = parse_group(match.group(0))
        if not _normalised(boxes):
            return match.group(0)
        return format_group([transform(box) for box in boxes], dialect_of(match.group(0)))

    return BOX_GROUP.sub(replace, text)


def _normalised(boxes: list[Box]) -> bool:
    return all(0.0 <= v <= 1.0 for box in boxes for v in box)


def denormalize(box: Box, width: int, height: int) -> Box:
    """Normalised -> pixel coordinates."""
    return [box[0] * width, box[1] * height, box[2] * width, box[3] * height]


def normalize(box: Box, width: int, height: int, decimals: int = 3) -> Box:
    """Pixel -> normalised coordinates, rounded."""
    return [round(box[0] / width, decimals), round(box[1] / height, decimals),
            round(box[2] / width, decimals), round(box[3] / height, decimals)]


def expand_to_square(box: Box, width: int, height: int) -> Box:
    """A normalised box on a `width` x `height` image -> on LLaVA's padded square of the long side."""
    x1, y1, x2, y2 = (round(v) for v in denormalize(box, width, height))
    side = max(width, height)
    shift = (side - min(width, height)) // 2
    if width > height:
        y1, y2 = y1 + shift, y2 + shift
    else:
        x1, x2 = x1 + shift, x2 + shift
    return normalize([x1, y1, x2, y2], side, side)


def pad_boxes_in_text(text: str, width: int, height: int) -> str:
    """Every normalised box in `text` moved to the padded square (see `expand_to_square`)."""
    return map_boxes(text, lambda box: expand_to_square(box, width, height))
