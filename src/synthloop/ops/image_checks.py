"""Per-image helpers shared by the image filters (not an op).

Multi-image rule for every image filter: each image is measured, every image must pass,
and the score stored is the worst image's value (see each filter).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from typing import ClassVar, TypeVar

from PIL import Image

from synthloop.images import MAX_PIXELS, ImageError
from synthloop.ops.base import Batch, Drop, Filter, Quarantine

T = TypeVar("T")


def header_size(data: bytes, max_pixels: int = MAX_PIXELS) -> tuple[int, int]:
    """(width, height) read from the encoded header without decoding pixels.

    Raises ImageError for unrecognised data and for decompression bombs (more than
    `max_pixels` pixels), before any pixel memory is allocated.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                width, height = img.size
    except Image.DecompressionBombError as err:
        raise ImageError(f"decompression bomb: {err}") from None
    except Image.UnidentifiedImageError:  # its own message names a memory address: not reproducible
        raise ImageError("cannot read image header: not an image format Pillow knows") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise ImageError(f"cannot read image header: {err}") from None
    if width * height > max_pixels:
        raise ImageError(f"decompression bomb: {width}x{height} = {width * height} pixels > {max_pixels}")
    if width == 0 or height == 0:
        raise ImageError(f"image has no pixels: {width}x{height}")
    return width, height


def per_image(batch: Batch, measure: Callable[[Batch, int, int], T]) -> list[list[T] | Quarantine]:
    """`measure(batch, i, j)` for every image of every sample; an ImageError quarantines the sample."""
    results: list[list[T] | Quarantine] = []
    for i, sample in enumerate(batch.samples):
        values: list[T] | Quarantine = []
        for j in range(len(sample["images"])):
            try:
                values.append(measure(batch, i, j))
            except ImageError as err:
                values = Quarantine(f"image {j}: {err}")
                break
        results.append(values)
    return results


def header_of(batch: Batch, i: int, j: int) -> tuple[int, int]:
    return header_size(batch.image_bytes(i, j))


class ImageMeasureFilter(Filter):
    """A filter over one number per image: every image must lie within `bounds()`.

    The score stored under `score_key` is the worst image's value (`worst` across images).
    """

    measure_name: ClassVar[str]
    worst: ClassVar[Callable[[list[float]], float]] = min

    def measure(self, batch: Batch, i: int, j: int) -> float:
        raise NotImplementedError

    def bounds(self) -> tuple[float | None, float | None]:
        raise NotImplementedError

    def compute(self, batch: Batch) -> list[list[float] | Quarantine]:
        values = per_image(batch, self.measure)
        for sample, sample_values in zip(batch.samples, values, strict=True):
            if isinstance(sample_values, list) and sample_values:
                sample["scores"][self.score_key] = float(self.worst(sample_values))
        return values

    def decide(self, value: list[float]) -> Drop | None:
        low, high = self.bounds()
        for j, v in enumerate(value):
            if low is not None and v < low:
                return Drop(f"image {j}: {self.measure_name} {v:g} < {low:g}", value=v)
            if high is not None and v > high:
                return Drop(f"image {j}: {self.measure_name} {v:g} > {high:g}", value=v)
        return None
