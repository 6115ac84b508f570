"""The scene judge's program against the world itself: every question the world asks parses into its own
family, and on the ground-truth scene the world's answer is certain and every wrong answer its noise could
pick is impossible."""

from __future__ import annotations

import pytest

from synthloop.lab import world
from synthloop.lab.scene_judge.program import GRAMMAR, Program, count_distribution, p_true, parse
from synthloop.lab.scene_judge.seen import SeenObject, SeenScene, from_annotation
from synthloop.lab.world.scene import COLOR_NAMES, SHAPES

QTYPES = ("exist", "count", "color", "shape", "position", "relation", "size", "ocr")
FOLLOW_UPS = ("exist", "count", "color", "shape", "position", "relation", "size")  # lab/demo.py's WORLD_FOLLOW_UPS


class WordStub:
    """The word reader on the ground truth: P = 1 for the word the scene holds, else 0."""

    def __init__(self, words: list[dict]):
        self.texts = {w["text"] for w in words}

    def p_word(self, images, words):
        return [float(w in self.texts) for w in words]


def turns(sample: dict) -> list[tuple[str, str, str]]:
    """(qtype, question, answer) of each turn, in order."""
    qtypes = [f["qtype"] for f in sample["meta"]["follow_ups"]]
    qtypes.insert(sample["meta"]["turn"], sample["qtype"])
    messages = sample["messages"]
    return [(q, messages[2 * t]["content"].removeprefix("<image>\n"), messages[2 * t + 1]["content"])
            for t, q in enumerate(qtypes)]


@pytest.mark.slow
@pytest.mark.parametrize("level", range(4))
def test_ground_truth_makes_every_world_answer_certain_and_every_wrong_one_impossible(level):
    samples = world.generate(2000, mix=dict.fromkeys(QTYPES, 1.0), seed=7_300_000 + level, turns=4,
                             follow_up_qtypes=FOLLOW_UPS, difficulty=dict.fromkeys(world.QTYPES, level))
    # The wrong answers world.noise._wrong_answer may pick: yes <-> no, else another answer of the qtype.
    answers: dict[str, set[str]] = {}
    for s in samples:
        for qtype, _, answer in turns(s):
            answers.setdefault(qtype, set()).add(answer)
    checked = {q: 0 for q in QTYPES}
    for s in samples:
        seen, reader = from_annotation(s["meta"]), WordStub(s["meta"]["words"])
        for qtype, question, right in turns(s):
            assert sum(bool(pattern.fullmatch(question)) for pattern, _, _ in GRAMMAR) == 1, question
            program = parse(question)
            assert program is not None and program.qtype == qtype, question
            assert p_true(program, right, seen, None, reader) == 1.0, (s["id"], question, right)
            wrong = {"yes": ["no"], "no": ["yes"]}.get(right) or sorted(answers[qtype] - {right})
            for answer in wrong:
                assert p_true(program, answer, seen, None, reader) == 0.0, (s["id"], question, answer)
            checked[qtype] += 1
    assert min(checked.values()) >= 100, checked


def one_hot(names, name, p=1.0):
    rest = (1 - p) / (len(names) - 1)
    return {n: p if n == name else rest for n in names}


def obj(color, shape, box, p_color=1.0, p_shape=1.0):
    return SeenObject(one_hot(COLOR_NAMES, color, p_color), one_hot(SHAPES, shape, p_shape), box)


def test_parse_reads_slots_and_rejects_other_questions():
    assert parse("Is it true that the red circle is to the left of the blue star?") == Program(
        "relation", "yes/no", a=("red", "circle"), b=("blue", "star"), relation="left")
    assert parse("  How many  crosses are in the image?") == Program("count", "shape", shape="cross")
    assert parse("Which is smaller, the gray hexagon or the pink diamond?") == Program(
        "size", "which", a=("gray", "hexagon"), b=("pink", "diamond"), word="smaller")
    assert parse("Is the green square in the top or the bottom half of the image?") == Program(
        "position", "vertical", a=("green", "square"))
    for other in ("What color is the cube?", "Is the red circle to the left of the teal star?",
                  "What shape is in the image?", "How many circles are there", ""):
        assert parse(other) is None, other


def test_answers_outside_the_question_form_are_false():
    seen = SeenScene(64, (obj("red", "circle", (2, 2, 12, 12)), obj("blue", "star", (40, 40, 60, 60))))
    cases = {"Is the red circle on the left or the right side of the image?": ("left", ["top", "bottom", "yes", ""]),
             "How many shapes are there?": ("2", ["2 shapes", "02", "two", "-2"]),
             "Is the red circle above or below the blue star?": ("above", ["left", "yes", "top"]),
             "Which is bigger, the red circle or the blue star?": ("blue star", ["red circle", "yes", "green star"]),
             "What color is the star?": ("blue", ["star", "navy"])}
    for question, (right, wrong) in cases.items():
        program = parse(question)
        assert p_true(program, right, seen, None, None) == 1.0
        assert p_true(program, f" {right.upper()}.", seen, None, None) == 1.0  # case, spaces, a full stop
        for answer in wrong:
            assert p_true(program, answer, seen, None, None) == 0.0, (question, answer)


def test_soft_perception_gives_probabilities():
    assert count_distribution([0.5, 0.5]) == [0.25, 0.5, 0.25]
    assert count_distribution([1.0, 0.0, 1.0]) == [0.0, 0.0, 1.0, 0.0]
    unsure = obj("red", "circle", (2, 2, 12, 12), p_color=0.8)  # red 0.8, each other colour 0.2 / 9
    seen = SeenScene(64, (unsure, obj("blue", "star", (40, 40, 60, 60), p_shape=0.9)))
    assert p_true(parse("Is there a red object in the image?"), "yes", seen, None, None) == pytest.approx(0.8)
    assert p_true(parse("Is there a circle in the image?"), "no", seen, None, None) == pytest.approx(0.0)
    assert p_true(parse("How many stars are there?"), "1", seen, None, None) == pytest.approx(0.9)
    assert p_true(parse("How many shapes are there?"), "2", seen, None, None) == 1.0
    # "the circle": weighted by P(circle) = 1 and 0.1 / 6, so mostly the red one
    w_star = (0.1 / 6) / (1 + 0.1 / 6)
    assert p_true(parse("What color is the circle?"), "red", seen, None, None) == pytest.approx(
        (1 - w_star) * 0.8 + w_star * 0.0)
    # the ocr question goes to the reader with the answer as read
    reader = type("R", (), {"p_word": lambda self, images, words: [0.7 if words == ["tiger"] else 0.0]})()
    assert p_true(parse("Read the word shown in the image."), "Tiger", seen, "img", reader) == 0.7
    assert p_true(parse("Read the word shown in the image."), "tiger 2", seen, "img", reader) == 0.0
