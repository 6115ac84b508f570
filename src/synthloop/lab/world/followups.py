"""Follow-up questions about a scene that is already built, for multi-turn training conversations.

LLaVA-1.5 merges the questions about one image into one conversation. Asking several questions about
the same scene also denies a model the shortcut of answering from the image alone: the same picture
now comes with different questions and different answers. Follow-ups reuse the exist, count, color and
shape phrasings by default; position, relation and size can be asked too, of any objects the scene
holds that make the question well posed. Answers are computed from the scene.
"""

from __future__ import annotations

import random
from functools import partial

from synthloop.lab.world.questions import (COLOR_TEMPLATES, COUNT_TEMPLATES, EXIST_TEMPLATES, SHAPE_TEMPLATES, ask_position,
                                       ask_relation, ask_size, plural)
from synthloop.lab.world.scene import COLOR_NAMES, SHAPES, Obj, Scene

FOLLOW_UP_QTYPES = ("exist", "count", "color", "shape")  # the default families of `follow_ups`


def _attributes(rng: random.Random, objects: list[Obj]) -> tuple[str, str]:
    """A (shape, colour) pair: half the time one that is in the scene, so answers stay balanced."""
    if objects and rng.random() < 0.5:
        obj = rng.choice(objects)
        return obj.shape, obj.color
    return rng.choice(SHAPES), rng.choice(COLOR_NAMES)


def _exist(rng: random.Random, scene: Scene) -> tuple[str, str]:
    """Half the time about something in the scene, else about something absent, for each of the three
    phrasings: drawing attributes at random would make "is there a <shape>" mostly yes in busy scenes."""
    objects = scene.objects
    mode = rng.choice(tuple(EXIST_TEMPLATES))

    def present(shape: str, color: str) -> bool:
        return any((mode == "color" or o.shape == shape) and (mode == "shape" or o.color == color) for o in objects)

    absent = [(s, c) for s in SHAPES for c in COLOR_NAMES if not present(s, c)]
    if objects and (rng.random() < 0.5 or not absent):
        obj = rng.choice(objects)
        shape, color = obj.shape, obj.color
    else:
        shape, color = rng.choice(absent)
    answer = "yes" if present(shape, color) else "no"
    return rng.choice(EXIST_TEMPLATES[mode]).format(shape=shape, color=color), answer


def _count(rng: random.Random, scene: Scene) -> tuple[str, str]:
    objects = scene.objects
    mode = rng.choice(tuple(COUNT_TEMPLATES))
    shape, color = _attributes(rng, objects)
    n = sum((mode != "shape" or o.shape == shape) and (mode != "color" or o.color == color) for o in objects)
    return rng.choice(COUNT_TEMPLATES[mode]).format(shapes=plural(shape), color=color), str(n)


def _about_unique(rng: random.Random, scene: Scene, by: str, templates: tuple[str, ...],
                  answer: str) -> tuple[str, str] | None:
    """Name an object by its `by` attribute (unique in the scene) and ask for its `answer` attribute."""
    objects = scene.objects
    unique = [o for o in objects if sum(getattr(p, by) == getattr(o, by) for p in objects) == 1]
    if not unique:
        return None
    target = rng.choice(unique)
    return rng.choice(templates).format(**{by: getattr(target, by)}), getattr(target, answer)


def _position(rng: random.Random, scene: Scene) -> tuple[str, str] | None:
    """Which half an object lies wholly in: the side first (so answers stay balanced), then an object."""
    half, size = scene.size // 2, scene.size
    inside = {"left": lambda o: o.x + o.side <= half, "right": lambda o: o.x >= size - half,
              "top": lambda o: o.y + o.side <= half, "bottom": lambda o: o.y >= size - half}
    sides = [side for side, test in inside.items() if any(map(test, scene.objects))]
    if not sides:
        return None
    side = rng.choice(sides)
    qa = ask_position(rng, scene, rng.choice([o for o in scene.objects if inside[side](o)]), side)
    return qa.question, qa.answer


def _relation(rng: random.Random, scene: Scene) -> tuple[str, str] | None:
    """Two objects of which one lies wholly left of (or above) the other."""
    pairs = [(a, b, horizontal) for a in scene.objects for b in scene.objects
             for horizontal, before in ((True, a.x + a.side <= b.x), (False, a.y + a.side <= b.y)) if before]
    if not pairs:
        return None
    qa = ask_relation(rng, scene, *rng.choice(pairs))
    return qa.question, qa.answer


def _size(rng: random.Random, scene: Scene) -> tuple[str, str] | None:
    """Two objects whose sides differ by at least the level's `size_ratio`."""
    pairs = [(a, b) for a in scene.objects for b in scene.objects if a.side >= scene.level.size_ratio * b.side]
    if not pairs:
        return None
    qa = ask_size(rng, scene, *rng.choice(pairs))
    return qa.question, qa.answer


ASKERS = {
    "exist": _exist,
    "count": _count,
    "color": partial(_about_unique, by="shape", templates=COLOR_TEMPLATES, answer="color"),
    "shape": partial(_about_unique, by="color", templates=SHAPE_TEMPLATES, answer="shape"),
    "position": _position,
    "relation": _relation,
    "size": _size,
}


def follow_ups(rng: random.Random, scene: Scene, n: int, asked: set[str],
               qtypes: tuple[str, ...] = FOLLOW_UP_QTYPES) -> list[dict]:
    """Up to n `{"qtype", "question", "answer"}` about `scene` from the families `qtypes`, none repeating a
    question in `asked` (which is updated); a family without an unambiguous referent in the scene is skipped."""
    out: list[dict] = []
    for _ in range(4 * n):
        if len(out) == n:
            break
        qtype = rng.choice(qtypes)
        qa = ASKERS[qtype](rng, scene)
        if qa is None or qa[0] in asked:
            continue
        asked.add(qa[0])
        out.append({"qtype": qtype, "question": qa[0], "answer": qa[1]})
    return out
