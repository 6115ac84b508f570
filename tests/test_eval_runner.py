"""The evaluation runner against a deterministic stub model implementing the model protocols."""

import json

import pytest
from PIL import Image
from typer.testing import CliRunner

from synthloop.cli import app
from synthloop.evaluate import evaluate, majority_baseline
from synthloop.formats.parquet import write_samples
from synthloop.images import encode_png
from synthloop.models.protocols import Generation, Request
from synthloop.sample import new_sample

PNG = encode_png(Image.new("RGB", (8, 6), "red"))


class StubModel:
    """Replies with a fixed answer per question; scores an option 0 when it is that answer, else -5."""

    def __init__(self, replies: dict[str, str]):
        self.replies = replies
        self.generate_batches: list[int] = []
        self.score_batches: list[int] = []

    def _reply(self, request: Request) -> str:
        if "very long" in request.messages[-1]["content"]:
            raise ValueError("a request needs 999 tokens but max_seq_len is 64")
        assert all(im.size == (8, 6) for im in request.images)
        assert request.messages[-1]["role"] == "user"
        return self.replies[request.messages[-1]["content"].removeprefix("<image>\n")]

    def generate(self, requests: list[Request], max_new_tokens: int = 64, temperature: float = 0.0,
                 seed: int = 0) -> list[Generation]:
        self.generate_batches.append(len(requests))
        return [Generation(self._reply(r)) for r in requests]

    def score_options(self, requests: list[Request], options: list[list[str]]) -> list[list[float]]:
        self.score_batches.append(len(requests))
        return [[0.0 if o == self._reply(r) else -5.0 for o in opts] for r, opts in zip(requests, options)]


def sample(id, question, reply, task, qtype, meta=None, image=PNG):
    messages = [{"role": "user", "content": f"<image>\n{question}"}]
    if reply is not None:
        messages.append({"role": "assistant", "content": reply})
    return new_sample(id, messages, [{"bytes": image, "path": None}], task=task, qtype=qtype, source="world",
                      meta=meta or {})


BENCH = [
    sample("c1", "colour 1?", "red", "vqa", "colour"),
    sample("c2", "colour 2?", "blue", "vqa", "colour"),
    sample("c3", "colour 3?", "red", "vqa", "colour"),
    sample("c4", "colour 4?", "green", "vqa", "colour", {"answers": ["green"] * 2 + ["teal"] * 8}),
    sample("n1", "count 1?", "2", "vqa", "count"),
    sample("n2", "count 2?", "3", "vqa", "count"),
    sample("m1", "which?", "B", "mcvqa", "shape", {"answer": "B", "options": ["circle", "square"]}),
    sample("m2", "which 2?\nA. circle\nB. square\nAnswer with the option's letter from the given choices directly.",
           "A", "mcvqa", "shape", {"answer": "A", "options": ["circle", "square"]}),
    sample("cap", "describe", "a red circle on grey", "caption", "caption"),
    sample("r1", "where is the circle?", None, "rec", "grounding", {"box": [0.1, 0.1, 0.5, 0.5]}),
    sample("r2", "where is the square?", None, "rec", "grounding", {"box": [0.5, 0.5, 0.9, 0.9]}),
    sample("g1", "name the region", None, "reg", "reg", {"expression": "the red circle"}),
    sample("bad_image", "colour 5?", "red", "vqa", "colour", image=b"not an image"),
    sample("no_gold", "colour 6?", None, "vqa", "colour"),
]
REPLIES = {
    "colour 1?": "Red.", "colour 2?": "red", "colour 3?": "red", "colour 4?": "green",  # c4: 2 of 10 -> 0.6
    "count 1?": "two", "count 2?": "4",
    "which?": "B",
    "which 2?\nA. circle\nB. square\nAnswer with the option's letter from the given choices directly.": "square",
    "describe": "red circle",  # tokens [red, circle] vs [red, circle, on, grey]: F1 = 2/3
    "where is the circle?": "[0.100,0.100,0.500,0.500]", "where is the square?": "[0.1, 0.1, 0.2, 0.2]",
    "name the region": "Red circle", "colour 5?": "red", "colour 6?": "red",
}


def test_evaluate_scores_writes_outputs_and_batches(tmp_path):
    model = StubModel(REPLIES)
    results = evaluate(model, BENCH, tmp_path, batch_size=5)
    # 14 samples in batches of 5; the 2 that cannot be scored are left out of the last call.
    assert model.generate_batches == [5, 5, 2]
    assert results["n"] == 12 and results["errors"] == 2
    assert results["per_qtype"] == pytest.approx({
        "caption": 2 / 3, "colour": (1 + 0 + 1 + 0.6) / 4, "count": 0.5, "grounding": 0.5, "reg": 1.0,
        "shape": 0.5})
    assert results["per_task"]["vqa"] == pytest.approx((2.6 + 1) / 6)
    assert results["per_task"]["rec"] == 0.5
    assert results["overall"] == pytest.approx((2.6 + 1 + 1 + 2 / 3 + 1 + 1) / 12)
    assert json.loads((tmp_path / "results.json").read_text()) == results
    assert json.loads((tmp_path / "weights.json").read_text()) == {
        "caption": 0.333, "colour": 0.35, "count": 0.5, "grounding": 0.5, "reg": 0.0, "shape": 0.5}

    rows = [json.loads(line) for line in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == [s["id"] for s in BENCH]
    assert rows[0]["prediction"] == "Red." and rows[0]["score"] == 1.0
    assert "cannot decode image" in rows[12]["error"] and "bad_image" in rows[12]["error"]
    assert rows[13]["error"] == "sample 'no_gold': no gold answer for metric 'vqa'"

    assert sorted(p.name for p in tmp_path.glob("bad_case_*.json")) == [
        "bad_case_colour.json", "bad_case_count.json", "bad_case_grounding.json", "bad_case_shape.json"]
    shape = json.loads((tmp_path / "bad_case_shape.json").read_text())
    assert shape == {"shape": [{
        "idx": "m2", "question": "which 2?", "choices": ["circle", "square"], "correct_choice_idx": 0,
        "model_answer": "square", "question_type": "shape",
        "prompt": "Question: which 2?\nChoices: (A) circle (B) square\nAnswer: The answer is (A): circle.\n"
                  "Question type: shape",
        "image_path": None, "score": 0.0, "gold": {"answer": "A", "options": ["circle", "square"]},
        "messages": BENCH[7]["messages"]}]}
    colour = json.loads((tmp_path / "bad_case_colour.json").read_text())["colour"]
    assert [c["idx"] for c in colour] == ["c2"] and colour[0]["prompt"].startswith("Question: colour 2?\nAnswer: blue")


def test_evaluate_is_deterministic_and_replaces_stale_bad_cases(tmp_path):
    (tmp_path / "bad_case_old.json").write_text("{}")
    evaluate(StubModel(REPLIES), BENCH, tmp_path, batch_size=4)
    first = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    evaluate(StubModel(REPLIES), iter(BENCH), tmp_path, batch_size=64)  # any iterable streams
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == first
    assert "bad_case_old.json" not in first


def test_a_request_the_model_rejects_leaves_only_that_sample_unscored():
    model = StubModel(REPLIES)
    bench = [*BENCH[:3], sample("long", "a very long question?", "red", "vqa", "colour"), BENCH[3]]
    results = evaluate(model, bench, batch_size=5)
    assert model.generate_batches == [5, 1, 1, 1, 1, 1]  # the failed call, then one by one
    assert results["n"] == 4 and results["errors"] == 1
    assert results["per_qtype"]["colour"] == pytest.approx(2.6 / 4)


def test_likelihood_multiple_choice_uses_option_scores():
    model = StubModel({**REPLIES, "which 2?": "A"})
    results = evaluate(model, BENCH[6:8], batch_size=64, mc_scoring="likelihood")
    assert model.score_batches == [2] and model.generate_batches == []
    assert results["per_qtype"] == {"shape": 1.0}


def test_bad_cases_are_the_first_per_qtype_in_input_order(tmp_path):
    # Multiple-choice (likelihood) and open questions go to separate model calls that finish out of order.
    bench = [sample(f"o{i}", f"open {i}?", "red", "vqa", "mixed") if i % 3 else
             sample(f"m{i}", f"mc {i}?", "A", "mcvqa", "mixed", {"answer": "A", "options": ["red", "blue"]})
             for i in range(12)]
    replies = {f"open {i}?": "blue" for i in range(12)} | {f"mc {i}?": "B" for i in range(12)}
    evaluate(StubModel(replies), bench, tmp_path, batch_size=2, mc_scoring="likelihood", max_bad_cases=3)
    cases = json.loads((tmp_path / "bad_case_mixed.json").read_text())["mixed"]
    assert [case["idx"] for case in cases] == ["m0", "o1", "o2"]
    rows = [json.loads(line) for line in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert [row["id"] for row in rows] == [s["id"] for s in bench]


def test_circular_index_rows_report_circular_accuracy():
    # Any benchmark reader's rows enter CircularEval through `meta["circular_index"]` (MMBench's reader sets it).
    options = {"A": "circle", "B": "square"}
    bench = [sample(f"mc_{i}", f"q{i}", None, "mcvqa", "shape", {"circular_index": i, "answer": a, "options": options})
             for i, a in [(0, "A"), (1_000_000, "B"), (1, "A"), (1_000_001, "B")]]
    replies = {"q0": "A", "q1000000": "B", "q1": "A", "q1000001": "A"}
    results = evaluate(StubModel(replies), bench)
    assert results["overall"] == 0.75 and results["circular"] == 0.5
    plain = sample("x", "q0", None, "mcvqa", "shape", {"index": 0, "answer": "A", "options": options})
    assert "circular" not in evaluate(StubModel(replies), [plain])  # an `index` alone is not CircularEval
    # A rotation that fails (here: its image cannot be read) makes its question wrong, as in VLMEvalKit;
    # a rotation whose base row is absent is left out.
    bench[1]["images"] = [{"bytes": b"not an image", "path": None}]
    orphan = sample("mc_1000002", "q1000002", None, "mcvqa", "shape",
                    {"circular_index": 1_000_002, "answer": "A", "options": options})
    results = evaluate(StubModel({**replies, "q1000002": "A"}), bench + [orphan])
    assert results["errors"] == 1 and results["circular"] == 0.0


def test_majority_baseline():
    train = [sample(f"t{i}", "q", reply, "vqa", qtype) for i, (reply, qtype) in enumerate(
        [("red", "colour"), ("red", "colour"), ("blue", "colour"), ("3", "count"), ("2", "count"), ("B", "shape")])]
    results = majority_baseline(train, BENCH)
    # colour -> "red": c1, c3 and bad_image right (no image is read), c2 and c4 wrong; count ties -> "2"
    # (sorted): n1 right; shape -> "B": m1 right; caption, rec and reg are unseen -> the overall majority "red".
    assert results["per_qtype"]["colour"] == 0.6
    assert results["per_qtype"]["count"] == 0.5
    assert results["per_qtype"]["shape"] == 0.5
    assert results["per_qtype"]["grounding"] == 0.0
    assert results["n"] == 13 and results["errors"] == 1


def test_cli_eval(tmp_path, monkeypatch):
    import synthloop.models.tinyvlm.checkpoint as checkpoint

    monkeypatch.setattr(checkpoint, "load_checkpoint", lambda path: StubModel(REPLIES))
    write_samples(BENCH[:8], tmp_path / "bench")
    result = CliRunner().invoke(app, ["eval", str(tmp_path / "ckpt"), str(tmp_path / "bench"),
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "overall 0.5750 on 8 samples (0 not scored)" in result.output
    assert json.loads((tmp_path / "out" / "results.json").read_text())["n"] == 8

    missing = CliRunner().invoke(app, ["eval", str(tmp_path / "ckpt"), str(tmp_path / "nope"),
                                       "--out", str(tmp_path / "out")])
    assert missing.exit_code == 2
    assert "nope: no such Parquet file or folder" in missing.output
