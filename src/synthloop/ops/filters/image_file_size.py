"""`image_file_size`: bounds on the encoded size of each image, in bytes."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from synthloop.ops.base import Batch, register
from synthloop.ops.image_checks import ImageMeasureFilter


@register
class ImageFileSize(ImageMeasureFilter):
    """Score `image_file_size`: the smallest encoded size of any image, in bytes."""

    name: ClassVar[str] = "image_file_size"
    measure_name: ClassVar[str] = "file size (bytes)"
    min_bytes: int = Field(0, ge=0, description="smallest image file kept")
    max_bytes: int | None = Field(None, gt=0, description="largest image file kept; none: no limit")

    def measure(self, batch: Batch, i: int, j: int) -> float:
        return float(len(batch.image_bytes(i, j)))

    def bounds(self) -> tuple[float | None, float | None]:
        return self.min_bytes, self.max_bytes
