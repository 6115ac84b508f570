"""The scene judge as a `Judge` backend (models.protocols.Judge) for the `judge` op:

    py:synthloop.lab.scene_judge.judge:load

`p_yes` takes each request's question and answer back out of the op's prompt (ops/filters/judge.py
JUDGE_PROMPT), parses the question into a world program (program.py), perceives each distinct image of the
batch once (a 4-turn conversation sends its image 4 times) and returns P(the answer is right) on the
perceived scene. It answers only what it can judge and gives a neutral 0.5 to the rest: a prompt that is
not the judge op's, a question outside the world's grammar (most of easy-vqa's), and an image that is not
a rendered world image (`world_image`: easy-vqa's pictures, re-encoded or resized copies), where the
world's questions have no meaning the judge was built for ("teal" is a right easy-vqa colour).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Protocol

import numpy as np
import orjson
from PIL import Image

from synthloop.lab.scene_judge.objects import load_perception
from synthloop.lab.scene_judge.program import Program, Reader, p_true, parse, template_pattern
from synthloop.lab.scene_judge.seen import SeenScene
from synthloop.lab.scene_judge.words import load_reader
from synthloop.lab.world.scene import CLUTTER_RGB, COLORS, TEXT_COLORS
from synthloop.models.protocols import Request
from synthloop.ops.filters.judge import JUDGE_PROMPT
from synthloop.sample import IMAGE_TOKEN

CHECKPOINT = Path(__file__).parent / "checkpoint"
URI = "py:synthloop.lab.scene_judge.judge:load"
NEUTRAL = 0.5
TEXT_TOLERANCE = 2  # a word's anti-aliased pixel lies within this of a blend of its colour and what is under it


class Perceiver(Protocol):
    def perceive(self, images: list[Image.Image]) -> list[SeenScene]: ...


PROMPT = template_pattern(JUDGE_PROMPT, lambda slot: ".*?" if slot == "question" else ".*")


def question_answer(request: Request) -> tuple[str, str] | None:
    """The question and answer the judge op put into the request's prompt, None for any other prompt."""
    if not request.messages or not request.images:
        return None
    match = PROMPT.fullmatch(request.messages[-1]["content"].replace(IMAGE_TOKEN, "", 1).strip())
    return (match["question"], match["answer"]) if match else None


def _packed(rgb: np.ndarray) -> np.ndarray:
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


PALETTE = _packed(np.array([*COLORS.values(), CLUTTER_RGB], dtype=np.int64))
TEXT_RGB = np.array([COLORS[c] for c in TEXT_COLORS], dtype=np.float64)


def world_image(image: Image.Image) -> bool:
    """Whether every pixel is one the world's renderer draws (lab/world/render.py): the background (the most
    common colour), an object's palette colour, a clutter line's grey, or a word's anti-aliased blend of a
    text colour that the word's solid strokes show with the background or a clutter line under it (objects
    are drawn without anti-aliasing)."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.int64).reshape(-1, 3)
    packed = _packed(rgb)
    values, counts = np.unique(packed, return_counts=True)
    background = values[np.argmax(counts)]
    odd = rgb[~np.isin(packed, np.append(PALETTE, background))].astype(np.float64)
    if not len(odd):
        return True
    explained = np.zeros(len(odd), dtype=bool)
    for base in (np.array([background >> 16, (background >> 8) & 255, background & 255], dtype=np.float64),
                 np.array(CLUTTER_RGB, dtype=np.float64)):
        for ink in TEXT_RGB[np.isin(_packed(TEXT_RGB.astype(np.int64)), values)]:
            direction = ink - base
            alpha = np.clip((odd - base) @ direction / (direction @ direction), 0.0, 1.0)
            blend = base + alpha[:, None] * direction
            explained |= np.abs(odd - blend).max(axis=1) <= TEXT_TOLERANCE
    return bool(explained.all())


def _key(image: Image.Image) -> tuple:
    return image.mode, image.size, hashlib.blake2b(image.tobytes(), digest_size=16).digest()


class SceneJudge:
    """P(Yes) that a world question's answer is right, from learned perception and the world's grammar."""

    def __init__(self, perception: Perceiver, reader: Reader):
        self.perception = perception
        self.reader = reader

    def p_yes(self, requests: list[Request]) -> list[float]:
        judged: list[tuple[Program, str, tuple] | None] = []
        images: dict[tuple, Image.Image] = {}
        for request in requests:
            pair = question_answer(request)
            program = parse(pair[0]) if pair else None
            if program is None:
                judged.append(None)
                continue
            key = _key(request.images[0])
            images.setdefault(key, request.images[0])
            judged.append((program, pair[1], key))
        worldly = {key: image for key, image in images.items() if world_image(image)}
        scenes = dict(zip(worldly, self.perception.perceive(list(worldly.values())), strict=True)) if worldly else {}
        return [NEUTRAL if item is None or item[2] not in scenes else
                float(p_true(item[0], item[1], scenes[item[2]], images[item[2]], self.reader)) for item in judged]


def load_dir(folder: Path) -> SceneJudge:
    """The scene judge whose perception and word reader were trained into `folder`."""
    return SceneJudge(load_perception(folder), load_reader(folder))


def load(device: str = "auto") -> SceneJudge:
    """The packaged scene judge (`checkpoint/`); its small models run on the CPU whatever `device` says."""
    return load_dir(CHECKPOINT)


def threshold() -> float:
    """The packaged judge's drop threshold (drop a sample whose least likely turn scores below it)."""
    return orjson.loads((CHECKPOINT / "threshold.json").read_bytes())["threshold"]
