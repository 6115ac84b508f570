"""`py:MODULE:FACTORY` models: a judge written in Python runs through the `judge` op like any backend."""

from __future__ import annotations

import pytest
from PIL import Image

from synthloop.images import encode_png
from synthloop.models.protocols import ModelError
from synthloop.models.uri import load_fresh, parse_uri
from synthloop.ops.base import Batch, Drop
from synthloop.ops.filters.judge import Judge
from synthloop.sample import new_sample

JUDGE_MODULE = '''
class RedJudge:
    """P(Yes) 0.9 when the stated answer is 'red', else 0.1; records the device it was loaded for."""

    def __init__(self, device):
        self.device = device

    def p_yes(self, requests):
        return [0.9 if "Answer: red'" in r.messages[-1]["content"] else 0.1 for r in requests]


def load(device):
    return RedJudge(device)


not_callable = 3
'''


@pytest.fixture
def judge_module(tmp_path, monkeypatch) -> str:
    (tmp_path / "red_judge_module.py").write_text(JUDGE_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    return "red_judge_module"


def sample(i: int, answer: str) -> dict:
    png = encode_png(Image.new("RGB", (32, 32), (200, 30, 30)))
    return new_sample(f"s{i}", [{"role": "user", "content": "<image>\nWhat colour is the cube?"},
                                {"role": "assistant", "content": answer}], [{"bytes": png, "path": None}],
                      task="vqa", source="t")


def test_py_model_judges_through_the_judge_op(judge_module):
    samples = [sample(0, "red"), sample(1, "blue")]
    outcomes = Judge(model=f"py:{judge_module}:load", low=0.5, high=1.0).process(Batch(samples))
    assert outcomes[0] == [samples[0]] and isinstance(outcomes[1], Drop)
    assert [s["scores"]["judge_p"] for s in samples] == [0.9, 0.1]
    assert load_fresh(f"py:{judge_module}:load", device="cpu").device == "cpu"


def test_py_uri_errors_are_one_line(judge_module):
    with pytest.raises(ValueError, match="expected py:<module>:<factory>"):
        parse_uri(f"py:{judge_module}")
    with pytest.raises(ModelError, match="cannot import module 'no_such_module_here'"):
        load_fresh("py:no_such_module_here:load")
    with pytest.raises(ModelError, match="has no callable 'not_callable'"):
        load_fresh(f"py:{judge_module}:not_callable")
