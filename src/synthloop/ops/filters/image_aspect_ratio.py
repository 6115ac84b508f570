"""`image_aspect_ratio`: drop panoramas and strips (long side / short side, read from the header)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from synthloop.ops.base import Batch, register
from synthloop.ops.image_checks import ImageMeasureFilter


@register
class ImageAspectRatio(ImageMeasureFilter):
    """Ratio = longer side / shorter side (>= 1), so one bound covers wide and tall images alike.

    Data-Juicer's `min_ratio=1/3, max_ratio=3` on width/height equals `max_ratio: 3` here.
    Score `image_aspect_ratio`: the largest ratio of any image.
    """

    name: ClassVar[str] = "image_aspect_ratio"
    measure_name: ClassVar[str] = "aspect ratio"
    worst = max
    min_ratio: float = Field(1.0, ge=1.0, description="smallest long/short side ratio kept")
    max_ratio: float | None = Field(3.0, ge=1.0, description="largest long/short side ratio kept; none: no limit")

    def measure(self, batch: Batch, i: int, j: int) -> float:
        w, h = batch.size(i, j)
        return max(w, h) / min(w, h)

    def bounds(self) -> tuple[float | None, float | None]:
        return self.min_ratio, self.max_ratio
