"""`image_size`: keep images whose true size (read from the header) is within bounds."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from synthloop.ops.base import Batch, Drop, Filter, Quarantine, register
from synthloop.ops.image_checks import per_image


@register
class ImageSize(Filter):
    """Every image must satisfy all bounds; sizes come from the header, never from a thumbnail.

    Scores: `image_min_side` (shortest side of any image), `image_max_side` (longest side of any image).
    """

    name: ClassVar[str] = "image_size"
    min_side: int = Field(0, ge=0, description="smallest shorter side kept (px)")
    max_side: int | None = Field(None, gt=0, description="largest longer side kept (px); none: no limit")
    min_pixels: int = Field(0, ge=0, description="fewest pixels kept")
    max_pixels: int | None = Field(None, gt=0, description="most pixels kept; none: no limit")

    def compute(self, batch: Batch) -> list[list[tuple[int, int]] | Quarantine]:
        sizes = per_image(batch, Batch.size)
        for sample, sample_sizes in zip(batch.samples, sizes, strict=True):
            if isinstance(sample_sizes, list) and sample_sizes:
                sample["scores"]["image_min_side"] = float(min(min(w, h) for w, h in sample_sizes))
                sample["scores"]["image_max_side"] = float(max(max(w, h) for w, h in sample_sizes))
        return sizes

    def decide(self, value: list[tuple[int, int]]) -> Drop | None:
        for j, (w, h) in enumerate(value):
            where = f"image {j} is {w}x{h}"
            if min(w, h) < self.min_side:
                return Drop(f"{where}: shorter side < min_side {self.min_side}", value=min(w, h))
            if self.max_side is not None and max(w, h) > self.max_side:
                return Drop(f"{where}: longer side > max_side {self.max_side}", value=max(w, h))
            if w * h < self.min_pixels:
                return Drop(f"{where}: {w * h} pixels < min_pixels {self.min_pixels}", value=w * h)
            if self.max_pixels is not None and w * h > self.max_pixels:
                return Drop(f"{where}: {w * h} pixels > max_pixels {self.max_pixels}", value=w * h)
        return None
