"""Multi-turn world samples: follow-up questions about the same scene, answers checked against the annotation."""

from __future__ import annotations

import re

import pytest

from synthloop.lab.world import family_messages, generate
from synthloop.lab.world.questions import EXIST_TEMPLATES
from synthloop.lab.world.scene import COLOR_NAMES, SHAPES


@pytest.fixture(scope="module")
def pairs() -> list[tuple[dict, dict]]:
    return list(zip(generate(120, seed=5), generate(120, seed=5, turns=4), strict=True))


def words(text: str, vocabulary: tuple[str, ...]) -> list[str]:
    return [w for w in vocabulary if re.search(rf"\b{w}(e?s)?\b", text)]


def expected(question: str, objects: list[dict]) -> str:
    """The answer recomputed from the annotation, by reading the question's words."""
    shape, color = words(question, SHAPES), words(question, COLOR_NAMES)
    matching = [o for o in objects if (not shape or o["shape"] == shape[0]) and (not color or o["color"] == color[0])]
    if question.startswith(("How many", "Count")):
        return str(len(matching))
    if question.startswith(("What color", "What is the color", "Which color")):
        return matching[0]["color"]
    if question.startswith(("What shape", "What is the shape", "Which shape")):
        return matching[0]["shape"]
    return "yes" if matching else "no"


def test_the_family_question_is_the_single_turn_sample_at_a_random_turn(pairs):
    for single, multi in pairs:
        assert family_messages(multi) == single["messages"] == family_messages(single)
        assert multi["images"] == single["images"] and multi["qtype"] == single["qtype"]
        assert multi["messages"][0]["content"].startswith("<image>\n")
        assert sum("<image>" in m["content"] for m in multi["messages"]) == 1
    turns = [multi["meta"]["turn"] for _, multi in pairs]
    assert set(turns) == {0, 1, 2, 3}


def test_follow_ups_are_extra_turns_answered_from_the_scene(pairs):
    checked = 0
    for _, sample in pairs:
        follow = sample["meta"]["follow_ups"]
        assert 1 <= len(follow) <= 3
        assert [m["role"] for m in sample["messages"]] == ["user", "assistant"] * (1 + len(follow))
        questions = [m["content"].removeprefix("<image>\n") for m in sample["messages"][0::2]]
        assert len(set(questions)) == len(questions)
        others = [(q, a["content"]) for k, (q, a) in enumerate(zip(questions, sample["messages"][1::2]))
                  if k != sample["meta"]["turn"]]
        for turn, (question, answer) in zip(follow, others, strict=True):
            assert (question, answer) == (turn["question"], turn["answer"])
            assert turn["answer"] == expected(turn["question"], sample["meta"]["objects"]), turn
            checked += 1
    assert checked >= 300


def test_every_family_and_both_exist_answers_occur(pairs):
    follow = [t for _, s in pairs for t in s["meta"]["follow_ups"]]
    assert {t["qtype"] for t in follow} == {"exist", "count", "color", "shape"}
    exist = [t for t in follow if t["qtype"] == "exist"]
    for mode in EXIST_TEMPLATES:  # balanced for each phrasing, not only overall
        answers = [t["answer"] for t in exist if exist_mode(t["question"]) == mode]
        assert len(answers) > 20 and 0.35 < answers.count("yes") / len(answers) < 0.65, mode


def exist_mode(question: str) -> str:
    for mode, phrasings in EXIST_TEMPLATES.items():
        for phrasing in phrasings:
            if re.fullmatch(re.escape(phrasing).replace(r"\{shape\}", r"\w+").replace(r"\{color\}", r"\w+"), question):
                return mode
    raise ValueError(question)


def test_turns_must_be_positive():
    with pytest.raises(ValueError, match="turns must be at least 1"):
        generate(1, turns=0)


def test_cli_turns_writes_the_same_conversations(tmp_path):
    from typer.testing import CliRunner

    from synthloop.cli import app
    from synthloop.formats.parquet import read_samples

    result = CliRunner().invoke(app, ["world", "generate", str(tmp_path / "g"), "--n", "12", "--seed", "5",
                                      "--turns", "3"])
    assert result.exit_code == 0, result.output
    written = list(read_samples(tmp_path / "g"))
    assert [s["messages"] for s in written] == [s["messages"] for s in generate(12, seed=5, turns=3)]
    assert all(len(s["messages"]) > 2 for s in written)


def test_cli_follow_ups_choose_the_families(tmp_path):
    from typer.testing import CliRunner

    from synthloop.cli import app
    from synthloop.formats.parquet import read_samples

    args = ["world", "generate", str(tmp_path / "g"), "--n", "30", "--seed", "5", "--turns", "4"]
    result = CliRunner().invoke(app, [*args, "--follow-ups", "position, size"])
    assert result.exit_code == 0, result.output
    written = list(read_samples(tmp_path / "g"))
    assert {t["qtype"] for s in written for t in s["meta"]["follow_ups"]} == {"position", "size"}
    assert [s["messages"] for s in written] == [s["messages"] for s in
                                                 generate(30, seed=5, turns=4, follow_up_qtypes=("position", "size"))]
    result = CliRunner().invoke(app, [*args[:2], str(tmp_path / "bad"), *args[3:], "--follow-ups", "ocr"])
    assert result.exit_code == 2 and "follow-up qtypes must be some of" in result.output
