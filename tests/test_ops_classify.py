"""`classify`: task and qtype from DataOptim id prefixes, the known prompt templates and answer shapes."""

import pytest

from synthloop.ops import op_class
from synthloop.ops.base import Batch
from synthloop.sample import new_sample


def _sample(sample_id: str, *turns: str, task: str = "") -> dict:
    roles = ["user", "assistant"] * len(turns)
    messages = [{"role": r, "content": t} for r, t in zip(roles, turns, strict=False)]
    messages[0]["content"] = "<image>\n" + messages[0]["content"]
    return new_sample(sample_id, messages, [{"bytes": None, "path": "x.jpg"}], task=task)


CASES = [  # (id, question, answer) -> (task, qtype, source)
    (("coco_1", "Give a brief summary of what you see.", "A dog on a couch."), ("caption", "caption", "coco")),
    (("x_2", "Briefly describe the content of the image.", "Two cats."), ("caption", "caption", "")),
    (("vqav2_3", "Is the man happy? Answer the question directly with a short sentence or phrase.", "Yes"),
     ("vqa", "yes_no", "vqav2")),
    (("000123", "How many birds are there?\nAnswer the question using a single word or phrase.", "3"),
     ("vqa", "number", "")),
    (("aokvqa_4", "Choose the correct option for the following question: What is it?\nA. cat\nB. dog", "B"),
     ("mcvqa", "option", "aokvqa")),
    (("llava_5", "What is it?\nA. cat\nB. dog\nAnswer with the option's letter from the given choices directly.",
      "A"), ("mcvqa", "option", "llava")),
    (("refcoco_6", "Where is the man in red in the image <image>? answer in [x0,y0,x1,y1] format.",
      "[0.120,0.300,0.450,0.900]"), ("rec", "box", "refcoco")),
    (("refcoco_7", "Please generate a distinguishing description for the region [0.100,0.200,0.300,0.400].",
      "the man in red"), ("reg", "text", "refcoco")),
    (("llava_8", "Please provide the bounding box coordinate of the region this sentence describes: red car.",
      "[0.1, 0.2, 0.5, 0.6]"), ("rec", "box", "llava")),
    (("ref3rec_12", "The dog on the left.", "[0.1, 0.2, 0.5, 0.6]"), ("rec", "box", "ref3rec")),
    (("gqa_9", "What colour is the car?", "red"), ("vqa", "text", "gqa")),
    (("llava_10", "What do you see?", "A long scene.", "Why?", "Because."), ("dialogue", "text", "llava")),
    (("user_11", "What is shown?", "A street with many shops."), ("vqa", "text", "")),
]


@pytest.mark.parametrize(("turns", "expected"), CASES)
def test_classify_sets_task_qtype_and_source(turns, expected):
    sample = _sample(*turns)
    (out,) = op_class("classify")().process(Batch([sample]))
    assert (out[0]["task"], out[0]["qtype"], out[0]["source"]) == expected


def test_classify_keeps_a_task_the_sample_has_unless_told():
    sample = _sample("vqav2_1", "Is it red? Answer the question directly with a short sentence or phrase.", "no",
                     task="world")
    assert op_class("classify")().process(Batch([dict(sample)]))[0][0]["task"] == "world"
    assert op_class("classify")(overwrite=True).process(Batch([sample]))[0][0]["task"] == "vqa"
