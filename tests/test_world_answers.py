"""Every question family's answer, recomputed by a route independent of the generator:
from the pixels (colour components, shape classifier) or from the scene annotation in meta."""

from __future__ import annotations

import re

import pytest
from world_pixels import (
    PALETTE,
    SHAPE_WORDS,
    all_components,
    classify,
    components,
    expressions,
    find_object,
    pixels,
)

from synthloop.lab.world import QTYPES, generate

N_PER_TYPE = 40


@pytest.fixture(scope="module")
def by_qtype() -> dict[str, list[dict]]:
    samples = []
    for level in (0, 1):
        samples += generate(N_PER_TYPE * len(QTYPES), seed=11 + level, difficulty=dict.fromkeys(QTYPES, level))
    return {q: [s for s in samples if s["qtype"] == q] for q in QTYPES}


def question(sample: dict) -> str:
    return sample["messages"][0]["content"].split("\n")[1]


def answer(sample: dict) -> str:
    return sample["messages"][1]["content"]


def count_answer(sample: dict, text: str) -> str:
    arr = pixels(sample)
    color = next((c for c in PALETTE if f" {c} " in text), None)
    shape = next((s for s in SHAPE_WORDS if f" {s}" in text), None)
    if color:
        return str(len(components(arr, color)))
    if shape:
        return str(sum(o["shape"] == shape for o in sample["meta"]["objects"]))
    return str(len(all_components(arr)))


def color_answer(sample: dict, text: str) -> str:
    shape = next(s for s in SHAPE_WORDS if s in text)
    [obj] = [o for o in sample["meta"]["objects"] if o["shape"] == shape]
    x1, y1, x2, y2 = (round(v * sample["meta"]["image_size"]) for v in obj["box"])
    centre = tuple(pixels(sample)[(y1 + y2) // 2, (x1 + x2) // 2])
    return next(name for name, rgb in PALETTE.items() if rgb == centre)


def shape_answer(sample: dict, text: str) -> str:
    color = next(c for c in PALETTE if f" {c} " in f" {text.rstrip('?')} ")
    arr = pixels(sample)
    [component] = components(arr, color)
    side = component[0].stop - component[0].start
    if side < 12:  # too few pixels to tell shapes apart reliably: use the annotation
        return next(o["shape"] for o in sample["meta"]["objects"] if o["color"] == color)
    return classify(arr, color, component)


def test_count_from_pixels(by_qtype):
    samples = [s for s in by_qtype["count"] if not s["meta"]["words"]]
    assert len(samples) >= 60
    for s in samples:
        assert answer(s) == count_answer(s, question(s)), s["id"]
    assert len({answer(s) for s in samples}) >= 5


def test_color_from_centre_pixel(by_qtype):
    for s in by_qtype["color"]:
        assert answer(s) == color_answer(s, question(s)), s["id"]


def test_shape_from_pixels(by_qtype):
    for s in by_qtype["shape"]:
        assert answer(s) == shape_answer(s, question(s)), s["id"]


def test_exist_from_pixels_and_annotation(by_qtype):
    answers = set()
    for s in by_qtype["exist"]:
        text = question(s).rstrip("?") + " "
        color = next((c for c in PALETTE if f" {c} " in text), None)
        shape = next((sh for sh in SHAPE_WORDS if f" {sh} " in text), None)
        present = any((color is None or o["color"] == color) and (shape is None or o["shape"] == shape)
                      for o in s["meta"]["objects"])
        if shape is None:
            assert present == bool(components(pixels(s), color)), s["id"]
        assert answer(s) == ("yes" if present else "no"), s["id"]
        answers.add(answer(s))
    assert answers == {"yes", "no"}


def position_answer(sample: dict, text: str) -> str | None:
    [(color, shape)] = expressions(text)
    x1, y1, x2, y2 = find_object(sample, color, shape)["box"]
    if "left" in text:
        return "left" if x2 <= 0.5 else "right" if x1 >= 0.5 else None
    return "top" if y2 <= 0.5 else "bottom" if y1 >= 0.5 else None


def relation_holds(sample: dict, text: str, given: str) -> bool:
    """Whether `given` answers the relation question `text` correctly; the two objects must be separated."""
    words = {"to the left of": "left", "to the right of": "right", "above": "above", "below": "below"}
    (ca, sa), (cb, sb) = expressions(text)
    a, b = find_object(sample, ca, sa)["box"], find_object(sample, cb, sb)["box"]
    truth = {"left": a[2] <= b[0], "right": a[0] >= b[2], "above": a[3] <= b[1], "below": a[1] >= b[3]}
    assert sum(truth.values()) >= 1, sample["id"]
    if given in ("yes", "no"):
        asked = next(w for phrase, w in words.items() if f" {phrase} " in text)
        return given == ("yes" if truth[asked] else "no")
    return truth[given]


def size_answer(sample: dict, text: str) -> str:
    (ca, sa), (cb, sb) = expressions(text)
    a, b = find_object(sample, ca, sa)["box"], find_object(sample, cb, sb)["box"]
    a_bigger = (a[2] - a[0]) > (b[2] - b[0]) * 1.2
    b_bigger = (b[2] - b[0]) > (a[2] - a[0]) * 1.2
    assert a_bigger != b_bigger, sample["id"]
    if text.startswith("Which is bigger"):
        return f"{ca} {sa}" if a_bigger else f"{cb} {sb}"
    if text.startswith("Which is smaller"):
        return f"{cb} {sb}" if a_bigger else f"{ca} {sa}"
    return "yes" if a_bigger == (" bigger " in text) else "no"


def test_position_from_annotation(by_qtype):
    for s in by_qtype["position"]:
        assert answer(s) == position_answer(s, question(s)), s["id"]


def test_relation_from_annotation(by_qtype):
    for s in by_qtype["relation"]:
        assert relation_holds(s, question(s), answer(s)), s["id"]


def test_size_from_annotation(by_qtype):
    for s in by_qtype["size"]:
        assert answer(s) == size_answer(s, question(s)), s["id"]


@pytest.fixture(scope="module")
def spatial_follow_ups() -> list[tuple[dict, dict]]:
    samples = generate(150, seed=4, turns=4, follow_up_qtypes=("position", "relation", "size"))
    return [(s, t) for s in samples for t in s["meta"]["follow_ups"]]


@pytest.mark.parametrize("qtype", ["position", "relation", "size"])
def test_spatial_follow_ups_are_right_and_balanced(spatial_follow_ups, qtype):
    follow = [(s, t) for s, t in spatial_follow_ups if t["qtype"] == qtype]
    assert len(follow) >= 40
    for s, t in follow:
        if qtype == "relation":
            assert relation_holds(s, t["question"], t["answer"]), (s["id"], t)
        else:
            assert t["answer"] == {"position": position_answer, "size": size_answer}[qtype](s, t["question"]), t
    answers = [t["answer"] for _, t in follow]
    assert max(map(answers.count, set(answers))) < 0.6 * len(answers)
    expected = {"position": {"left", "right", "top", "bottom"}, "relation": {"yes", "no", "left", "right", "above",
                                                                               "below"}, "size": {"yes", "no"}}
    assert expected[qtype] <= set(answers)


def test_follow_up_qtypes_must_have_an_asker():
    with pytest.raises(ValueError, match=r"follow-up qtypes must be some of exist, count.*got \['ocr'\]"):
        generate(1, turns=2, follow_up_qtypes=("ocr",))


def test_ocr_answer_is_the_rendered_word(by_qtype):
    for s in by_qtype["ocr"]:
        [word] = s["meta"]["words"]
        assert answer(s) == word["text"] and s["meta"]["answers"] == [word["text"]] * 10


def test_mc_letter_points_at_the_independent_answer(by_qtype):
    routes = {"color": color_answer, "shape": shape_answer, "count": count_answer}
    for s in by_qtype["mc"]:
        lines = s["messages"][0]["content"].split("\n")
        options = dict(line.split(". ", 1) for line in lines[2:6])
        assert list(options) == ["A", "B", "C", "D"] and len(set(options.values())) == 4
        base = s["meta"]["mc_qtype"]
        if base == "count" and s["meta"]["words"]:
            continue
        truth = routes[base](s, lines[1])
        assert [letter for letter, value in options.items() if value == truth] == [answer(s)], s["id"]


def test_captions_mention_every_object(by_qtype):
    for s in by_qtype["caption"]:
        text, objects = answer(s), s["meta"]["objects"]
        if s["meta"]["caption_style"] == "detailed" or len(objects) <= 3:
            for o in objects:
                assert f"{o['color']} {o['shape']}" in text, s["id"]
        for w in s["meta"]["words"]:
            assert f'"{w["text"]}"' in text


def parse_box(text: str) -> list[float]:
    return [float(v) for v in re.search(r"\[([^\]]+)\]", text).group(1).split(",")]


def test_rec_box_matches_the_pixels_of_the_named_object(by_qtype):
    for s in by_qtype["rec"]:
        [(color, shape)] = expressions(question(s))
        box, size = parse_box(answer(s)), s["meta"]["image_size"]
        arr = pixels(s)
        found = [c for c in components(arr, color)
                 if max(abs(c[1].start / size - box[0]), abs(c[0].start / size - box[1]),
                        abs(c[1].stop / size - box[2]), abs(c[0].stop / size - box[3])) <= 1 / size + 0.005]
        assert found, s["id"]
        if found[0][0].stop - found[0][0].start >= 12:
            assert classify(arr, color, found[0]) == shape, s["id"]


def test_reg_expression_matches_the_pixels_in_the_box(by_qtype):
    for s in by_qtype["reg"]:
        x1, y1, x2, y2 = (round(v * s["meta"]["image_size"]) for v in parse_box(question(s)))
        color, shape = answer(s).split()
        centre = tuple(pixels(s)[(y1 + y2) // 2, (x1 + x2) // 2])
        assert centre == PALETTE[color], s["id"]
        assert find_object(s, color, shape)["box"] == s["meta"]["box"]


def test_scene_components_match_annotated_boxes(by_qtype):
    """Every object in the annotation is one component of its colour at exactly its box (to 1 px)."""
    for s in by_qtype["caption"] + by_qtype["rec"]:
        if s["meta"]["words"]:
            continue
        arr, size = pixels(s), s["meta"]["image_size"]
        comps = all_components(arr)
        assert len(comps) == len(s["meta"]["objects"]), s["id"]
        for o in s["meta"]["objects"]:
            assert any(color == o["color"] and max(abs(c[1].start - o["box"][0] * size),
                                                   abs(c[0].stop - o["box"][3] * size)) <= 1
                       for color, c in comps), s["id"]
