"""Per-image helpers shared by the image filters (not an op).

Multi-image rule for every image filter: each image is measured, every image must pass,
and the score stored is the worst image's value (see each filter).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, TypeVar

from synthloop.images import ImageError
from synthloop.ops.base import Batch, Drop, Filter, Quarantine

T = TypeVar("T")


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
