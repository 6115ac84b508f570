import json

import pytest
from ingest_fixtures import CAPTIONING, DATAOPTIM_RECORDS, SUFFIX, annotation_files, write_images

from synthloop.formats import llava
from synthloop.formats.common import FormatError
from synthloop.formats.ingest import DATASETS, ingest
from synthloop.formats.ingest.common import draw, template_file


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("ingest")
    return write_images(root / "images"), annotation_files(root / "annotations")


def read(world, name, seed=0, **kwargs):
    images, files = world
    return list(ingest(name, files[name], images, seed=seed, **kwargs))


def as_record(sample):
    return llava.sample_to_record(sample, [ref["path"] for ref in sample["images"]])


def test_every_registered_dataset_has_a_fixture(world):
    assert set(DATASETS) - set(world[1]) == {"llava", "svit", "sharegpt4v", "llava_v1.5"}  # tested below


@pytest.mark.parametrize("name", ["vqav2", "okvqa", "gqa", "aokvqa"])
def test_records_equal_dataoptim_published_ones(world, name):
    """Same id, image path, prompt and reply as DataOptim's example-byod.json record."""
    (sample,) = read(world, name)
    assert as_record(sample) == DATAOPTIM_RECORDS[sample["id"]]


@pytest.mark.parametrize("name, sample_id", [("coco", "coco_0"), ("flickr30k", "flickr30k_0"),
                                             ("textcaps", "textcaps_0")])
def test_captions_equal_dataoptim_records_but_for_the_drawn_prompt(world, name, sample_id):
    sample = read(world, name)[0]
    record, published = as_record(sample), DATAOPTIM_RECORDS[sample_id]
    assert sample["id"] == sample_id and sample["task"] == "caption"
    assert record["image"] == published["image"]
    assert record["conversations"][1] == published["conversations"][1]
    prompt = record["conversations"][0]["value"]
    assert prompt.startswith("<image>\n") and prompt.removeprefix("<image>\n") in CAPTIONING
    assert prompt == "<image>\n" + draw(CAPTIONING, 0, sample_id)


def test_caption_prompts_are_drawn_per_caption_and_reproducible_by_seed(world):
    images, files = world
    first = [s["messages"][0]["content"] for s in read(world, "coco", seed=3)]
    assert first == [s["messages"][0]["content"] for s in read(world, "coco", seed=3)]
    draws = {draw(CAPTIONING, seed, "coco_0") for seed in range(40)}
    assert draws == set(CAPTIONING)  # every prompt is reachable, chosen by the seed
    seeds_with_prompt = [seed for seed in range(40) if draw(CAPTIONING, seed, "coco_0") == CAPTIONING[4]]
    (sample, _) = read(world, "coco", seed=seeds_with_prompt[0])
    assert as_record(sample) == DATAOPTIM_RECORDS["coco_0"]


def test_vqa_gold_answers_and_types_are_kept(world):
    (vqav2,) = read(world, "vqav2")
    assert vqav2["meta"]["answers"] == ["yes"] * 10 and vqav2["qtype"] == "yes/no" and vqav2["task"] == "vqa"
    (okvqa,) = read(world, "okvqa")
    assert okvqa["messages"][1]["content"] == "breakfast"  # most frequent of ten, no multiple_choice_answer
    assert okvqa["meta"]["answers"].count("brunch") == 2 and okvqa["qtype"] == "three"
    (gqa,) = read(world, "gqa")
    assert gqa["meta"]["answers"] == ["player"] and gqa["qtype"] == "query"
    (textvqa,) = read(world, "textvqa")
    assert textvqa["id"] == "textvqa_0" and textvqa["messages"][1]["content"] == "chateau garraud"
    assert len(textvqa["meta"]["answers"]) == 10 and textvqa["qtype"] == "ocr"


def test_aokvqa_keeps_choices_letter_and_direct_answers(world):
    (sample,) = read(world, "aokvqa")
    assert sample["task"] == "mcvqa"
    assert sample["meta"]["choices"] == ["baserunner", "pitcher", "goalie", "quarterback"]
    assert sample["meta"]["answer"] == "B" and sample["meta"]["direct_answers"][0] == "pitcher"


def test_ocrvqa_numbers_train_questions_and_takes_the_extension_from_the_url(world):
    samples = read(world, "ocrvqa")
    assert [s["id"] for s in samples] == ["ocrvqa_0", "ocrvqa_1"]  # the split-3 book is left out
    assert as_record(samples[1]) == {"id": "ocrvqa_1", "image": "ocrvqa/1400013011.jpg", "conversations": [
        {"from": "human", "value": f"<image>\nIs this book related to Law?{SUFFIX}"}, {"from": "gpt", "value": "No"}]}
    with pytest.raises(FormatError, match=r"dataset.json, sample #2, id '0000000002': image ocrvqa/0000000002.jpg is not"):
        read(world, "ocrvqa", split="test")  # split 3: its image is not in the fixture's folder


def test_docvqa_dvqa_vgqa(world):
    (doc,) = read(world, "docvqa")
    assert (doc["id"], doc["images"][0]["path"], doc["messages"][1]["content"]) == (
        "docvqa_337", "docvqa/ffbf0023_4.png", "1/8/93")
    (chart,) = read(world, "dvqa")
    assert (chart["id"], chart["images"][0]["path"], chart["qtype"]) == (
        "dvqa_3", "dvqa/bar_train_00000000.png", "structure")
    vg = read(world, "vgqa")
    assert [(s["id"], s["qtype"], s["messages"][1]["content"]) for s in vg] == [
        ("vgqa_986768", "what", "Green."), ("vgqa_986769", "where", "On the sidewalk.")]
    assert vg[0]["messages"][0]["content"] == f"<image>\nWhat color is the clock?{SUFFIX}"


def test_karpathy_split_selects_sentences(world):
    assert read(world, "coco_karpathy") == []  # the fixture has no 'train' image
    (sample,) = read(world, "coco_karpathy", split="train,restval")
    assert sample["id"] == "coco_karpathy_0" and sample["images"][0]["path"] == "coco/COCO_val2014_000000391895.jpg"
    assert sample["messages"][1]["content"] == "A man with a red helmet on a small moped on a dirt road."


@pytest.mark.parametrize("task", ["rec", "reg"])
def test_grounding_boxes_templates_and_sizes(world, task):
    samples = read(world, f"ref3{task}")
    templates = template_file(f"shikra_{task}")["templates"]
    assert len(templates) == (54 if task == "rec" else 125)
    first, edge = samples
    assert first["meta"]["boxes"] == [[0.0, 0.106, 0.827, 1.0]]
    assert edge["meta"]["boxes"] == [[0.5, 0.25, 1.0, 1.0]]  # 64x48 header size; x2 = 70 clamped to the edge
    for sample in samples:
        box = json.dumps(sample["meta"]["boxes"][0])
        template = draw(templates, 0, sample["id"])
        if task == "rec":
            assert sample["messages"][0]["content"] == template.replace("<expr>", sample["meta"]["expression"])
            assert sample["messages"][1]["content"] == f"{box}."
        else:
            assert sample["messages"][0]["content"] == template.replace("<objs>", box)
            assert sample["messages"][1]["content"] == sample["meta"]["expression"]
    seed = next(s for s in range(500) if draw(templates, s, f"ref3{task}_0") == templates[0 if task == "reg" else 43])
    assert as_record(read(world, f"ref3{task}", seed=seed)[0]) == DATAOPTIM_RECORDS[f"ref3{task}_0"]


def test_llava_sets_are_kept_and_renumbered(tmp_path, world):
    images = world[0]
    turns = [{"from": "human", "value": "What is on the table?\n<image>"}, {"from": "gpt", "value": "Tulips."},
             {"from": "human", "value": "Colour?"}, {"from": "gpt", "value": "Pink."}]
    (tmp_path / "llava_instruct_150k.json").write_text(json.dumps(
        [{"id": "000000163917", "image": "000000163917.jpg", "conversations": turns}]))
    (sample,) = ingest("llava", [tmp_path / "llava_instruct_150k.json"], images)
    assert as_record(sample) == {"id": "llava_0", "image": "coco/COCO_train2014_000000163917.jpg",
                                 "conversations": turns}
    assert (sample["task"], sample["qtype"]) == ("dialogue", "multi_turn")
    assert sample["meta"]["original_id"] == "000000163917"
    (tmp_path / "conversation.json").write_text(json.dumps([{"id": "1", "image": "visual_genome/1.jpg",
                                                              "conversations": turns[:2]}]))
    (tmp_path / "detail_description.json").write_text(json.dumps([{"id": "1", "image": "visual_genome/1.jpg",
                                                                    "conversations": turns[:2]}] * 2))
    (tmp_path / "llava_v1_5_mix665k.json").write_text(json.dumps(
        [{"id": "x", "conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello."}]},
         {"id": "y", "image": "visual_genome/1.jpg", "conversations": turns},
         {"id": "z", "conversations": turns}]))  # an <image> without an image
    rejected = []
    mix = list(ingest("llava_v1.5", [tmp_path / "llava_v1_5_mix665k.json"], images, on_bad=rejected.append))
    assert [(r.index, r.reason) for r in rejected] == [(3, "1 <image> placeholder(s) but 0 image(s)")]
    assert [(s["id"], s["images"], s["qtype"]) for s in mix] == [
        ("llava_v1.5_0", [], "single_turn"),
        ("llava_v1.5_1", [{"bytes": None, "path": "visual_genome/1.jpg"}], "multi_turn")]
    svit = list(ingest("svit", [tmp_path / "conversation.json", tmp_path / "detail_description.json"], images))
    assert [s["id"] for s in svit] == ["svit_conversation_0", "svit_detail_0", "svit_detail_1"]


def test_image_paths_cannot_leave_the_image_folder(tmp_path, world):
    (tmp_path / "x.json").write_text(json.dumps([{"id": "1", "image": "../secret.jpg", "conversations": [
        {"from": "human", "value": "<image>\nHi"}, {"from": "gpt", "value": "Hello."}]}]))
    with pytest.raises(FormatError, match=r"x.json, sample #1: image path '../secret.jpg' leaves the image folder"):
        list(ingest("sharegpt4v", [tmp_path / "x.json"], world[0]))


def test_a_literal_image_token_in_a_question_is_rejected(tmp_path, world):
    path = tmp_path / "train_qa.json"
    path.write_text(json.dumps([{"image": "bar_train_00000000.png", "question": "Is <image> a bar?", "answer": "no",
                                 "question_type": "structure", "bbox_answer": [], "question_id": 7}]))
    with pytest.raises(FormatError, match=r"train_qa.json, sample #1, id '7': the question or answer holds a literal"):
        list(ingest("dvqa", [path], world[0]))


@pytest.mark.parametrize("name, where", [("coco", "captions_train2014.json, sample #1, id '48'"),
                                         ("aokvqa", "aokvqa_v1p0_train.json, sample #1, id 'dQbC9HGBPG3RCvpPWE4cWG'"),
                                         ("vqav2", "questions.json, sample #1, id '524286005'")])
def test_an_image_id_that_is_not_a_number_is_one_line(tmp_path, world, name, where):
    images, files = world
    paths = []
    for path in files[name]:
        text = path.read_text().replace('"image_id": 318556', '"image_id": "abc"').replace(
            '"image_id": 133042', '"image_id": "abc"').replace('"image_id": 524286', '"image_id": "abc"')
        paths.append(tmp_path / path.name)
        paths[-1].write_text(text)
    with pytest.raises(FormatError) as err:
        list(ingest(name, paths, images))
    assert str(err.value).endswith(f"{where}: field 'image_id' must be an integer, got 'abc'")
