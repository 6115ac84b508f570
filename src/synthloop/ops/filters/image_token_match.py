"""`image_token_match`: the number of `<image>` placeholders must equal the number of images."""

from __future__ import annotations

from typing import ClassVar

from synthloop.ops.base import Batch, Drop, Filter, register
from synthloop.sample import image_count


@register
class ImageTokenMatch(Filter):
    name: ClassVar[str] = "image_token_match"

    def compute(self, batch: Batch) -> list[tuple[int, int]]:
        return [(image_count(sample), len(sample["images"])) for sample in batch.samples]

    def decide(self, value: tuple[int, int]) -> Drop | None:
        placeholders, images = value
        if placeholders != images:
            return Drop(f"{placeholders} <image> placeholder(s) but {images} image(s)",
                        value={"placeholders": placeholders, "images": images})
        return None
