import json

import pytest
from ingest_fixtures import SCIENCEQA_NORTH, write_images, write_scienceqa

from synthloop.formats import llava
from synthloop.formats.common import FormatError
from synthloop.formats.ingest import ingest

# What haotian-liu/LLaVA scripts/convert_sqa_to_llava.py convert_to_llava (--prompt-format QCM-LEA, @ c121f04)
# writes for the fixture's train split, run on it unmodified; only the id and image path take DataOptim's
# `scienceqa_` prefix and `scienceqa/` folder.
LLAVA_TRAIN = [
    {"id": "scienceqa_1", "image": "scienceqa/1/image.png", "conversations": [
        {"from": "human", "value": "Which of these states is farthest north?\nContext: N/A\nOptions: (A) West Virginia "
                                   "(B) Louisiana (C) Arizona (D) Oklahoma\n<image>"},
        {"from": "gpt", "value": "Maps have four cardinal directions, or main directions. Those directions are north, "
                                 "south, east, and west.\nA compass rose is a set of arrows that point to the cardinal "
                                 "directions. A compass rose usually shows only the first letter of each cardinal "
                                 "direction.\nThe north arrow points to the North Pole. On most maps, north is at the "
                                 "top of the map. To find the answer, look at the compass rose. Look at which way the "
                                 "north arrow is pointing. West Virginia is farthest north. The answer is A."}]},
    {"id": "scienceqa_2", "image": "scienceqa/2/image.png", "conversations": [
        {"from": "human", "value": "Which animal's feet are also adapted for swimming?\nContext: Figure: sturgeon.\n"
                                   "Options: (A) sea otter (B) tokay gecko (C) sloth (D) emu (E) penguin\n<image>"},
        {"from": "gpt", "value": "Look at the picture.\nThe penguin has flippers. The answer is E."}]},
]


@pytest.fixture()
def world(tmp_path):
    return write_images(tmp_path / "images"), write_scienceqa(tmp_path / "scienceqa")


def read(world, **kwargs):
    images, files = world
    return list(ingest("scienceqa", files, images, **kwargs))


def rewrite(files, problems=None, splits=None):
    if problems is not None:
        files[0].write_text(json.dumps(problems))
    if splits is not None:
        files[1].write_text(json.dumps(splits))


def test_train_records_equal_llavas_conversion_and_leave_text_only_problems_out(world):
    samples = read(world)
    assert [llava.sample_to_record(s, [r["path"] for r in s["images"]]) for s in samples] == LLAVA_TRAIN


def test_gold_answer_choices_and_qtype_are_kept(world):
    north, penguin = read(world)
    assert (north["task"], north["qtype"], north["source"]) == ("mcvqa", "Geography", "scienceqa")
    assert north["meta"] == {"pid": "1", "choices": SCIENCEQA_NORTH["choices"], "answer": "A", "answer_index": 0,
                             "hint": "", "metric": "scienceqa", "subject": "social science", "topic": "geography",
                             "skill": "Read a map: cardinal directions", "grade": "grade2"}
    assert (penguin["meta"]["answer"], penguin["meta"]["choices"][4], penguin["qtype"]) == ("E", "penguin",
                                                                                              "Adaptations")


def test_split_selects_problems_in_the_split_order(world):
    assert [s["id"] for s in read(world, split="val")] == ["scienceqa_6"]
    assert [s["id"] for s in read(world, split="trainval")] == ["scienceqa_1", "scienceqa_2", "scienceqa_6"]
    images, files = world
    rewrite(files, splits={"train": ["2", "9", "1", "2"]})  # LLaVA keys by pid: a repeated pid comes once
    assert [s["id"] for s in read(world)] == ["scienceqa_2", "scienceqa_1"]
    with pytest.raises(FormatError, match=r"pid_splits.json: no split 'dev' \(it has: train\)$"):
        read(world, split="dev")


@pytest.mark.parametrize("change, reason", [
    ({"choices": ["a", "b", "c", "d", "e", "f"]}, "field 'choices' must be a list of 1 to 5 texts"),
    ({"answer": 4}, "'answer' 4 does not name one of the 4 choices"),
    ({"answer": True}, "'answer' True does not name one of the 4 choices"),
    ({"question": ""}, "missing field 'question'"),
    ({"lecture": ["x"]}, "field 'lecture' must be text, got list"),
    ({"image": "../../secret.png"}, "image path 'scienceqa/1/../../secret.png' leaves the image folder"),
])
def test_a_bad_problem_is_one_line_naming_file_and_pid(world, change, reason):
    images, files = world
    rewrite(files, problems={"1": {**SCIENCEQA_NORTH, **change}})
    with pytest.raises(FormatError) as err:
        read(world)
    assert str(err.value) == f"{files[0]}, sample #1, id '1': {reason}"


def test_missing_problems_and_images_are_quarantined_with_their_reason(world):
    images, files = world
    rewrite(files, problems={"7": SCIENCEQA_NORTH, "1": SCIENCEQA_NORTH}, splits={"train": ["3", "1", "7"]})
    rejected = []
    samples = read(world, on_bad=rejected.append)
    assert [s["id"] for s in samples] == ["scienceqa_1"]
    assert [(r.file, r.index, r.sample_id, r.reason) for r in rejected] == [
        (str(files[1]), 1, "3", "problem 3 of split 'train' is not in problems.json"),
        (str(files[0]), 1, "7", f"image scienceqa/7/image.png is not in {images}")]
