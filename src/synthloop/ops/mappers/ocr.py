"""`ocr`: read the text in each sample's first image; tokens with boxes and confidences go to
`meta["ocr"]`. With a second engine (tesseract, when installed) the agreement of the two readings
is a quality score: `scores["ocr_agreement"]` in [0, 1], 1 when both read the same characters."""

from __future__ import annotations

import difflib
import re
from typing import ClassVar

from pydantic import Field

from synthloop.models.cache import cache_key
from synthloop.models.protocols import ModelError, Ocr as OcrProtocol
from synthloop.models.uri import load_model
from synthloop.ops.base import Batch, Mapper, Outcome, register
from synthloop.ops.model_op import ModelParams, image_requests

_NOT_ALNUM = re.compile(r"[^0-9a-z]")


def agreement(text_a: str, text_b: str) -> float:
    """Character-level similarity ignoring case, spaces and punctuation (RapidOCR may drop spaces)."""
    a, b = _NOT_ALNUM.sub("", text_a.lower()), _NOT_ALNUM.sub("", text_b.lower())
    if not a and not b:
        return 1.0
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


@register
class Ocr(ModelParams, Mapper):
    name: ClassVar[str] = "ocr"
    protocol: ClassVar[type] = OcrProtocol
    pixels: ClassVar[int | None] = 0
    model: str = Field("pkg:rapidocr", description="OCR model URI")
    second_model: str | None = Field("pkg:tesseract", description="second OCR engine; skipped when not installed")

    def _read(self, uri: str, engine: object, requests: list, hashes: list[list[str]]) -> list[list[dict]]:
        def compute(indices: list[int]) -> list[list[dict]]:
            found = engine.read([requests[i].images[0] for i in indices])  # type: ignore[attr-defined]
            return [[{"text": t.text, "box": [round(v, 4) for v in t.box], "confidence": round(t.confidence, 4)}
                     for t in tokens] for tokens in found]

        return self.cache.cached([cache_key(uri, "ocr", None, h, **self.batch_option()) for h in hashes], compute)

    def process(self, batch: Batch) -> list[Outcome]:
        rows, requests, hashes, failed = image_requests(batch, lambda i, s: [])
        first = self._read(self.model, self.loaded, requests, hashes)
        second = None
        if self.second_model:
            try:
                second = self._read(self.second_model, load_model(self.second_model, self.device, **self.batch_option()), requests, hashes)
            except ModelError:
                second = None
        for p, row in enumerate(rows):
            sample = batch.samples[row]
            sample["meta"]["ocr"] = {"engine": self.model, "tokens": first[p]}
            if second is not None:
                text_a = " ".join(t["text"] for t in first[p])
                text_b = " ".join(t["text"] for t in second[p])
                sample["meta"]["ocr"]["second"] = {"engine": self.second_model, "tokens": second[p]}
                sample["scores"]["ocr_agreement"] = round(agreement(text_a, text_b), 4)
        return [failed.get(i) or [s] for i, s in enumerate(batch.samples)]
