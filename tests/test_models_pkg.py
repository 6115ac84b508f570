"""`pkg:` models shipped in pip packages, through the ops: semantic dedup finds crops that a
perceptual hash misses; embeddings land in meta; safety and OCR run offline."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.data
from PIL import Image, ImageDraw, ImageFont
from scipy.fft import dctn

from synthloop.images import encode_png
from synthloop.ops.base import Batch
from synthloop.ops.dedup.semantic_dedup import SemanticDedup
from synthloop.ops.filters.safety import Safety
from synthloop.ops.mappers.embed import Embed
from synthloop.ops.mappers.ocr import Ocr, agreement
from synthloop.sample import new_sample

pytest.importorskip("efficientnet_lite_pytorch")
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "camera", "hubble_deep_field", "immunohistochemistry")


def phash(image: Image.Image) -> np.ndarray:
    """64-bit DCT perceptual hash (the usual pHash: 32x32 grey, low 8x8 DCT, above the median)."""
    grey = np.asarray(image.convert("L").resize((32, 32), Image.LANCZOS), np.float64)
    low = dctn(grey, norm="ortho")[:8, :8].ravel()
    return low > np.median(low[1:])


def crop(image: Image.Image, keep: float = 0.9) -> Image.Image:
    w, h = image.size
    return image.crop((int(w * (1 - keep) / 2) + 5, int(h * (1 - keep) / 2), int(w * (1 + keep) / 2) + 5,
                       int(h * (1 + keep) / 2)))


def image_sample(sample_id: str, image: Image.Image) -> dict:
    return new_sample(sample_id, [{"role": "user", "content": "<image>\nDescribe."},
                                  {"role": "assistant", "content": "a photo"}],
                      [{"bytes": encode_png(image), "path": None}], source="skimage")


@pytest.fixture(scope="module")
def photos() -> dict[str, Image.Image]:
    return {name: Image.fromarray(getattr(skimage.data, name)()).convert("RGB") for name in PHOTOS}


def test_semantic_dedup_finds_crops_that_phash_misses(photos):
    samples = [image_sample(f"a_{name}", im) for name, im in photos.items()]
    samples += [image_sample(f"b_{name}", crop(im)) for name, im in photos.items()]
    op = SemanticDedup()
    op.setup()
    keys = op.key(Batch(samples))
    drops = op.resolve([(s["id"], k) for s, k in zip(samples, keys, strict=True)])
    assert sorted(drops) == sorted(f"b_{name}" for name in photos)  # every crop, no original
    assert all(drops[f"b_{n}"].reason == f"duplicate of a_{n}" and drops[f"b_{n}"].value["distance"] <= 0.15
               for n in photos)
    distances = [int((phash(im) != phash(crop(im))).sum()) for im in photos.values()]
    assert min(distances) > 8  # beyond the usual pHash near-duplicate radius: pHash misses them all


def test_embed_stores_normalised_vectors_and_reuses_cache(photos, tmp_path):
    samples = [image_sample(name, im) for name, im in list(photos.items())[:3]]
    op = Embed(cache_dir=str(tmp_path))
    op.process(Batch(samples))
    vectors = np.asarray([s["meta"]["embedding"] for s in samples])
    assert vectors.shape == (3, 1280) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-3)
    again = [image_sample(name, im) for name, im in list(photos.items())[:3]]
    fresh = Embed(cache_dir=str(tmp_path))
    fresh.process(Batch(again))
    assert fresh.cache.hits == 3 and [s["meta"]["embedding"] for s in again] == [s["meta"]["embedding"] for s in samples]


def test_safety_keeps_ordinary_photos(photos):
    pytest.importorskip("nudenet")
    samples = [image_sample(name, im) for name, im in list(photos.items())[:4]]
    outcomes = Safety().process(Batch(samples))
    assert outcomes == [[s] for s in samples] and all(0.0 <= s["scores"]["nsfw"] < 0.5 for s in samples)


def test_ocr_reads_rendered_text_into_meta():
    pytest.importorskip("rapidocr_onnxruntime")
    import matplotlib

    font = ImageFont.truetype(str(matplotlib.get_data_path()) + "/fonts/ttf/DejaVuSans.ttf", 40)
    image = Image.new("RGB", (360, 80), "white")
    ImageDraw.Draw(image).text((10, 15), "HELLO 2024", fill="black", font=font)
    sample = image_sample("text", image)
    Ocr(second_model=None).process(Batch([sample]))
    tokens = sample["meta"]["ocr"]["tokens"]
    assert agreement(" ".join(t["text"] for t in tokens), "HELLO 2024") > 0.8
    x1, y1, x2, y2 = tokens[0]["box"]
    assert 0 <= x1 < x2 <= 1 and 0 <= y1 < y2 <= 1


def test_ocr_agreement_ignores_spacing_and_case():
    assert agreement("Hello World", "helloworld") == 1.0
    assert agreement("", "") == 1.0 and agreement("abc", "") == 0.0
    assert agreement("STOP", "SHOP") == pytest.approx(0.75)
