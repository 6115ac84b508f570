"""A tiny colour/shape data set in the canonical layout, for training smoke tests and speed benchmarks.

Each image holds one filled square or disc of one colour on a grey background; samples are a
caption, a colour question, a shape question or a two-image, two-turn comparison.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from synthloop.images import encode_png
from synthloop.sample import new_sample

COLOURS = {"red": (220, 30, 30), "green": (30, 180, 30), "blue": (30, 60, 220), "yellow": (230, 210, 20)}
SHAPES = ("square", "circle")


def draw(colour: str, shape: str, rng: np.random.Generator, size: int) -> bytes:
    pixels = np.full((size, size, 3), 128, dtype=np.uint8)
    radius = int(rng.integers(size // 8, size // 4))
    cy, cx = rng.integers(radius, size - radius, size=2)
    yy, xx = np.mgrid[:size, :size]
    if shape == "circle":
        inside = (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2
    else:
        inside = (abs(yy - cy) <= radius) & (abs(xx - cx) <= radius)
    pixels[inside] = COLOURS[colour]
    return encode_png(Image.fromarray(pixels))


def toy_samples(n: int, seed: int = 0, image_size: int = 64) -> list[dict]:
    rng = np.random.default_rng(seed)
    names = list(COLOURS)
    samples = []
    for i in range(n):
        colour, shape = names[int(rng.integers(len(names)))], SHAPES[int(rng.integers(len(SHAPES)))]
        image = {"bytes": draw(colour, shape, rng, image_size), "path": None}
        kind = i % 4
        if kind == 0:
            messages = [{"role": "user", "content": "<image>\nDescribe the image briefly."},
                        {"role": "assistant", "content": f"A {colour} {shape} on a grey background."}]
            sample = new_sample(f"toy_{i}", messages, [image], task="caption", qtype="caption")
        elif kind == 1:
            messages = [{"role": "user", "content": "<image>\nWhat colour is the shape?"},
                        {"role": "assistant", "content": colour}]
            sample = new_sample(f"toy_{i}", messages, [image], task="vqa", qtype="color", meta={"answer": colour})
        elif kind == 2:
            messages = [{"role": "user", "content": "<image>\nWhat shape is it?"},
                        {"role": "assistant", "content": shape}]
            sample = new_sample(f"toy_{i}", messages, [image], task="vqa", qtype="shape", meta={"answer": shape})
        else:
            other = names[int(rng.integers(len(names)))]
            second = {"bytes": draw(other, "square", rng, image_size), "path": None}
            same = "Yes" if other == colour else "No"
            messages = [{"role": "system", "content": "Answer briefly."},
                        {"role": "user", "content": "<image> and <image>\nWhat colour is the first shape?"},
                        {"role": "assistant", "content": colour},
                        {"role": "user", "content": "Do they have the same colour?"},
                        {"role": "assistant", "content": same}]
            sample = new_sample(f"toy_{i}", messages, [image, second], task="dialogue", qtype="compare")
        samples.append(sample)
    return samples
