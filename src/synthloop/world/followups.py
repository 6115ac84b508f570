"""Follow-up questions about a scene that is already built, for multi-turn training conversations.

LLaVA-1.5 merges the questions about one image into one conversation. Asking several questions about
the same scene also denies a model the shortcut of answering from the image alone: the same picture
now comes with different questions and different answers. Follow-ups reuse the exist, count, color and
shape phrasings and compute their answers from the scene.
"""

from __future__ import annotations

import random
from functools import partial

from synthloop.world.questions import COLOR_TEMPLATES, COUNT_TEMPLATES, EXIST_TEMPLATES, SHAPE_TEMPLATES, plural
from synthloop.world.scene import COLOR_NAMES, SHAPES, Obj, Scene

FOLLOW_UP_QTYPES = ("exist", "count", "color", "shape")


def _attributes(rng: random.Random, objects: list[Obj]) -> tuple[str, str]:
    """A (shape, colour) pair: half the time one that is in the scene, so answers stay balanced."""
    if objects and rng.random() < 0.5:
        obj = rng.choice(objects)
        return obj.shape, obj.color
    return rng.choice(SHAPES), rng.choice(COLOR_NAMES)


def _exist(rng: random.Random, objects: list[Obj]) -> tuple[str, str]:
    """Half the time about something in the scene, else about something absent, for each of the three
    phrasings: drawing attributes at random would make "is there a <shape>" mostly yes in busy scenes."""
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


def _count(rng: random.Random, objects: list[Obj]) -> tuple[str, str]:
    mode = rng.choice(tuple(COUNT_TEMPLATES))
    shape, color = _attributes(rng, objects)
    n = sum((mode != "shape" or o.shape == shape) and (mode != "color" or o.color == color) for o in objects)
    return rng.choice(COUNT_TEMPLATES[mode]).format(shapes=plural(shape), color=color), str(n)


def _about_unique(rng: random.Random, objects: list[Obj], by: str, templates: tuple[str, ...],
                  answer: str) -> tuple[str, str] | None:
    """Name an object by its `by` attribute (unique in the scene) and ask for its `answer` attribute."""
    unique = [o for o in objects if sum(getattr(p, by) == getattr(o, by) for p in objects) == 1]
    if not unique:
        return None
    target = rng.choice(unique)
    return rng.choice(templates).format(**{by: getattr(target, by)}), getattr(target, answer)


ASKERS = {
    "exist": _exist,
    "count": _count,
    "color": partial(_about_unique, by="shape", templates=COLOR_TEMPLATES, answer="color"),
    "shape": partial(_about_unique, by="color", templates=SHAPE_TEMPLATES, answer="shape"),
}


def follow_ups(rng: random.Random, scene: Scene, n: int, asked: set[str]) -> list[dict]:
    """Up to n `{"qtype", "question", "answer"}` about `scene`, none repeating a question in `asked`
    (which is updated); a family without an unambiguous referent in the scene is skipped."""
    out: list[dict] = []
    for _ in range(4 * n):
        if len(out) == n:
            break
        qtype = rng.choice(FOLLOW_UP_QTYPES)
        qa = ASKERS[qtype](rng, scene.objects)
        if qa is None or qa[0] in asked:
            continue
        asked.add(qa[0])
        out.append({"qtype": qtype, "question": qa[0], "answer": qa[1]})
    return out
