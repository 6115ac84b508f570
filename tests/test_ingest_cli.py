import json

import pytest
from ingest_fixtures import CAPTIONING, DATAOPTIM_RECORDS, annotation_files, write_images
from typer.testing import CliRunner

from synthloop.cli import app
from synthloop.formats.ingest import DATASETS

runner = CliRunner()

# example/example-standard.txt (BAAI-DCAI/DataOptim @ 5899bb3) lists one id per source in this
# order; the index-numbered ids are those of the fixtures' records
STANDARD_IDS = ["coco_0", "flickr30k_0", "textcaps_0", "vqav2_524286005", "okvqa_5227415", "ocrvqa_1",
                "gqa_05145757", "textvqa_0", "aokvqa_dQbC9HGBPG3RCvpPWE4cWG", "ref3reg_0", "ref3rec_0"]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture()
def world(tmp_path):
    return tmp_path, write_images(tmp_path / "images"), annotation_files(tmp_path / "annotations")


def test_list_names_each_dataset_with_its_files():
    result = invoke("ingest", "--list")
    assert result.exit_code == 0
    lines = result.stdout.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == sorted(DATASETS)
    assert "vqav2: v2_OpenEnded_mscoco_train2014_questions.json + v2_mscoco_train2014_annotations.json; " \
           "images in coco/; --split train2014 by default" in lines
    assert "scienceqa: problems.json + pid_splits.json; images in scienceqa/<pid>/ (image.png); " \
           "--split train by default" in lines


def test_pool_resolves_a_standard_submission_in_id_order(world):
    tmp_path, images, files = world
    pool = tmp_path / "pool"
    for name in ("coco", "flickr30k", "textcaps", "vqav2", "okvqa", "ocrvqa", "gqa", "textvqa", "aokvqa",
                 "ref3reg", "ref3rec"):
        result = invoke("ingest", name, *files[name], "--images", images, "--out", pool / f"{name}.json",
                        "--to", "llava")
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith(f"{name}: read ") and result.stdout.endswith(" quarantined 0\n")
    ids = tmp_path / "example-standard.txt"
    ids.write_text("\n".join(STANDARD_IDS) + "\n")
    result = invoke("subset", pool, ids, tmp_path / "train.json")
    assert result.exit_code == 0, result.output
    records = json.loads((tmp_path / "train.json").read_text())
    assert [r["id"] for r in records] == STANDARD_IDS
    for record in records:
        if record["id"] in ("coco_0", "flickr30k_0", "textcaps_0"):
            assert record["conversations"][0]["value"].removeprefix("<image>\n") in CAPTIONING
            record["conversations"][0] = DATAOPTIM_RECORDS[record["id"]]["conversations"][0]
        if record["id"] in DATAOPTIM_RECORDS and not record["id"].startswith("ref3"):
            assert record == DATAOPTIM_RECORDS[record["id"]]


def test_parquet_pool_embeds_images_and_keeps_gold_answers(world):
    tmp_path, images, files = world
    result = invoke("ingest", "vqav2", *files["vqav2"], "--images", images, "--out", tmp_path / "pool")
    assert result.exit_code == 0, result.output
    assert result.stdout == "vqav2: read 1, written 1, quarantined 0\n"
    assert not (tmp_path / "pool.quarantine.jsonl").exists()
    from synthloop.formats.parquet import read_samples
    (sample,) = read_samples(tmp_path / "pool")
    assert sample["images"][0]["bytes"] == (images / "coco/COCO_train2014_000000524286.jpg").read_bytes()
    assert sample["meta"]["answers"] == ["yes"] * 10 and sample["qtype"] == "yes/no"


def test_an_existing_pool_is_refused_unless_overwrite_replaces_it(world):
    tmp_path, images, files = world
    args = ("ingest", "vqav2", *files["vqav2"], "--images", images, "--out", tmp_path / "pool")
    assert invoke(*args).exit_code == 0
    refused = invoke(*args)
    assert refused.exit_code != 0 and "--overwrite" in refused.output and "Traceback" not in refused.output
    assert invoke(*args, "--overwrite").stdout == "vqav2: read 1, written 1, quarantined 0\n"


def test_same_seed_same_bytes_other_seed_other_prompts(world):
    tmp_path, images, files = world
    outputs = []
    for seed, name in ((5, "a"), (5, "b"), (6, "c")):
        result = invoke("ingest", "ref3rec", *files["ref3rec"], "--images", images, "--out", tmp_path / name,
                        "--seed", seed)
        assert result.exit_code == 0, result.output
        outputs.append(b"".join(p.read_bytes() for p in sorted((tmp_path / name).rglob("*.parquet"))))
    assert outputs[0] == outputs[1] and outputs[0] != outputs[2]


def test_missing_image_is_quarantined_with_its_reason(world):
    tmp_path, images, files = world
    (images / "visual_genome/1.jpg").unlink()
    out = tmp_path / "vg.jsonl"
    result = invoke("ingest", "vgqa", *files["vgqa"], "--images", images, "--out", out, "--to", "messages")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"vgqa: read 1, written 0, quarantined 1 (to {out}.quarantine.jsonl)\n"
    (entry,) = [json.loads(line) for line in open(f"{out}.quarantine.jsonl")]
    assert entry["reason"] == f"image visual_genome/1.jpg is not in {images}"
    assert entry["record"]["qas"][0]["qa_id"] == 986768 and entry["index"] == 1


def test_a_record_missing_a_field_stops_with_one_line_naming_file_and_record(world):
    tmp_path, images, files = world
    questions = files["vqav2"][0]
    doc = json.loads(questions.read_text())
    del doc["questions"][0]["question"]
    questions.write_text(json.dumps(doc))
    result = invoke("ingest", "vqav2", *files["vqav2"], "--images", images, "--out", tmp_path / "out.jsonl",
                    "--to", "messages")
    assert result.exit_code == 2
    assert result.output == (f"error: {questions}, sample #1, id '524286005': missing field 'question' "
                             "(pass --quarantine FILE to set such records aside)\n")
    result = invoke("ingest", "vqav2", *files["vqav2"], "--images", images, "--out", tmp_path / "out.jsonl",
                    "--to", "messages", "--quarantine", tmp_path / "bad.jsonl")
    assert result.exit_code == 0 and result.stdout.startswith("vqav2: read 1, written 0, quarantined 1")


def test_a_question_without_an_answer_is_named(world):
    tmp_path, images, files = world
    annotations = files["okvqa"][1]
    annotations.write_text(json.dumps({"annotations": [{"question_id": 1, "image_id": 2, "answers": []}]}))
    result = invoke("ingest", "okvqa", *files["okvqa"], "--images", images, "--out", tmp_path / "o.jsonl",
                    "--to", "messages", "--quarantine", tmp_path / "bad.jsonl")
    assert result.exit_code == 0
    assert result.stdout.startswith("okvqa: read 2, written 0, quarantined 2")
    reasons = [json.loads(line)["reason"] for line in open(tmp_path / "bad.jsonl")]
    assert reasons == ["question_id 5227415: no annotation (a question without an answer)",
                       f"question_id 1: an annotation without a question in {files['okvqa'][0]}"]


@pytest.mark.parametrize("problem, expected", [
    ("malformed", "malformed JSON"),
    ("wrong file", "no questions at 'questions'; is this the right file?"),
])
def test_a_bad_annotation_file_is_one_line(world, problem, expected):
    tmp_path, images, files = world
    questions, annotations = files["vqav2"]
    if problem == "malformed":
        questions.write_text('{"questions": [{"question_id": 1,')
    else:
        questions = annotations
    result = invoke("ingest", "vqav2", questions, annotations, "--images", images, "--out", tmp_path / "o.jsonl",
                    "--to", "messages")
    assert result.exit_code == 2
    assert len(result.output.splitlines()) == 1
    assert result.output.startswith(f"error: {questions}: ") and expected in result.output


def test_usage_errors_are_one_line(world):
    tmp_path, images, files = world
    result = invoke("ingest", "nope", files["gqa"][0], "--images", images, "--out", tmp_path / "o")
    assert result.exit_code == 2 and result.output.startswith("error: unknown dataset 'nope' (known: aokvqa, coco")
    result = invoke("ingest", "vqav2", files["vqav2"][0], "--images", images, "--out", tmp_path / "o")
    assert result.output == ("error: vqav2 reads v2_OpenEnded_mscoco_train2014_questions.json + "
                             "v2_mscoco_train2014_annotations.json; got 1 file(s)\n")
