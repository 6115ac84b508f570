"""`interleaved_images`: VILA's invalid-document filter for downloaded interleaved documents (MMC4).

VILA's MMC4 downloader (NVlabs/VILA@b760c34, data_prepare/mmc4/mmc4_downloader.py `download_file`)
keeps a document only when every one of its images downloaded and decoded ("only keep samples where
all images are valid"); `require_all: true` is that rule. By default a document is kept while it
still has `min_images` images, and dropped with the reason otherwise: all of its images failed, or
too few are left. The images a document had and lost are in `meta.image_count` and
`meta.failed_images` (`formats.mmc4`); a drop's value says how many were kept and failed.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from synthloop.formats.mmc4 import FAILED_IMAGES
from synthloop.ops.base import Batch, Drop, Filter, register


@register
class InterleavedImages(Filter):
    name: ClassVar[str] = "interleaved_images"
    min_images: int = Field(1, ge=0, le=10_000, description="fewest images a document keeps")
    require_all: bool = Field(False, description="drop a document when any image failed (VILA's downloader)")

    def compute(self, batch: Batch) -> list[tuple[int, int]]:
        return [(len(s["images"]), len(s["meta"].get(FAILED_IMAGES) or [])) for s in batch.samples]

    def decide(self, value: tuple[int, int]) -> Drop | None:
        kept, failed = value
        if failed and not kept:
            return Drop(f"all {failed} images failed", value={"images": 0, "failed": failed})
        if self.require_all and failed:
            return Drop(f"{failed} of {kept + failed} images failed", value={"images": kept, "failed": failed})
        if kept < self.min_images:
            return Drop(f"{kept} image(s) < min_images {self.min_images}", value={"images": kept, "failed": failed})
        return None
