"""`image_text_score`: CLIP-style image-text agreement. Captions and answers are scored against the
whole image; for REC samples the crop of the answer box is scored against the referring expression
(boxes under `min_box_px` on either side are dropped: too small to judge)."""

from __future__ import annotations

from typing import ClassVar

from PIL import Image
from pydantic import Field

from synthloop.models.protocols import ImageTextScorer
from synthloop.images import ImageError
from synthloop.ops.base import Batch, Drop, Filter, Quarantine, register
from synthloop.ops.mappers.genixer_generate import ParseError, parse_boxes
from synthloop.ops.model_op import ModelParams, first_qa, sample_images


def rec_box(sample: dict, answer: str) -> list[float] | None:
    """The REC target box: `meta["box"]`, else the one box in the answer."""
    box = sample["meta"].get("box")
    if box is None:
        try:
            boxes = parse_boxes(answer)
        except ParseError:
            return None
        box = boxes[0] if len(boxes) == 1 else None
    return box


@register
class ImageTextScore(ModelParams, Filter):
    """Scores `clip_score` (cosine similarity); drops below `min_score` when it is set."""

    name: ClassVar[str] = "image_text_score"
    protocol: ClassVar[type] = ImageTextScorer
    pixels: ClassVar[int | None] = 0
    min_score: float | None = Field(None, description="drop below this clip_score; none: score only")
    min_box_px: int = Field(8, description="REC boxes smaller than this on a side are dropped")

    @property
    def score_key(self) -> str:
        return "clip_score"

    def _pair(self, batch: Batch, i: int) -> tuple[Image.Image, str, str] | Drop | Quarantine:
        sample = batch.samples[i]
        qa = first_qa(sample)
        if qa is None:
            return Quarantine("image_text_score: no question and answer to score")
        try:
            images, digests = sample_images(batch, i)
        except ImageError as err:
            return Quarantine(f"image: {err}")
        if not images:
            return Quarantine("image_text_score: sample has no image")
        image, question, answer = images[0], qa[0], qa[1]
        if sample["task"] != "rec":
            return image, answer if sample["task"] == "caption" else f"{question} {answer}", digests[0]
        box = rec_box(sample, answer)
        if box is None:
            return Quarantine("image_text_score: REC sample without exactly one box")
        x1, y1, x2, y2 = box[0] * image.width, box[1] * image.height, box[2] * image.width, box[3] * image.height
        if min(x2 - x1, y2 - y1) < self.min_box_px:
            return Drop(f"box smaller than {self.min_box_px} px", round(min(x2 - x1, y2 - y1), 1))
        crop_key = f"{digests[0]}:{','.join(f'{v:.4f}' for v in box)}"
        return image.crop((round(x1), round(y1), round(x2), round(y2))), sample["meta"].get("expression", question), \
            crop_key

    def compute(self, batch: Batch) -> list[float | Drop | Quarantine]:
        pairs = [self._pair(batch, i) for i in range(len(batch))]
        rows = [i for i, p in enumerate(pairs) if isinstance(p, tuple)]
        images = [pairs[i][0] for i in rows]
        texts = [pairs[i][1] for i in rows]
        scores = self.cached_call("score", texts, [[pairs[i][2]] for i in rows],
                                  lambda idx: self.loaded.score([images[k] for k in idx], [texts[k] for k in idx]))
        out: list = list(pairs)
        for row, score in zip(rows, scores, strict=True):
            out[row] = float(score)
        return out

    def decide(self, value: float | Drop) -> Drop | None:
        if isinstance(value, Drop):
            return value
        if self.min_score is not None and value < self.min_score:
            return Drop(f"clip_score below {self.min_score}", value)
        return None
