"""`image_blur`: drop blurry images by the variance of their Laplacian."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from PIL import Image
from pydantic import Field

from synthloop.ops.base import Batch, register
from synthloop.ops.image_checks import ImageMeasureFilter


def laplacian_variance(img: Image.Image) -> float:
    """Population variance of the 4-neighbour Laplacian of the luma (0..255) over interior pixels.

    The kernel is [[0, 1, 0], [1, -4, 1], [0, 1, 0]] (OpenCV's `Laplacian` with ksize=1), applied
    without padding. Images smaller than 3x3 have no interior and score 0.
    """
    gray = np.asarray(img.convert("L"), dtype=np.float32)
    if gray.shape[0] < 3 or gray.shape[1] < 3:
        return 0.0
    centre = gray[1:-1, 1:-1]
    laplacian = gray[:-2, 1:-1] + gray[2:, 1:-1] + gray[1:-1, :-2] + gray[1:-1, 2:] - 4 * centre
    return float(laplacian.var(dtype=np.float64))


@register
class ImageBlur(ImageMeasureFilter):
    """Measured at full resolution, because downscaling hides blur. Score `image_blur`: the lowest
    variance of any image (the blurriest one)."""

    name: ClassVar[str] = "image_blur"
    measure_name: ClassVar[str] = "Laplacian variance"
    pixels: ClassVar[int | None] = 0
    grey: ClassVar[bool] = True
    min_variance: float = Field(100.0, ge=0, description="drop images whose Laplacian variance is below this")

    def measure(self, batch: Batch, i: int, j: int) -> float:
        return laplacian_variance(batch.image(i, j))

    def bounds(self) -> tuple[float | None, float | None]:
        return self.min_variance, None
