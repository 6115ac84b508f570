"""Real data shipped inside packages, as canonical samples: easy-vqa shapes, scikit-image photos and
(from an unpacked npm `emoji-datasource-google`) emoji with names and categories."""

from __future__ import annotations

import random
from pathlib import Path

import orjson

from synthloop.images import encode_png
from synthloop.sample import IMAGE_TOKEN, new_sample

EASY_VQA_SPLITS = ("train", "test")

# Hand-written captions for scikit-image's offline photos (loader name -> caption).
SKIMAGE_CAPTIONS = {
    "astronaut": "An astronaut in a white space suit poses in front of an American flag.",
    "camera": "A black and white photo of a man with a camera on a tripod.",
    "chelsea": "A close-up of a ginger tabby cat looking to the side.",
    "coffee": "A cup of coffee with a saucer and a spoon on a table.",
    "rocket": "A rocket standing on the launch pad under a blue sky.",
    "coins": "Rows of old coins on a dark background.",
    "page": "A scanned page of printed text.",
    "text": "A photo of signs with painted text on a wall.",
    "horse": "A black silhouette of a horse on a white background.",
    "moon": "A grayscale photo of the surface of the moon.",
}


def easy_vqa_qtype(question: str) -> str:
    """color / shape / exist from the wording of an easy-vqa question."""
    q = question.lower()
    if q.startswith(("what color", "what is the color")):
        return "color"
    if q.startswith("what"):
        return "shape"
    return "exist"


def easy_vqa(split: str = "train", n: int | None = None, seed: int = 0) -> list[dict]:
    """easy-vqa questions (38,575 train / 9,673 test) as vqa samples with a 10-answer list; with `n`, a
    seeded random subset of n questions in the package's order. Image paths name the package file."""
    import easy_vqa as package

    if split not in EASY_VQA_SPLITS:
        raise ValueError(f"easy-vqa split must be one of {EASY_VQA_SPLITS}, got {split!r}")
    texts, answers, image_ids = (package.get_train_questions if split == "train" else package.get_test_questions)()
    paths = (package.get_train_image_paths if split == "train" else package.get_test_image_paths)()
    keep = range(len(texts))
    if n is not None:
        keep = sorted(random.Random(f"easy_vqa/{seed}").sample(range(len(texts)), min(n, len(texts))))
    image_bytes: dict[int, bytes] = {}
    samples = []
    for i in keep:
        image_id = image_ids[i]
        if image_id not in image_bytes:
            image_bytes[image_id] = Path(paths[image_id]).read_bytes()
        question = texts[i][0].upper() + texts[i][1:]
        messages = [{"role": "user", "content": f"{IMAGE_TOKEN}\n{question}"},
                    {"role": "assistant", "content": answers[i]}]
        image = {"bytes": image_bytes[image_id], "path": f"easy_vqa/{split}/{image_id}.png"}
        samples.append(new_sample(f"easy_vqa_{split}_{i}", messages, [image], task="vqa",
                                  qtype=easy_vqa_qtype(texts[i]), source="easy_vqa",
                                  meta={"answer": answers[i], "answers": [answers[i]] * 10, "image_id": image_id,
                                        "split": split}))
    return samples


def skimage_photos() -> list[dict]:
    """scikit-image's offline photos with one hand-written caption each (caption task)."""
    from PIL import Image
    from skimage import data

    samples = []
    for name, text in SKIMAGE_CAPTIONS.items():
        pixels = getattr(data, name)()
        image = {"bytes": encode_png(Image.fromarray(pixels).convert("RGB")), "path": f"skimage/{name}.png"}
        messages = [{"role": "user", "content": f"{IMAGE_TOKEN}\nDescribe the image briefly."},
                    {"role": "assistant", "content": text}]
        samples.append(new_sample(f"skimage_{name}", messages, [image], task="caption", qtype="caption",
                                  source="skimage", meta={"answer": text, "caption_style": "short"}))
    return samples


def emoji(root: str | Path, n: int | None = None, seed: int = 0) -> list[dict]:
    """Emoji images with their names and categories from an unpacked npm package folder (`npm pack
    emoji-datasource-google@16.0.0` then `tar xzf`: `root` holds `emoji.json` and `img/google/64/`).
    Each emoji gives a vqa sample asking what it shows (qtype `emoji`); `meta` keeps category and
    subcategory. With `n`, a seeded random subset in the package's order."""
    root = Path(root)
    index = root / "emoji.json"
    if not index.is_file():
        raise FileNotFoundError(f"{index}: not found; unpack the npm package emoji-datasource-google there")
    entries = [e for e in orjson.loads(index.read_bytes()) if e.get("has_img_google")]
    keep = range(len(entries))
    if n is not None:
        keep = sorted(random.Random(f"emoji/{seed}").sample(range(len(entries)), min(n, len(entries))))
    samples = []
    for i in keep:
        entry = entries[i]
        name = entry["name"].lower()
        image = root / "img" / "google" / "64" / entry["image"]
        messages = [{"role": "user", "content": f"{IMAGE_TOKEN}\nWhat does this emoji show?"},
                    {"role": "assistant", "content": name}]
        samples.append(new_sample(
            f"emoji_{entry['unified'].lower()}", messages,
            [{"bytes": image.read_bytes(), "path": f"emoji/{entry['image']}"}], task="vqa", qtype="emoji",
            source="emoji", meta={"answer": name, "answers": [name] * 10, "short_names": entry["short_names"],
                                  "category": entry["category"], "subcategory": entry["subcategory"]}))
    return samples
