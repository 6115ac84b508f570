"""World questions as programs executed on a perceived scene: `parse` reads a question back into the family,
template group and slots the world filled in, and `p_true` gives the probability that an answer is right
given what perception saw.

The grammar is built from the world's own template constants (`lab.world.questions`), so every question the
world asks parses and a new template cannot fall outside unnoticed. `p_true` follows the world's semantics
(lab/world/questions.py, lab/world/followups.py):

- exist: some object has the named colour and/or shape (`exist`, followups `_exist`);
- count: how many objects have them, all objects for "shapes"/"objects" (`count`, followups `_count`);
- color, shape: the attribute of the object the question names by its shape or colour, unique in the scene
  (`color` and `shape` fill the scene with `forbid` on it, followups `_about_unique`);
- position: which half of the image the object lies wholly in (`position` places it in that half's
  region, followups `_position`: `o.x + o.side <= half` is left, `o.x >= size - half` right);
- relation: one object lies wholly left of (above) the other, every pixel of one before every pixel of the
  other (`relation`'s split regions, followups `_relation`: `a.x + a.side <= b.x`);
- size: the bigger object has the bigger side (`size` and followups `_size` ask of pairs whose sides
  differ by the level's `size_ratio`);
- ocr: the word written in the image, which the word reader judges.

Objects are named by colour and shape, which the world keeps unique (scene.add_object). Perception gives
probabilities, so resolution is soft: the named object is object i with weight P(i has the named
attributes) normalised over the scene's objects, and a count is the Poisson-binomial distribution of
the per-object probabilities. On the ground truth (one-hot probabilities) `p_true` is exactly 1 or 0.
An answer outside the question's answer form ("top" to a left/right question, "7 circles") is false.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from string import Formatter
from typing import Protocol

from PIL import Image

from synthloop.lab.scene_judge.seen import SeenObject, SeenScene
from synthloop.lab.world.questions import (COLOR_TEMPLATES, COUNT_TEMPLATES, EXIST_TEMPLATES, OCR_TEMPLATES,
                                           POSITION_TEMPLATES, RELATION_PHRASES, RELATION_TEMPLATES, SHAPE_TEMPLATES,
                                           SIZE_TEMPLATES, SIZE_WORDS, plural)
from synthloop.lab.world.scene import COLOR_NAMES, SHAPES

EXPRESSIONS = {f"{color} {shape}": (color, shape) for color in COLOR_NAMES for shape in SHAPES}
PLURALS = {plural(shape): shape for shape in SHAPES}
RELATIONS = {phrase: relation for relation, phrase in RELATION_PHRASES.items()}
# What each slot of the world's templates can hold, and the value it stands for.
SLOTS: dict[str, dict[str, object]] = {
    "color": {c: c for c in COLOR_NAMES}, "shape": {s: s for s in SHAPES}, "shapes": PLURALS,
    "expr": EXPRESSIONS, "a": EXPRESSIONS, "b": EXPRESSIONS, "rel": RELATIONS, "word": {w: w for w in SIZE_WORDS},
}
SIDES = {"horizontal": ("left", "right"), "vertical": ("top", "bottom")}
CHOICES = {"horizontal": ("left", "right"), "vertical": ("above", "below")}


@dataclass(frozen=True)
class Program:
    """A parsed world question: its family, the template group it came from and the slots it filled."""

    qtype: str  # exist, count, color, shape, position, relation, size, ocr
    form: str  # exist, count: shape/color/both/all; position: horizontal/vertical; relation: yes/no/horizontal/
    #            vertical; size: which/yes/no; color, shape, ocr: ""
    color: str | None = None
    shape: str | None = None
    a: tuple[str, str] | None = None  # (colour, shape) of the first object named
    b: tuple[str, str] | None = None
    relation: str | None = None  # left, right, above or below (yes/no relation questions)
    word: str | None = None  # bigger or smaller


class Reader(Protocol):
    def p_word(self, images: list[Image.Image], words: list[str]) -> list[float]: ...


def template_pattern(template: str, slot_pattern: Callable[[str], str]) -> re.Pattern:
    """A regex matching what `template.format` can write: its text as is, each `{slot}` as a group of that
    name matching `slot_pattern(slot)`."""
    parts = []
    for literal, slot, _, _ in Formatter().parse(template):
        parts.append(re.escape(literal))
        if slot is not None:
            parts.append(f"(?P<{slot}>{slot_pattern(slot)})")
    return re.compile("".join(parts), re.DOTALL)


def _slot_values(slot: str) -> str:
    return "|".join(map(re.escape, sorted(SLOTS[slot], key=len, reverse=True)))


def _grammar() -> list[tuple[re.Pattern, str, str]]:
    groups = [("exist", EXIST_TEMPLATES), ("count", COUNT_TEMPLATES), ("color", {"": COLOR_TEMPLATES}),
              ("shape", {"": SHAPE_TEMPLATES}), ("position", POSITION_TEMPLATES), ("relation", RELATION_TEMPLATES),
              ("size", SIZE_TEMPLATES), ("ocr", {"": OCR_TEMPLATES})]
    return [(template_pattern(t, _slot_values), qtype, form)
            for qtype, forms in groups for form, templates in forms.items() for t in templates]


GRAMMAR = _grammar()


def parse(question: str) -> Program | None:
    """The program of a world question, None when it is not one (whitespace is collapsed first)."""
    question = " ".join(question.split())
    for pattern, qtype, form in GRAMMAR:
        match = pattern.fullmatch(question)
        if match:
            slots = {name: SLOTS[name][value] for name, value in match.groupdict().items()}
            a = slots.get("expr", slots.get("a"))
            return Program(qtype, form, color=slots.get("color"), shape=slots.get("shapes", slots.get("shape")),
                           a=a, b=slots.get("b"), relation=slots.get("rel"), word=slots.get("word"))
    return None


def normalise(answer: str) -> str:
    """Case, surrounding and repeated whitespace and a final full stop do not change an answer."""
    return " ".join(answer.split()).lower().removesuffix(".")


def count_distribution(probabilities: list[float]) -> list[float]:
    """P(exactly n of independent events happen), n = 0..len (the Poisson-binomial distribution)."""
    dist = [1.0]
    for p in probabilities:
        dist = [(dist[n] if n < len(dist) else 0.0) * (1 - p) + (dist[n - 1] * p if n else 0.0)
                for n in range(len(dist) + 1)]
    return dist


def referents(seen: SeenScene, color: str | None, shape: str | None) -> list[float]:
    """Weight of each object being the one named (unique in the world): its probability of having the named
    attributes, normalised; all zero when no object can have them."""
    p = [o.p(color, shape) for o in seen.objects]
    total = sum(p)
    return [v / total for v in p] if total > 0 else [0.0] * len(p)


def _pairs(seen: SeenScene, a: tuple[str, str], b: tuple[str, str]) -> list[tuple[float, SeenObject, SeenObject]]:
    """(weight, first, second) of every ordered pair of distinct objects as the two objects named."""
    wa, wb = referents(seen, *a), referents(seen, *b)
    objects = seen.objects
    pairs = [(wa[i] * wb[j], objects[i], objects[j]) for i in range(len(objects)) for j in range(len(objects))
             if i != j and wa[i] * wb[j] > 0]
    total = sum(w for w, _, _ in pairs)
    return [(w / total, x, y) for w, x, y in pairs]


def _before(first: SeenObject, second: SeenObject, relation: str) -> bool:
    """Whether `first` lies wholly `relation` (left, right, above, below) of `second` (boxes' x1, y1 exclusive)."""
    if relation in ("right", "below"):
        first, second = second, first
    axis = 0 if relation in ("left", "right") else 1
    return first.box[axis + 2] <= second.box[axis]


def _in_half(obj: SeenObject, side: str, size: int) -> bool:
    """Whether the object lies wholly in the `side` half of the image (the world's `half = size // 2`)."""
    half = size // 2
    x0, y0, x1, y1 = obj.box
    return {"left": x1 <= half, "right": x0 >= size - half, "top": y1 <= half, "bottom": y0 >= size - half}[side]


def _bigger(first: SeenObject, second: SeenObject, word: str) -> bool:
    return first.side > second.side if word == "bigger" else first.side < second.side


def _yes_no(answer: str, p_yes: float) -> float:
    return p_yes if answer == "yes" else 1.0 - p_yes if answer == "no" else 0.0


def p_true(program: Program, answer: str, seen: SeenScene, image: Image.Image | None, reader: Reader | None) -> float:
    """Probability that `answer` is the right answer to `program` in the scene perception saw (`image` and
    `reader` serve ocr questions only: the reader's P(the image's word is `answer`))."""
    answer = normalise(answer)
    q = program.qtype
    if q == "exist":
        p_none = 1.0
        for o in seen.objects:
            p_none *= 1.0 - o.p(program.color, program.shape)
        return _yes_no(answer, 1.0 - p_none)
    if q == "count":
        if not re.fullmatch(r"0|[1-9][0-9]*", answer):
            return 0.0
        dist = count_distribution([o.p(program.color, program.shape) for o in seen.objects])
        return dist[int(answer)] if int(answer) < len(dist) else 0.0
    if q in ("color", "shape"):
        if answer not in (COLOR_NAMES if q == "color" else SHAPES):
            return 0.0
        weights = referents(seen, program.color, program.shape)
        return sum(w * getattr(o, q)[answer] for w, o in zip(weights, seen.objects))
    if q == "position":
        if answer not in SIDES[program.form]:
            return 0.0
        weights = referents(seen, *program.a)
        return sum(w for w, o in zip(weights, seen.objects) if _in_half(o, answer, seen.size))
    if q == "relation":
        if program.form == "yes/no":
            return _yes_no(answer, sum(w for w, x, y in _pairs(seen, program.a, program.b)
                                       if _before(x, y, program.relation)))
        if answer not in CHOICES[program.form]:
            return 0.0
        return sum(w for w, x, y in _pairs(seen, program.a, program.b) if _before(x, y, answer))
    if q == "size":
        if program.form == "yes/no":
            return _yes_no(answer, sum(w for w, x, y in _pairs(seen, program.a, program.b)
                                       if _bigger(x, y, program.word)))
        named = EXPRESSIONS.get(answer)
        if named not in (program.a, program.b):
            return 0.0
        first, second = (program.a, program.b) if named == program.a else (program.b, program.a)
        return sum(w for w, x, y in _pairs(seen, first, second) if _bigger(x, y, program.word))
    if q == "ocr":
        if not answer.isalpha() or not answer.isascii():
            return 0.0
        return float(reader.p_word([image], [answer])[0])
    raise ValueError(f"unknown program qtype {q!r}")
