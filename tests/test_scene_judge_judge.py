"""The scene judge through the `judge` op: world conversations with the world's wrong-answer noise, judged
on ground-truth perception, score exactly 1 when clean and 0 when wrong; what it cannot judge scores 0.5."""

from __future__ import annotations

from PIL import Image

from synthloop.lab import world
from synthloop.lab.scene_judge.judge import SceneJudge, _key, world_image
from synthloop.lab.scene_judge.seen import from_annotation
from synthloop.models import uri
from synthloop.models.protocols import Request
from synthloop.ops.base import Batch
from synthloop.ops.filters.judge import Judge

QTYPES = ("exist", "count", "color", "shape", "position", "relation", "size", "ocr")
FOLLOW_UPS = ("exist", "count", "color", "shape", "position", "relation", "size")
STUB_URI = "py:scene_judge_ground_truth:load"  # a stub registered in-process


class GroundTruth:
    """Perception and word reader that look the scene up by the image (the judge never sees `meta`)."""

    def __init__(self, samples: list[dict]):
        from synthloop.images import decode

        self.meta = {_key(decode(s["images"][0]["bytes"])): s["meta"] for s in samples}
        self.calls: list[int] = []

    def perceive(self, images):
        self.calls.append(len(images))
        return [from_annotation(self.meta[_key(image)]) for image in images]

    def p_word(self, images, words):
        return [float(w in {x["text"] for x in self.meta[_key(image)]["words"]}) for image, w in zip(images, words)]


def test_judge_op_scores_clean_conversations_1_wrong_ones_0_and_abstains_elsewhere(monkeypatch):
    clean = world.generate(48, mix=dict.fromkeys(QTYPES, 1.0), seed=7_300_010, turns=4, follow_up_qtypes=FOLLOW_UPS)
    samples = world.noise.inject(clean, rate=0.5, seed=3, kinds=("wrong_answer",))
    easy = world.packaged.easy_vqa(n=60, seed=0)
    truth = GroundTruth(clean)
    monkeypatch.setitem(uri._loaded, (STUB_URI, "auto"), SceneJudge(truth, truth))
    batch = samples + easy
    Judge(model=STUB_URI, low=0.5, high=1.0, turns="all").process(Batch(batch))
    wrong = [s for s in samples if s["meta"].get("noise") == "wrong_answer"]
    assert len(wrong) == 24
    assert {s["scores"]["judge_p"] for s in wrong} == {0.0}
    assert {s["scores"]["judge_p"] for s in samples if s not in wrong} == {1.0}
    assert {s["scores"]["judge_p"] for s in easy} == {0.5}  # some parse ("What color is the circle?") but
    assert truth.calls == [len(samples)]  # are no world images; each world image perceived once


def test_prompts_other_than_the_judge_ops_are_neutral():
    image = Image.new("RGB", (64, 64), "white")
    judge = SceneJudge(GroundTruth([]), None)
    requests = [Request([image], [{"role": "user", "content": "<image>\nIs there a red circle in the image?"}]),
                Request([image], [{"role": "user", "content": "<image>\nHere is a question and answer pair. Is "
                                   "'Question: What is this? Answer: a cat' true for this image?\nPlease answer "
                                   "this question with Yes or No."}])]
    assert judge.p_yes(requests) == [0.5, 0.5]
    assert world_image(image) and not world_image(Image.new("RGB", (64, 64), (0, 0, 255)).resize((32, 32)).rotate(7))
