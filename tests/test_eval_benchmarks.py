"""Benchmark readers on small fixtures written to each benchmark's official schema."""

import base64
import csv
import json

import pytest

from synthloop.evaluate.benchmarks import (
    BenchmarkError,
    circular_copies,
    read_aokvqa,
    read_gqa,
    read_mmbench,
    read_scienceqa,
    read_textvqa,
    read_vqav2,
)
from synthloop.evaluate.scoring import score_prediction
from synthloop.images import decode, encode_png
from synthloop.sample import from_table, to_table, validate_sample
from PIL import Image

SHORT = "Answer the question using a single word or phrase."
LETTER = "Answer with the option's letter from the given choices directly."


def check_canonical(samples):
    for sample in samples:
        validate_sample(sample)
    assert from_table(to_table(samples)) == samples


def write_json(path, value):
    path.write_text(json.dumps(value))
    return path


def test_vqav2_questions_and_annotations(tmp_path):
    questions = write_json(tmp_path / "q.json", {
        "info": {}, "task_type": "Open-Ended", "data_type": "mscoco", "data_subtype": "val2014", "license": {},
        "questions": [{"image_id": 42, "question": "What color is the cat?", "question_id": 420},
                      {"image_id": 7, "question": "How many dogs?", "question_id": 70}]})
    answers = ["black"] * 7 + ["dark"] * 3
    annotations = write_json(tmp_path / "a.json", {"annotations": [
        {"question_id": 420, "image_id": 42, "question_type": "what color is the", "answer_type": "other",
         "multiple_choice_answer": "black",
         "answers": [{"answer": a, "answer_confidence": "yes", "answer_id": i + 1} for i, a in enumerate(answers)]},
        {"question_id": 70, "image_id": 7, "question_type": "how many", "answer_type": "number",
         "multiple_choice_answer": "2",
         "answers": [{"answer": "2", "answer_confidence": "yes", "answer_id": i + 1} for i in range(10)]},
    ]})
    samples = read_vqav2(questions, annotations)
    check_canonical(samples)
    cat, dogs = samples
    assert cat["id"] == "vqav2_420" and cat["qtype"] == "other" and cat["task"] == "vqa"
    assert cat["images"] == [{"bytes": None, "path": "val2014/COCO_val2014_000000000042.jpg"}]
    assert cat["messages"] == [{"role": "user", "content": f"<image>\nWhat color is the cat?\n{SHORT}"},
                               {"role": "assistant", "content": "black"}]
    assert cat["meta"]["answers"] == answers and cat["meta"]["question_type"] == "what color is the"
    assert score_prediction(cat, "Black.") == 1.0
    assert score_prediction(cat, "dark") == pytest.approx(0.9)
    # Identical gold answers are compared as they are (vqaEval.py since 2021): "two" is not "2".
    assert score_prediction(dogs, "2") == 1.0 and score_prediction(dogs, "two") == 0.0
    # The test split has no annotations: questions only, no gold reply.
    assert read_vqav2(questions)[0]["messages"][-1]["role"] == "user"


def test_vqav2_errors_name_the_file_and_question(tmp_path):
    questions = write_json(tmp_path / "q.json", {"questions": [{"image_id": 1, "question": "?"}]})
    with pytest.raises(BenchmarkError, match=r"q.json: question 0: missing field 'question_id'"):
        read_vqav2(questions)
    questions = write_json(tmp_path / "q.json", {"questions": [{"image_id": 1, "question": "?", "question_id": 5}]})
    annotations = write_json(tmp_path / "a.json", {"annotations": []})
    with pytest.raises(BenchmarkError, match="a.json: no annotation for question_id 5"):
        read_vqav2(questions, annotations)
    (tmp_path / "bad.json").write_text('{"questions": [\n1,]')
    with pytest.raises(BenchmarkError, match=r"bad.json:2: invalid JSON"):
        read_vqav2(tmp_path / "bad.json")


def test_textvqa(tmp_path):
    path = write_json(tmp_path / "TextVQA_0.5.1_val.json", {
        "dataset_type": "val", "dataset_name": "textvqa", "dataset_version": 0.5,
        "data": [{"question": "what brand is the phone?", "image_id": "003a8ae2ef43b901", "image_classes": ["Phone"],
                  "flickr_original_url": "", "flickr_300k_url": "", "image_width": 1024, "image_height": 664,
                  "answers": ["nokia"] * 8 + ["Nokia"] * 2, "question_tokens": ["what", "brand"],
                  "question_id": 34602, "set_name": "val"}]})
    [sample] = read_textvqa(path)
    check_canonical([sample])
    assert sample["id"] == "textvqa_34602" and sample["qtype"] == "ocr"
    assert sample["images"][0]["path"] == "003a8ae2ef43b901.jpg"
    assert sample["messages"][-1]["content"] == "nokia"
    assert score_prediction(sample, "NOKIA") == 1.0  # m4c lowercases the gold answers too


AOKVQA = [
    {"split": "val", "image_id": 299207, "question_id": "22MexNkBPpdZGX6sxbxVBH",
     "question": "What is the man by the bags awaiting?", "choices": ["skateboarder", "train", "delivery", "cab"],
     "correct_choice_idx": 3, "direct_answers": ["ride"] + ["cab"] * 5 + ["bus"] * 2 + ["taxi"] * 2,
     "difficult_direct_answer": False, "rationales": ["A train would not be on the street."]},
    {"split": "val", "image_id": 5, "question_id": "hard1", "question": "Why?", "choices": ["a", "b", "c", "d"],
     "correct_choice_idx": 0, "direct_answers": ["x"] * 10, "difficult_direct_answer": True, "rationales": []},
]


def test_aokvqa_multiple_choice_and_direct_answer(tmp_path):
    path = write_json(tmp_path / "aokvqa_v1p0_val.json", AOKVQA)
    mc = read_aokvqa(path, "val", "mc")
    check_canonical(mc)
    assert len(mc) == 2 and mc[0]["task"] == "mcvqa" and mc[0]["meta"]["answer"] == "D"
    assert mc[0]["images"][0]["path"] == "val2017/000000299207.jpg"
    assert mc[0]["messages"][0]["content"] == (
        "<image>\nWhat is the man by the bags awaiting?\nA. skateboarder\nB. train\nC. delivery\nD. cab\n" + LETTER)
    assert score_prediction(mc[0], "D") == 1.0 and score_prediction(mc[0], "the cab") == 1.0
    da = read_aokvqa(path, "val", "da")
    check_canonical(da)
    assert [s["id"] for s in da] == ["aokvqa_da_22MexNkBPpdZGX6sxbxVBH"]  # difficult question left out
    assert da[0]["messages"][-1]["content"] == "cab"
    assert score_prediction(da[0], "bus") == pytest.approx(2 / 3)
    assert score_prediction(da[0], "Cab") == 0.0


def png_base64(colour):
    return base64.b64encode(encode_png(Image.new("RGB", (4, 4), colour))).decode()


def test_mmbench_tsv_with_circular_copies(tmp_path):
    path = tmp_path / "mmbench_dev_en.tsv"
    header = ["index", "question", "hint", "A", "B", "C", "D", "answer", "category", "image", "source",
              "l2-category", "comment", "split"]
    rows = [
        [0, "What colour is the square?", "", "red", "blue", "green", "", "B", "attribute_recognition",
         png_base64("blue"), "src", "finegrained_perception", "", "dev"],
        [1, "Which object is larger?", "Look at both shapes.", "square", "circle", "", "", "A",
         "spatial_relationship", png_base64("red"), "src", "relation_reasoning", "", "dev"],
        [1_000_000, "What colour is the square?", "", "blue", "green", "red", "", "A", "attribute_recognition",
         "0", "src", "finegrained_perception", "", "dev"],  # image shared with index 0, as VLMEvalKit writes it
    ]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t")
        writer.writerow(header)
        writer.writerows(rows)
    samples = read_mmbench(path)
    check_canonical(samples)
    first, second, copy = samples
    assert first["id"] == "mmbench_0" and first["qtype"] == "attribute_recognition"
    assert first["meta"]["options"] == {"A": "red", "B": "blue", "C": "green"}
    assert decode(first["images"][0]["bytes"]).getpixel((0, 0)) == (0, 0, 255)
    assert copy["images"][0]["bytes"] == first["images"][0]["bytes"]
    assert second["messages"][0]["content"] == (
        f"<image>\nLook at both shapes.\nWhich object is larger?\nA. square\nB. circle\n{LETTER}")
    assert score_prediction(second, "A.") == 1.0 and score_prediction(second, "circle") == 0.0

    # VLMEvalKit's order: per option count, all originals, then all first copies, ...
    rotated = circular_copies(samples[:2])
    assert [s["meta"]["index"] for s in rotated] == [0, 1_000_000, 2_000_000, 1, 1_000_001]
    assert all(s["meta"]["circular_index"] == s["meta"]["index"] for s in rotated)  # the runner's CircularEval key
    # Copy k moves option j to (j - k) % n: "blue" moves from B to A, red from A to C.
    assert rotated[1]["meta"]["options"] == {"A": "blue", "B": "green", "C": "red"}
    assert rotated[1]["meta"]["answer"] == "A"
    assert rotated[1]["messages"][0]["content"] == (
        f"<image>\nWhat colour is the square?\nA. blue\nB. green\nC. red\n{LETTER}")
    assert rotated[2]["meta"]["options"] == {"A": "green", "B": "red", "C": "blue"}
    assert rotated[2]["meta"]["answer"] == "C"
    assert rotated[4]["meta"]["answer"] == "B" and rotated[4]["meta"]["options"] == {"A": "circle", "B": "square"}


def write_tsv(path, header, rows):
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t")
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.mark.parametrize("missing", ["", "None", "NA", "N/A", "nan", "null", "NULL", "<NA>"])
def test_mmbench_cells_pandas_reads_as_missing_are_no_option_and_no_hint(tmp_path, missing):
    path = write_tsv(tmp_path / "mmbench.tsv", ["index", "question", "hint", "A", "B", "C", "answer", "image"],
                     [[0, "Which?", missing, "dog", "cat", missing, "B", png_base64("red")]])
    [sample] = read_mmbench(path)
    assert sample["meta"]["options"] == {"A": "dog", "B": "cat"} and sample["meta"]["hint"] is None
    assert sample["messages"][0]["content"] == f"<image>\nWhich?\nA. dog\nB. cat\n{LETTER}"


def test_circular_copies_skip_letter_options_and_raise_the_offset(tmp_path):
    header = ["index", "question", "A", "B", "C", "answer", "image"]
    image = png_base64("red")
    path = write_tsv(tmp_path / "mmbench.tsv", header, [
        [5, "Which letter?", "A", "B", "", "A", image],          # option texts that are letters: no copies
        [6, "Which pair?", "A and B", "C", "dog", "C", image],   # an option naming two letters: no copies
        [2_000_007, "Which?", "dog", "cat", "", "B", image],     # index >= 1e6: the offset becomes 1e7
    ])
    rotated = circular_copies(read_mmbench(path))
    assert [s["meta"]["index"] for s in rotated] == [5, 6, 2_000_007, 12_000_007]
    assert rotated[3]["meta"]["options"] == {"A": "cat", "B": "dog"} and rotated[3]["meta"]["answer"] == "A"


def test_vqav2_test_dev_questions_use_test2015_images(tmp_path):
    questions = write_json(tmp_path / "q.json", {"data_subtype": "test-dev2015", "questions": [
        {"image_id": 262144, "question": "What is it?", "question_id": 262144000}]})
    [sample] = read_vqav2(questions)
    assert sample["images"][0]["path"] == "test2015/COCO_test2015_000000262144.jpg"


def test_aokvqa_choices_that_contain_each_other(tmp_path):
    record = {**AOKVQA[0], "choices": ["sink", "bedroom", "red", "bed"], "correct_choice_idx": 1}
    [sample] = read_aokvqa(write_json(tmp_path / "a.json", [record]), "val", "mc")
    # allenai's scorer compares the choice text: "bedroom" is right although "bed" occurs in it.
    assert score_prediction(sample, "bedroom") == 1.0 and score_prediction(sample, "B") == 1.0
    assert score_prediction(sample, "bed") == 0.0 and score_prediction(sample, "a bedroom") == 0.0


def test_mmbench_bad_rows_name_the_line(tmp_path):
    path = tmp_path / "bad.tsv"
    path.write_text("index\tquestion\tA\tB\tanswer\timage\n0\tq\tx\ty\tA\tnot base64!\n")
    with pytest.raises(BenchmarkError, match=r"bad.tsv: row 1: image of index 0 is not base64"):
        read_mmbench(path)
    path.write_text("index\tquestion\n0\tq\n")
    with pytest.raises(BenchmarkError, match="no 'image' column"):
        read_mmbench(path)


def test_scienceqa(tmp_path):
    base = {"task": "closed choice", "grade": "grade2", "subject": "natural science", "topic": "biology",
            "skill": "Identify mammals", "lecture": "", "solution": ""}
    path = write_json(tmp_path / "problems.json", {
        "5": {**base, "question": "Which is a mammal?", "choices": ["frog", "dog"], "answer": 1, "hint": "",
              "image": None, "category": "Classification", "split": "test"},
        "7": {**base, "question": "Which animal is shown?", "choices": ["cat", "owl", "eel"], "answer": 0,
              "hint": "Look at the picture.", "image": "image.png", "category": "Classification", "split": "test"},
        "9": {**base, "question": "?", "choices": ["a", "b"], "answer": 0, "hint": "", "image": None,
              "category": "Weather", "split": "train"},
    })
    samples = read_scienceqa(path, "test")
    check_canonical(samples)
    text_only, pictured = samples
    assert [s["id"] for s in samples] == ["scienceqa_5", "scienceqa_7"]
    assert text_only["images"] == [] and text_only["meta"]["answer"] == "B"
    assert text_only["messages"][0]["content"] == f"Which is a mammal?\nA. frog\nB. dog\n{LETTER}"
    assert pictured["images"][0]["path"] == "test/7/image.png"
    assert pictured["messages"][0]["content"].startswith(
        "<image>\nWhich animal is shown?\nContext: Look at the picture.\nA. cat")
    assert len(read_scienceqa(path, None)) == 3
    # LLaVA's letter rule: a bare letter, "B. ...", or "The answer is B." once.
    assert score_prediction(text_only, "B") == 1.0 and score_prediction(text_only, "B. dog") == 1.0
    assert score_prediction(text_only, "The answer is B.") == 1.0
    assert score_prediction(text_only, "dog") == 0.0 and score_prediction(text_only, "(B)") == 0.0


def test_gqa(tmp_path):
    path = write_json(tmp_path / "testdev_balanced_questions.json", {
        "201307251": {"semanticStr": "select: sky->verify color: blue", "imageId": "n435808",
                      "question": "Is the sky blue?", "answer": "yes", "fullAnswer": "Yes, the sky is blue.",
                      "isBalanced": True, "groups": {"global": None, "local": "06-sky_color"}, "entailed": [],
                      "equivalent": ["201307251"], "annotations": {"answer": {}, "question": {}, "fullAnswer": {}},
                      "types": {"structural": "verify", "semantic": "attr", "detailed": "verifyAttr"},
                      "semantic": []}})
    [sample] = read_gqa(path)
    check_canonical([sample])
    assert sample["id"] == "gqa_201307251" and sample["qtype"] == "attr"
    assert sample["images"][0]["path"] == "n435808.jpg"
    assert score_prediction(sample, "Yes.") == 1.0 and score_prediction(sample, "yes, it is") == 0.0


def test_cli_converts_a_benchmark_to_parquet(tmp_path):
    from typer.testing import CliRunner

    from synthloop.cli import app
    from synthloop.formats.parquet import read_samples

    path = write_json(tmp_path / "aokvqa_v1p0_val.json", AOKVQA)
    result = CliRunner().invoke(app, ["benchmark", "aokvqa", str(path), "--out", str(tmp_path / "da"),
                                      "--setting", "da"])
    assert result.exit_code == 0, result.output
    assert "wrote 1 samples" in result.output
    assert list(read_samples(tmp_path / "da")) == read_aokvqa(path, "val", "da")

    (tmp_path / "broken.json").write_text('{"questions": [{"image_id": 1}]}')
    broken = CliRunner().invoke(app, ["benchmark", "vqav2", str(tmp_path / "broken.json"), "--out", str(tmp_path)])
    assert broken.exit_code == 2
    assert "broken.json: question 0: missing field 'question_id'" in broken.output
