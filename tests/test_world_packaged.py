"""Real data shipped in packages: easy-vqa counts and qtypes, scikit-image photos."""

from __future__ import annotations

import orjson
import pytest
from PIL import Image

from synthloop.images import decode
from synthloop.lab.world.packaged import SKIMAGE_CAPTIONS, easy_vqa, easy_vqa_qtype, emoji, skimage_photos
from synthloop.sample import validate_sample


@pytest.mark.parametrize("question, qtype", [
    ("what color is the shape?", "color"), ("what is the color of the circle?", "color"),
    ("what shape is in the image?", "shape"), ("what is the red shape?", "shape"),
    ("is there not a blue shape in the image?", "exist"), ("does the image contain a triangle?", "exist"),
])
def test_qtype_from_question(question, qtype):
    assert easy_vqa_qtype(question) == qtype


def test_easy_vqa_full_train_counts():
    samples = easy_vqa("train")
    assert len(samples) == 38_575
    counts = {q: sum(s["qtype"] == q for s in samples) for q in ("exist", "color", "shape")}
    assert counts == {"exist": 28_407, "color": 5_166, "shape": 5_002}
    assert all(s["meta"]["answer"] in ("yes", "no") for s in samples if s["qtype"] == "exist")
    assert len({s["images"][0]["path"] for s in samples}) == 4_000
    assert len({s["id"] for s in samples}) == len(samples)


def test_easy_vqa_subset_is_seeded_and_canonical():
    subset = easy_vqa("test", n=50, seed=1)
    assert len(subset) == 50 and subset == easy_vqa("test", n=50, seed=1)
    assert subset != easy_vqa("test", n=50, seed=2)
    for s in subset:
        validate_sample(s)
        assert s["source"] == "easy_vqa" and s["task"] == "vqa"
        assert s["meta"]["answers"] == [s["messages"][1]["content"]] * 10
        assert decode(s["images"][0]["bytes"]).size == (64, 64)
    with pytest.raises(ValueError, match="split"):
        easy_vqa("val")


def test_skimage_photos():
    photos = skimage_photos()
    assert [p["id"] for p in photos] == [f"skimage_{name}" for name in SKIMAGE_CAPTIONS]
    for p in photos:
        validate_sample(p)
        assert p["task"] == "caption" and p["source"] == "skimage"
        assert min(decode(p["images"][0]["bytes"]).size) >= 150


def test_emoji_from_an_unpacked_npm_folder(tmp_path):
    """The layout of npm `emoji-datasource-google`: emoji.json beside img/google/64/<image>."""
    entries = [
        {"name": "GRINNING FACE", "unified": "1F600", "image": "1f600.png", "short_names": ["grinning"],
         "category": "Smileys & Emotion", "subcategory": "face-smiling", "has_img_google": True},
        {"name": "NO IMAGE", "unified": "1F601", "image": "1f601.png", "short_names": ["x"],
         "category": "Symbols", "subcategory": "other", "has_img_google": False},
        {"name": "RED APPLE", "unified": "1F34E", "image": "1f34e.png", "short_names": ["apple"],
         "category": "Food & Drink", "subcategory": "food-fruit", "has_img_google": True},
    ]
    (tmp_path / "emoji.json").write_bytes(orjson.dumps(entries))
    (tmp_path / "img" / "google" / "64").mkdir(parents=True)
    for entry in entries:
        Image.new("RGBA", (64, 64), (255, 200, 0, 255)).save(tmp_path / "img" / "google" / "64" / entry["image"])
    samples = emoji(tmp_path)
    assert [s["id"] for s in samples] == ["emoji_1f600", "emoji_1f34e"]
    assert [s["messages"][1]["content"] for s in samples] == ["grinning face", "red apple"]
    assert samples[1]["meta"]["category"] == "Food & Drink" and samples[1]["qtype"] == "emoji"
    for s in samples:
        validate_sample(s)
    assert len(emoji(tmp_path, n=1, seed=0)) == 1
    with pytest.raises(FileNotFoundError, match="emoji.json"):
        emoji(tmp_path / "missing")
