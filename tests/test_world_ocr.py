"""The packaged OCR engine reads the word of `ocr` images (the 100-sample figure is in benchmarks/world.py)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from synthloop.images import decode
from synthloop.lab.world import generate


def read_word(engine, image_bytes: bytes) -> str:
    result, _ = engine(np.asarray(decode(image_bytes)))
    # RapidOCR may split a word or add a stray symbol; the word is the letters it read, in order.
    return re.sub("[^a-z]", "", "".join(text for _, text, _ in result or []).lower())


@pytest.mark.slow
def test_rapidocr_reads_rendered_words():
    from rapidocr_onnxruntime import RapidOCR

    engine = RapidOCR()
    samples = generate(6, mix={"ocr": 1.0}, seed=77)
    read = [read_word(engine, s["images"][0]["bytes"]) for s in samples]
    assert read == [s["meta"]["answer"] for s in samples]
