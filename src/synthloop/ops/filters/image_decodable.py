"""`image_decodable`: quarantine samples whose images are missing, corrupt, truncated or bombs."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from synthloop.images import MAX_PIXELS, check_pixels
from synthloop.ops.base import Batch, Drop, Filter, Quarantine, register
from synthloop.ops.image_checks import per_image


@register
class ImageDecodable(Filter):
    """Every image must read, have at most `max_pixels` pixels, and decode completely.

    The header check runs before any pixels are allocated, so a decompression bomb costs nothing.
    The full decode goes through `batch.image`, which loads every coded block: a reduced-scale or
    luma-only JPEG decode still reads the whole stream, so truncation is caught at any thumbnail
    size and in either mode.
    """

    name: ClassVar[str] = "image_decodable"
    pixels: ClassVar[int | None] = 1  # any scale will do (see above)
    grey: ClassVar[bool] = True  # and any mode
    # the engine refuses larger images anyway
    max_pixels: int = Field(MAX_PIXELS, gt=0, le=MAX_PIXELS, description="drop images with more pixels than this")

    def compute(self, batch: Batch) -> list[bool | Quarantine]:
        def check(batch: Batch, i: int, j: int) -> None:
            check_pixels(*batch.size(i, j), self.max_pixels)
            batch.image(i, j)

        return [v if isinstance(v, Quarantine) else True for v in per_image(batch, check)]

    def decide(self, value: bool) -> Drop | None:
        return None
