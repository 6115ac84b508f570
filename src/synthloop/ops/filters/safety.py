"""`safety`: drop images a safety model (NudeNet by default) finds unsafe."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from synthloop.models.protocols import SafetyClassifier
from synthloop.ops.base import Batch, Drop, Filter, Quarantine, register
from synthloop.ops.model_op import ModelParams, image_requests


@register
class Safety(ModelParams, Filter):
    """Scores `nsfw` in [0, 1] for every image of a sample (the maximum); drops above `max_unsafe`."""

    name: ClassVar[str] = "safety"
    protocol: ClassVar[type] = SafetyClassifier
    pixels: ClassVar[int | None] = 0
    model: str = Field("pkg:nudenet", description="safety classifier URI")
    max_unsafe: float = Field(0.85, ge=0, le=1, description="drop above this score (0.85: no false positive on "
                              "226 safe photos and scenes, see docs/experiments.md)")

    @property
    def score_key(self) -> str:
        return "nsfw"

    def compute(self, batch: Batch) -> list[float | Quarantine]:
        rows, requests, hashes, failed = image_requests(batch, lambda i, s: [], first_image_only=False)
        flat = [(p, image, digest) for p, r in enumerate(requests) for image, digest in zip(r.images, hashes[p],
                                                                                           strict=True)]
        scores = self.cached_call("unsafe", [None] * len(flat), [[d] for _, _, d in flat],
                                  lambda idx: self.loaded.unsafe_scores([flat[i][1] for i in idx]))
        worst = [0.0] * len(rows)
        for (p, _, _), score in zip(flat, scores, strict=True):
            worst[p] = max(worst[p], float(score))
        out: list[float | Quarantine] = [failed.get(i, Quarantine("safety: not scored")) for i in range(len(batch))]
        for row, score in zip(rows, worst, strict=True):
            out[row] = score
        return out

    def decide(self, value: float) -> Drop | None:
        return Drop(f"unsafe score above {self.max_unsafe}", value) if value > self.max_unsafe else None
