"""Question families about attributes and layout: exist, count, color, shape, position, relation, size, ocr.

Each family builds a scene suited to its question (balanced answers, unambiguous referents), picks a
phrasing template and computes the answer from the scene it built. Position, relation and size phrase
their question with `ask_position`, `ask_relation` and `ask_size`, which follow-up turns also call on
objects of a scene that is already built.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from synthloop.lab.world.scene import COLOR_NAMES, SHAPES, Level, Obj, Scene, add_object, fill, new_scene, random_side
from synthloop.lab.world.text import add_word, pick_word


@dataclass
class QA:
    scene: Scene
    question: str
    answer: str
    template: int
    extra: dict = field(default_factory=dict)  # goes into meta: box, choices, caption style, ...


class NoRoom(RuntimeError):
    """A required object did not fit; the caller draws a new scene."""


def placed(obj: Obj | None) -> Obj:
    if obj is None:
        raise NoRoom
    return obj


def plural(noun: str) -> str:
    return noun + ("es" if noun.endswith("s") else "s")


def _ask(rng: random.Random, scene: Scene, templates: tuple[str, ...], answer: str, **slots: str) -> QA:
    template = rng.randrange(len(templates))
    return QA(scene, templates[template].format(**slots), answer, template)


EXIST_TEMPLATES = {
    "shape": ("Is there a {shape} in the image?", "Does the image contain a {shape}?", "Can you see a {shape}?"),
    "color": ("Is there a {color} object in the image?", "Is any shape {color}?", "Do you see anything {color}?"),
    "both": ("Is there a {color} {shape} in the image?", "Does the image contain a {color} {shape}?",
             "Can you see a {color} {shape}?"),
}
COUNT_TEMPLATES = {
    "all": ("How many shapes are there?", "How many objects are in the image?", "Count the shapes in the image."),
    "shape": ("How many {shapes} are there?", "How many {shapes} are in the image?", "Count the {shapes} in the image."),
    "color": ("How many {color} shapes are there?", "How many {color} objects are in the image?",
              "Count the {color} shapes."),
}
COLOR_TEMPLATES = ("What color is the {shape}?", "What is the color of the {shape}?", "Which color does the {shape} have?")
SHAPE_TEMPLATES = ("What shape is the {color} object?", "What is the shape of the {color} object?",
                   "Which shape is {color}?")


def _objects(rng: random.Random, scene: Scene) -> int:
    return rng.randint(*scene.level.objects)


def exist(rng: random.Random, level: Level, size: int) -> QA:
    scene = new_scene(rng, level, size)
    mode = rng.choice(("shape", "color", "both"))
    shape, color = rng.choice(SHAPES), rng.choice(COLOR_NAMES)

    def matches(s: str, c: str) -> bool:
        return (mode == "color" or s == shape) and (mode == "shape" or c == color)

    present = rng.random() < 0.5
    if present:
        placed(add_object(rng, scene, shape=None if mode == "color" else shape,
                          color=None if mode == "shape" else color))
    fill(rng, scene, _objects(rng, scene), forbid=None if present else matches)
    return _ask(rng, scene, EXIST_TEMPLATES[mode], "yes" if present else "no", shape=shape, color=color)


def count(rng: random.Random, level: Level, size: int) -> QA:
    scene = new_scene(rng, level, size)
    mode = rng.choice(("all", "shape", "color"))
    most = level.objects[1]
    if mode == "all":
        fill(rng, scene, _objects(rng, scene))
        return _ask(rng, scene, COUNT_TEMPLATES["all"], str(len(scene.objects)))
    shape, color = rng.choice(SHAPES), rng.choice(COLOR_NAMES)
    target = rng.randint(0, most)
    for _ in range(target):
        add_object(rng, scene, shape=shape if mode == "shape" else None, color=color if mode == "color" else None)
    if mode == "shape":
        fill(rng, scene, rng.randint(len(scene.objects), most), forbid=lambda s, c: s == shape)
        answer = sum(o.shape == shape for o in scene.objects)
    else:
        fill(rng, scene, rng.randint(len(scene.objects), most), forbid=lambda s, c: c == color)
        answer = sum(o.color == color for o in scene.objects)
    return _ask(rng, scene, COUNT_TEMPLATES[mode], str(answer), shapes=plural(shape), color=color)


def color(rng: random.Random, level: Level, size: int) -> QA:
    scene = new_scene(rng, level, size)
    target = placed(add_object(rng, scene))
    fill(rng, scene, _objects(rng, scene), forbid=lambda s, c: s == target.shape)
    return _ask(rng, scene, COLOR_TEMPLATES, target.color, shape=target.shape)


def shape(rng: random.Random, level: Level, size: int) -> QA:
    scene = new_scene(rng, level, size)
    target = placed(add_object(rng, scene))
    fill(rng, scene, _objects(rng, scene), forbid=lambda s, c: c == target.color)
    return _ask(rng, scene, SHAPE_TEMPLATES, target.shape, color=target.color)


POSITION_TEMPLATES = {
    "horizontal": ("Is the {expr} on the left or the right side of the image?",
                   "On which side of the image is the {expr}, left or right?"),
    "vertical": ("Is the {expr} in the top or the bottom half of the image?",
                 "Is the {expr} at the top or at the bottom of the image?"),
}
RELATION_PHRASES = {"left": "to the left of", "right": "to the right of", "above": "above", "below": "below"}
OPPOSITE = {"left": "right", "right": "left", "above": "below", "below": "above"}
# Yes/no about a stated relation ({rel} one of RELATION_PHRASES), or which side along one axis.
RELATION_TEMPLATES = {
    "yes/no": ("Is the {a} {rel} the {b}?", "Is it true that the {a} is {rel} the {b}?"),
    "horizontal": ("Is the {a} to the left or to the right of the {b}?",),
    "vertical": ("Is the {a} above or below the {b}?",),
}
SIZE_WORDS = ("bigger", "smaller")
# Which of two objects is {word} (one of SIZE_WORDS), answered by its expression, or yes/no about one of them.
SIZE_TEMPLATES = {"which": ("Which is {word}, the {a} or the {b}?",), "yes/no": ("Is the {a} {word} than the {b}?",)}
OCR_TEMPLATES = ("What word is written in the image?", "What does the text in the image say?",
                 "Read the word shown in the image.")


def ask_position(rng: random.Random, scene: Scene, target: Obj, side: str) -> QA:
    """Which half of the image `target` lies in; `side` (left, right, top or bottom) is the answer."""
    axis = "horizontal" if side in ("left", "right") else "vertical"
    return _ask(rng, scene, POSITION_TEMPLATES[axis], side, expr=target.expr)


def ask_relation(rng: random.Random, scene: Scene, first: Obj, second: Obj, horizontal: bool) -> QA:
    """Where one of two objects is relative to the other; `first` lies wholly left of (or above) `second`.
    Half the questions are yes/no about a stated relation (true half the time), half ask which side."""
    a, b = (first, second) if rng.random() < 0.5 else (second, first)
    truth = ("left" if a is first else "right") if horizontal else ("above" if a is first else "below")
    if rng.random() < 0.5:
        asked = truth if rng.random() < 0.5 else OPPOSITE[truth]
        return _ask(rng, scene, RELATION_TEMPLATES["yes/no"], "yes" if asked == truth else "no", a=a.expr,
                    b=b.expr, rel=RELATION_PHRASES[asked])
    qa = _ask(rng, scene, RELATION_TEMPLATES["horizontal" if horizontal else "vertical"], truth, a=a.expr, b=b.expr)
    qa.template += 2
    return qa


def ask_size(rng: random.Random, scene: Scene, big: Obj, small: Obj) -> QA:
    """Which of two objects is bigger or smaller, or yes/no about one of them being so."""
    a, b = (big, small) if rng.random() < 0.5 else (small, big)
    template = rng.randrange(4)
    word = SIZE_WORDS[template % 2]
    if template < 2:
        answer = (big if word == "bigger" else small).expr
    else:
        answer = "yes" if (a is big) == (word == "bigger") else "no"
    question = SIZE_TEMPLATES["which" if template < 2 else "yes/no"][0].format(word=word, a=a.expr, b=b.expr)
    return QA(scene, question, answer, template)


def position(rng: random.Random, level: Level, size: int) -> QA:
    scene = new_scene(rng, level, size)
    half = size // 2
    answer = rng.choice(("left", "right", "top", "bottom"))
    region = {"left": (0, 0, half, size), "right": (size - half, 0, size, size),
              "top": (0, 0, size, half), "bottom": (0, size - half, size, size)}[answer]
    target = placed(add_object(rng, scene, region=region))
    fill(rng, scene, _objects(rng, scene))
    return ask_position(rng, scene, target, answer)


def relation(rng: random.Random, level: Level, size: int) -> QA:
    """Two objects separated along one axis: every pixel of one lies left of (or above) every pixel of the other."""
    scene = new_scene(rng, level, size)
    horizontal = rng.random() < 0.5
    split = rng.randint(int(0.35 * size), int(0.65 * size))
    first_region = (0, 0, split - 1, size) if horizontal else (0, 0, size, split - 1)
    second_region = (split + 1, 0, size, size) if horizontal else (0, split + 1, size, size)
    side = min(random_side(rng, scene), int(0.3 * size))
    first = placed(add_object(rng, scene, side=side, region=first_region))
    second = placed(add_object(rng, scene, side=min(random_side(rng, scene), int(0.3 * size)),
                                region=second_region))
    fill(rng, scene, _objects(rng, scene))
    return ask_relation(rng, scene, first, second, horizontal)


def size(rng: random.Random, level: Level, image_size: int) -> QA:
    scene = new_scene(rng, level, image_size)
    ratio = level.size_ratio
    small_fraction = rng.uniform(level.side[0], min(level.side[1], 0.45 / ratio))
    big_fraction = rng.uniform(small_fraction * ratio, min(0.48, small_fraction * ratio * 1.3))
    big = placed(add_object(rng, scene, side=max(6, round(big_fraction * image_size))))
    small = placed(add_object(rng, scene, side=max(4, round(small_fraction * image_size))))
    fill(rng, scene, _objects(rng, scene))
    return ask_size(rng, scene, big, small)


def ocr(rng: random.Random, level: Level, size: int) -> QA:
    scene = new_scene(rng, level, size)
    text = pick_word(rng, scene)
    if add_word(rng, scene, text) is None:
        raise NoRoom
    # Distractor shapes only from level 2 up: OCR engines read a nearby star or cross as a character.
    fill(rng, scene, rng.randint(0, max(0, level.objects[0] - 2)))
    return _ask(rng, scene, OCR_TEMPLATES, text)
