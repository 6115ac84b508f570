"""Families that describe or ground a whole scene: caption, rec, reg, and mc (multiple choice over a base family)."""

from __future__ import annotations

import random

from synthloop.formats.boxes import format_box
from synthloop.formats.prompts import OPTION_LETTER
from synthloop.lab.world import questions
from synthloop.lab.world.questions import QA
from synthloop.lab.world.scene import COLOR_NAMES, SHAPES, Level, Obj, Scene, fill, new_scene, position_word, size_word
from synthloop.lab.world.text import add_word, pick_word

NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
LETTERS = "ABCD"
BOX_DECIMALS = 2  # boxes in questions and answers: `[0.12, 0.34, 0.56, 0.78]`
MC_DOMAINS: dict[str, tuple[str, ...]] = {
    "color": COLOR_NAMES,
    "shape": SHAPES,
    "count": tuple(str(n) for n in range(9)),
}


def _busy_scene(rng: random.Random, level: Level, size: int) -> Scene:
    """Random objects, and a quarter of the time a word as well."""
    scene = new_scene(rng, level, size)
    fill(rng, scene, rng.randint(*level.objects))
    if rng.random() < 0.25:
        add_word(rng, scene, pick_word(rng, scene), max_fraction=0.6)
    if not scene.objects:
        raise questions.NoRoom
    return scene


def _where(scene: Scene, x: float, y: float) -> str:
    place = position_word(x, y, scene.size)
    return "in the center" if place == "center" else f"at the {place}"


def short_caption(scene: Scene) -> str:
    things = [f"a {o.expr}" for o in scene.objects]
    if len(things) > 3:
        text = f"{NUMBER_WORDS[len(things)].capitalize()} shapes, including {things[0]} and {things[1]}"
    else:
        text = things[0][0].upper() + things[0][1:]
        if len(things) > 1:
            text = ", ".join([text, *things[1:-1]]) + f" and {things[-1]}"
    words = "".join(f' and the word "{w.text}"' for w in scene.words)
    return f"{text}{words}."


def detailed_caption(scene: Scene) -> str:
    count = len(scene.objects)
    ground = "white" if scene.background == (255, 255, 255) else "pale"
    sentences = [f"A picture of {NUMBER_WORDS[count]} shape{'s' if count > 1 else ''} on a {ground} background."]
    for o in scene.objects:
        sentences.append(f"A {size_word(o.side / scene.size)} {o.expr} is {_where(scene, o.x + o.side / 2, o.y + o.side / 2)}.")
    for w in scene.words:
        sentences.append(f'The word "{w.text}" is written in {w.color} {_where(scene, w.x + w.w / 2, w.y + w.h / 2)}.')
    if scene.clutter:
        sentences.append("Thin gray lines cross the background.")
    return " ".join(sentences)


def caption(rng: random.Random, level: Level, size: int) -> QA:
    scene = _busy_scene(rng, level, size)
    detailed = rng.random() < 0.5
    templates = (("Describe the image in detail.", "Give a detailed description of everything in the image.")
                 if detailed else
                 ("Describe the image briefly.", "Write a short caption for the image.",
                  "What is in this picture? Answer in one sentence."))
    template = rng.randrange(len(templates))
    text = detailed_caption(scene) if detailed else short_caption(scene)
    return QA(scene, templates[template], text, template, {"caption_style": "detailed" if detailed else "short"})


def _boxed_target(rng: random.Random, level: Level, size: int) -> tuple[Scene, Obj, list[float]]:
    """A busy scene, one of its objects and that object's normalised box."""
    scene = _busy_scene(rng, level, size)
    target = rng.choice(scene.objects)
    return scene, target, scene.norm_box(target.x, target.y, target.side, target.side)


def rec(rng: random.Random, level: Level, size: int) -> QA:
    scene, target, box = _boxed_target(rng, level, size)
    templates = ("Please provide the bounding box coordinate of the region this sentence describes: the {expr}.",
                 "Where is the {expr}? Answer with a bounding box.")
    template = rng.randrange(len(templates))
    return QA(scene, templates[template].format(expr=target.expr), format_box(box, decimals=BOX_DECIMALS), template, {"box": box})


def reg(rng: random.Random, level: Level, size: int) -> QA:
    scene, target, box = _boxed_target(rng, level, size)
    templates = ("Please provide a short description for this region: {box}.",
                 "What object is inside the box {box}?")
    template = rng.randrange(len(templates))
    return QA(scene, templates[template].format(box=format_box(box, decimals=BOX_DECIMALS)), target.expr, template, {"box": box})


def mc(rng: random.Random, level: Level, size: int) -> QA:
    """A color, shape or count question with four options, one right (A-OKVQA / LLaVA-1.5 prompt)."""
    base_qtype = rng.choice(tuple(MC_DOMAINS))
    base = getattr(questions, base_qtype)(rng, level, size)
    wrong = rng.sample([v for v in MC_DOMAINS[base_qtype] if v != base.answer], 3)
    choices = [base.answer, *wrong]
    rng.shuffle(choices)
    letter = LETTERS[choices.index(base.answer)]
    options = "\n".join(f"{LETTERS[i]}. {choice}" for i, choice in enumerate(choices))
    question = f"{base.question}\n{options}\n{OPTION_LETTER}"
    return QA(base.scene, question, letter, base.template,
              {"choices": choices, "mc_qtype": base_qtype, "mc_answer": base.answer})

