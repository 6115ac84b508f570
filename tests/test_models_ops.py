"""Model ops against stub models: parsing, judge probabilities, cache reuse, quarantines."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from synthloop.images import encode_png
from synthloop.models.yes_no import yes_probability
from synthloop.models.protocols import Generation, Request
from synthloop.models.uri import register_loaded
from synthloop.ops.base import Batch, Drop, Quarantine
from synthloop.ops.filters.image_text_score import ImageTextScore
from synthloop.ops.filters.judge import JUDGE_PROMPT, Judge
from synthloop.ops.mappers.caption import Caption
from synthloop.ops.mappers.genixer_generate import GenixerGenerate, ParseError, instruction, parse_generation
from synthloop.ops.mappers.rewrite import Rewrite
from synthloop.sample import new_sample, validate_sample

PNG = encode_png(Image.new("RGB", (64, 48), (200, 30, 30)))


def qa_sample(i: int, answer: str, image: bytes | None = PNG) -> dict:
    images = [{"bytes": image, "path": None}] if image is not None else [{"bytes": None, "path": "missing.png"}]
    return new_sample(f"s{i}", [{"role": "user", "content": "<image>\nWhat colour is the cube?"},
                                {"role": "assistant", "content": answer}], images, task="vqa", source="t")


class StubVLM:
    """Replies by a rule; next-token logits favour Yes when the prompt says 'red'."""

    def __init__(self, reply=lambda request: "Question: What is it? Answer: a cube"):
        self.reply = reply
        self.calls = 0
        self.requests = 0

    def generate(self, requests: list[Request], max_new_tokens: int = 64, temperature: float = 0.0,
                 seed: int = 0) -> list[Generation]:
        self.calls += 1
        self.requests += len(requests)
        return [Generation(self.reply(r), [-0.5]) for r in requests]

    @staticmethod
    def logits(request: Request) -> dict[str, float]:
        red = "Answer: red" in request.messages[-1]["content"]
        return {"Yes": 2.0 if red else -1.0, " yes": 0.0, "No": 0.5, "Maybe": 1.0}

    def next_token_logprobs(self, requests: list[Request], top_k: int = 20) -> list[list[tuple[str, float]]]:
        out = []
        for request in requests:
            logits = self.logits(request)
            norm = math.log(sum(math.exp(v) for v in logits.values()))
            out.append([(t, v - norm) for t, v in logits.items()])
        return out

    def p_yes(self, requests: list[Request]) -> list[float]:
        self.calls += 1
        return [yes_probability(top) for top in self.next_token_logprobs(requests)]


@pytest.fixture
def stub() -> StubVLM:
    model = StubVLM()
    register_loaded("builtin:stub", model)
    return model


def test_judge_probability_matches_hand_softmax(stub):
    judge = Judge(model="builtin:stub", low=0.5, high=0.9)
    samples = [qa_sample(0, "red"), qa_sample(1, "blue"), qa_sample(2, "red", image=None)]
    outcomes = judge.process(Batch(samples))
    # Yes-like tokens: exp(2) + exp(0); No: exp(0.5); the shared softmax denominator cancels.
    expected_red = (math.exp(2.0) + 1.0) / (math.exp(2.0) + 1.0 + math.exp(0.5))
    expected_blue = (math.exp(-1.0) + 1.0) / (math.exp(-1.0) + 1.0 + math.exp(0.5))
    assert samples[0]["scores"]["judge_p"] == pytest.approx(expected_red, abs=1e-9)
    assert samples[1]["scores"]["judge_p"] == pytest.approx(expected_blue, abs=1e-9)
    assert outcomes[0] == [samples[0]]
    assert outcomes[1] == Drop("judge_p below 0.5", pytest.approx(expected_blue))
    assert isinstance(outcomes[2], Quarantine) and "missing.png" in outcomes[2].error
    assert stub.calls == 1  # one batched call for the whole batch


def test_judge_all_turns_scores_the_least_likely_turn(stub):
    expected_red = (math.exp(2.0) + 1.0) / (math.exp(2.0) + 1.0 + math.exp(0.5))
    expected_blue = (math.exp(-1.0) + 1.0) / (math.exp(-1.0) + 1.0 + math.exp(0.5))
    turns = [{"role": "user", "content": "<image>\nWhat colour is the cube?"}, {"role": "assistant", "content": "red"},
             {"role": "user", "content": "And the ball?"}, {"role": "assistant", "content": "blue"}]
    sample = new_sample("two", turns, [{"bytes": PNG, "path": None}], task="vqa", source="t")
    first_only = {**sample, "scores": {}}
    Judge(model="builtin:stub", low=0.0, high=1.0).process(Batch([first_only]))
    assert first_only["scores"]["judge_p"] == pytest.approx(expected_red, abs=1e-9)
    outcome = Judge(model="builtin:stub", low=0.5, high=1.0, turns="all").process(Batch([sample, qa_sample(1, "red")]))
    assert sample["scores"]["judge_p"] == pytest.approx(expected_blue, abs=1e-9)  # the wrong second turn decides
    assert outcome[0] == Drop("judge_p below 0.5", pytest.approx(expected_blue)) and outcome[1] != outcome[0]


def test_judge_prompt_is_genixers_and_default_band():
    assert JUDGE_PROMPT.format(question="Q?", answer="A") == (
        "Here is a question and answer pair. Is 'Question: Q? Answer: A' true for this image?\n"
        "Please answer this question with Yes or No.")
    judge = Judge(model="builtin:stub")
    assert (judge.low, judge.high) == (0.5, 0.7)
    assert judge.decide(0.75) == Drop("judge_p above 0.7", 0.75) and judge.decide(0.6) is None
    with pytest.raises(ValueError, match="low <= high"):
        Judge(model="builtin:stub", low=0.8, high=0.2)


def test_yes_probability_sums_to_one_and_nan_without_yes_or_no():
    top = [("Yes", math.log(0.3)), ("no", math.log(0.1)), ("maybe", math.log(0.6))]
    p = yes_probability(top)
    assert p == pytest.approx(0.75)
    assert p + yes_probability([("Yes", math.log(0.1)), ("no", math.log(0.3))]) == pytest.approx(1.0)
    assert math.isnan(yes_probability([("maybe", 0.0)]))


def test_cache_second_run_makes_zero_model_calls(stub, tmp_path):
    judge = Judge(model="builtin:stub", cache_dir=str(tmp_path))
    first = [qa_sample(i, "red" if i % 2 else "blue") for i in range(6)]
    judge.process(Batch(first))
    assert stub.calls == 1
    again = [qa_sample(i, "red" if i % 2 else "blue") for i in range(6)]
    fresh = Judge(model="builtin:stub", cache_dir=str(tmp_path))  # a resumed run: new op, same cache
    fresh.process(Batch(again))
    assert stub.calls == 1 and fresh.cache.hits == 6 and fresh.cache.misses == 0
    assert [s["scores"] for s in again] == [s["scores"] for s in first]
    Caption(model="builtin:stub", cache_dir=str(tmp_path)).process(Batch([qa_sample(0, "red")]))
    assert stub.calls == 2  # a different call kind and prompt is not a hit


@pytest.mark.parametrize(("text", "task", "expected"), [
    ("Question: Where is the red cube? Answer: [0.1,0.2,0.5,0.60]", "rec", [[0.1, 0.2, 0.5, 0.6]]),
    ("Question: Describe [0.000,0.100,0.300,0.400;0.5,0.5,1,1] Answer: two cats", "reg", []),
    ("Question: What is at [0.25,0.75]? Answer: a dog", "pointqa", []),
])
def test_genixer_parses_boxes_and_points(text, task, expected):
    pairs, grounding = parse_generation(text, task)
    assert len(pairs) == 1 and grounding["answer_boxes"] == expected
    if task == "reg":
        assert grounding["question_boxes"] == [[0.0, 0.1, 0.3, 0.4], [0.5, 0.5, 1.0, 1.0]]
    if task == "pointqa":
        assert grounding["points"] == [[0.25, 0.75]]


@pytest.mark.parametrize(("text", "task", "reason"), [
    ("The cube is red.", "common_vqa", "no 'Question"),
    ("Question: Where is it? Answer: on the left", "rec", "exactly one box"),
    ("Question: Where? Answer: [0.5,0.2,0.1,0.6]", "rec", "x1 > x2"),
    ("Question: What colour? Answer: red", "mc_vqa", "lettered options"),
    ("Question: Hi? Answer: hello", "multi_turn", "at least two"),
    ("Question: What is here? Answer: a cat", "reg", "box in the question"),
])
def test_genixer_rejects_bad_output(text, task, reason):
    with pytest.raises(ParseError, match=reason):
        parse_generation(text, task)


def test_genixer_op_emits_valid_samples_and_quarantines_unparsable(stub):
    stub.reply = lambda r: ("Question: What colour? A. red B. blue Answer: A" if "0" in r.messages[0]["content"]
                            or True else "")
    op = GenixerGenerate(model="builtin:stub", task_type="mc_vqa", n=2, temperature=0.7)
    outcomes = op.process(Batch([qa_sample(0, "red"), qa_sample(1, "red")]))
    made = outcomes[0]
    assert len(made) == 2 and made[0]["id"] != made[1]["id"] and made[0]["task"] == "mcvqa"
    assert all(validate_sample(s) for s in made) and made[0]["meta"]["parent"] == "s0"
    assert stub.calls == 2  # one batch per sampling seed, not per sample
    stub.reply = lambda r: "I see a cube."
    bad = GenixerGenerate(model="builtin:stub").process(Batch([qa_sample(5, "red")]))
    assert isinstance(bad[0], Quarantine) and "unparsable" in bad[0].error and "I see a cube" in bad[0].error
    assert instruction("rec", "a").endswith("Please provide the coordinates in the answer.")
    assert instruction("common_vqa", "a") == instruction("common_vqa", "a")


@pytest.mark.parametrize(("mode", "count"), [("replace", 2), ("add", 3), ("keep", 1)])
def test_caption_modes(stub, mode, count):
    stub.reply = lambda r: "A red square."
    sample = qa_sample(0, "red")
    out = Caption(model="builtin:stub", n=2, mode=mode, temperature=0.5).process(Batch([sample]))[0]
    assert len(out) == count
    if mode == "keep":
        assert out[0]["meta"]["captions"] == ["A red square.", "A red square."]
    else:
        assert out[-1]["messages"][1]["content"] == "A red square." and out[-1]["task"] == "caption"


def test_rewrite_replaces_question_and_keeps_image_placeholder(stub):
    stub.reply = lambda r: '"Which colour does the cube have?"\nextra line'
    sample = qa_sample(0, "red")
    out = Rewrite(model="builtin:stub").process(Batch([sample]))[0]
    assert out[0]["messages"][0]["content"] == "<image>\nWhich colour does the cube have?"
    validate_sample(out[0])
    stub.reply = lambda r: "   "
    assert isinstance(Rewrite(model="builtin:stub").process(Batch([qa_sample(1, "x")]))[0], Quarantine)


class StubClip:
    def score(self, images: list[Image.Image], texts: list[str]) -> list[float]:
        return [float(np.asarray(im).mean() / 255) for im in images]


def test_image_text_score_crops_rec_boxes_and_drops_tiny_ones():
    register_loaded("builtin:clip", StubClip())
    pixels = np.zeros((100, 100, 3), np.uint8)
    pixels[:50, :50] = 255  # white top-left quarter
    png = encode_png(Image.fromarray(pixels))
    rec = new_sample("r", [{"role": "user", "content": "<image>\nthe white square"},
                           {"role": "assistant", "content": "[0.0,0.0,0.5,0.5]"}], [{"bytes": png, "path": None}],
                     task="rec")
    tiny = new_sample("t", [{"role": "user", "content": "<image>\na dot"},
                            {"role": "assistant", "content": "[0.0,0.0,0.05,0.05]"}], [{"bytes": png, "path": None}],
                      task="rec")
    whole = new_sample("w", [{"role": "user", "content": "<image>\nDescribe."},
                             {"role": "assistant", "content": "white and black"}], [{"bytes": png, "path": None}],
                       task="caption")
    outcomes = ImageTextScore(model="builtin:clip").process(Batch([rec, tiny, whole]))
    assert rec["scores"]["clip_score"] == pytest.approx(1.0)  # the crop is all white
    assert whole["scores"]["clip_score"] == pytest.approx(0.25)
    assert outcomes[1] == Drop("box smaller than 8 px", 5.0)


def test_grounded_generate_prompt_filters_and_balanced_answers(stub):
    from synthloop.ops.mappers.grounded_generate import FilterError, GroundedGenerate, parse_mc, rotate

    reply = ("Question: How many cubes are there?\nOptions: (A) one (B) two (C) three (D) four\nAnswer: (B)\n"
             "Explanation: Two cubes are listed.")
    stub.reply = lambda r: reply
    assert parse_mc(reply, True) == ("How many cubes are there?", ["one", "two", "three", "four"], 1,
                                     "Two cubes are listed.")
    assert rotate(["one", "two", "three", "four"], 1, 3) == (["three", "four", "one", "two"], 3)
    for bad, reason in [("Question: Q? Options: (A) a (B) b Answer: (A) Explanation: e", r"\(A\)-\(D\)"),
                        ("Question: Q? Options: (A) a (B) a (C) c (D) d Answer: (A) Explanation: e", "distinct"),
                        ("Question: Q? Options: (A) a (B) b (C) c (D) d Answer: (A)", "no explanation"),
                        ("Two cubes.", "format")]:
        with pytest.raises(FilterError, match=reason):
            parse_mc(bad, need_explanation=True)
    bad_case = qa_sample(99, "three")
    parents = [qa_sample(i, "red") for i in range(24)]
    for p in parents:
        p["meta"] = {"caption": "Two red cubes.", "objects": [{"name": "red cube", "box": [0.1, 0.1, 0.3, 0.3]}]}
    op = GroundedGenerate(model="builtin:stub", qtype="count", bad_cases={"count": [bad_case]}, style="qmae")
    prompt = op._prompt(parents[0])
    assert "- Two red cubes." in prompt and "- red cube [0.100, 0.100, 0.300, 0.300]" in prompt
    assert "Example 1:\nQuestion: What colour is the cube?\nAnswer: three" in prompt
    made = [o[0] for o in op.process(Batch(parents))]
    positions = [m["meta"]["answer_index"] for m in made]
    assert all(m["meta"]["choices"][m["meta"]["answer_index"]] == "two" for m in made)
    assert len(set(positions)) == 4  # the correct letter is spread over A-D, not always B
    assert made[0]["messages"][1]["content"].endswith("two. Two cubes are listed.") and made[0]["qtype"] == "count"
    aok = GroundedGenerate(model="builtin:stub", style="aokvqa").process(Batch([qa_sample(0, "x")]))[0][0]
    assert aok["messages"][1]["content"] == "two" and aok["meta"]["rationales"] == ["Two cubes are listed."]


def test_model_cache_dedups_keys_and_survives_reopen(tmp_path):
    from synthloop.models.cache import ModelCache, cache_key

    calls = []

    def compute(indices):
        calls.append(list(indices))
        return [{"i": i} for i in indices]

    keys = [cache_key("m", "k", p, ["h"], t=0) for p in ("a", "b", "a")]
    assert keys[0] == keys[2] != keys[1] != cache_key("m", "k", "b", ["h"], t=1)
    cache = ModelCache(tmp_path)
    assert cache.cached(keys, compute) == [{"i": 0}, {"i": 1}, {"i": 0}] and calls == [[0, 1]]
    reopened = ModelCache(tmp_path)
    assert reopened.cached(keys, compute) == [{"i": 0}, {"i": 1}, {"i": 0}] and calls == [[0, 1]]
    off = ModelCache(None)
    off.cached(keys[:1], compute)
    off.cached(keys[:1], compute)
    assert calls[1:] == [[0], [0]]  # disabled: every call computes
