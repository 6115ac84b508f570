"""The submission files `evaluate` writes, scored by the re-derived official scorers, give our numbers."""

import base64
import csv
import json

import pandas
import pytest
from PIL import Image

import reference_mcq
import reference_vqa
from synthloop.evaluate import evaluate
from synthloop.evaluate.benchmarks import circular_copies, read_aokvqa, read_mmbench, read_textvqa
from synthloop.images import encode_png
from synthloop.models.protocols import Generation

PNG = encode_png(Image.new("RGB", (8, 6), "red"))


class EchoModel:
    """Answers each question with the reply the test gives for the first line of its prompt."""

    def __init__(self, replies):
        self.replies = replies

    def generate(self, requests, max_new_tokens=64, temperature=0.0, seed=0):
        return [Generation(self.replies[r.messages[-1]["content"].removeprefix("<image>\n").split("\n")[0]])
                for r in requests]


def with_png(samples):
    for sample in samples:
        sample["images"] = [{"bytes": PNG, "path": None}]
    return samples


def test_textvqa_submission_scores_as_the_official_evaluator(tmp_path):
    records = [{"question_id": i, "image_id": f"im{i}", "question": f"q{i}?", "answers": answers}
               for i, answers in enumerate([["stop"] * 10, ["two"] * 8 + ["2"] * 2, ["a"] * 3 + ["b"] * 7])]
    (tmp_path / "textvqa.json").write_text(json.dumps({"data": records}))
    bench = with_png(read_textvqa(tmp_path / "textvqa.json"))
    results = evaluate(EchoModel({"q0?": "Stop.", "q1?": "2", "q2?": "a"}), bench, tmp_path / "out")
    submitted = json.loads((tmp_path / "out" / "textvqa_submission.json").read_text())
    assert [entry["question_id"] for entry in submitted] == [0, 1, 2]
    official = [reference_vqa.m4c_accuracy(entry["answer"], record["answers"])
                for entry, record in zip(submitted, records)]
    assert results["overall"] == sum(official) / len(official)


def test_mmbench_submission_scores_as_vlmevalkit(tmp_path):
    image = base64.b64encode(PNG).decode()
    with (tmp_path / "mmbench.tsv").open("w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t")
        writer.writerow(["index", "question", "hint", "A", "B", "C", "answer", "category", "split", "image"])
        writer.writerow([0, "Which is red?", "N/A", "sky", "apple", "grass", "B", "attr", "dev", image])
        writer.writerow([1, "Which is green?", "", "grass", "sky", "", "A", "attr", "dev", image])
    bench = circular_copies(read_mmbench(tmp_path / "mmbench.tsv"))
    replies = {"Which is red?": "apple", "Which is green?": "A"}
    results = evaluate(EchoModel(replies), bench, tmp_path / "out")
    table = pandas.read_csv(tmp_path / "out" / "mmbench_submission.tsv", sep="\t")
    assert list(table.columns) == ["index", "question", "A", "B", "C", "prediction", "answer", "split"]
    assert table.equals(pandas.read_excel(tmp_path / "out" / "mmbench_submission.xlsx"))
    data = [{"index": int(row["index"]), "prediction": row["prediction"],
             "options": {k: row[k] for k in "ABC" if not pandas.isna(row[k])}} for _, row in table.iterrows()]
    meta = [{"index": s["meta"]["index"], "answer": s["meta"]["answer"]} for s in bench]
    # "Which is green?" is answered "A" in every rotation: wrong in its copy, so 1 of 2 questions.
    assert results["circular"] == reference_mcq.vlmevalkit_circular(data, meta) == 0.5
    first = (tmp_path / "out" / "mmbench_submission.xlsx").read_bytes()
    evaluate(EchoModel(replies), bench, tmp_path / "out")
    assert (tmp_path / "out" / "mmbench_submission.xlsx").read_bytes() == first


def test_aokvqa_submission_scores_as_allenai(tmp_path):
    dataset = [{"question_id": f"q{i}", "image_id": i, "question": f"q{i}?", "choices": choices,
                "correct_choice_idx": 1, "direct_answers": ["bed"] * 10, "difficult_direct_answer": False}
               for i, choices in enumerate([["sink", "bedroom", "red", "bed"], ["cab", "bus", "car", "van"]])]
    (tmp_path / "aokvqa.json").write_text(json.dumps(dataset))
    bench = with_png(read_aokvqa(tmp_path / "aokvqa.json", "val", "mc"))
    results = evaluate(EchoModel({"q0?": "bedroom", "q1?": "(A)"}), bench, tmp_path / "out")
    submitted = json.loads((tmp_path / "out" / "aokvqa_submission.json").read_text())
    assert submitted == {"q0": {"multiple_choice": "bedroom"}, "q1": {"multiple_choice": "cab"}}
    predictions = {qid: entry["multiple_choice"] for qid, entry in submitted.items()}
    assert results["overall"] == reference_mcq.aokvqa_eval(dataset, predictions, True) == 0.5


def test_lmms_eval_log_has_one_line_per_scored_sample(tmp_path):
    (tmp_path / "textvqa.json").write_text(json.dumps({"data": [
        {"question_id": 7, "image_id": "im", "question": "q?", "answers": ["stop"] * 10}]}))
    evaluate(EchoModel({"q?": "stop"}), with_png(read_textvqa(tmp_path / "textvqa.json")), tmp_path / "out")
    [line] = (tmp_path / "out" / "lmms_eval_samples.jsonl").read_text().splitlines()
    assert json.loads(line) == {"doc_id": 0, "input": "<image>\nq?\nAnswer the question using a single word or phrase.",
                                "target": str(["stop"] * 10), "filtered_resps": "stop", "vqa_m4c": pytest.approx(1.0)}
