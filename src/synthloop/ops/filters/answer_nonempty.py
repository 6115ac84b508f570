"""`answer_nonempty`: every sample needs an answer, and no answer may be blank."""

from __future__ import annotations

from typing import ClassVar

from synthloop.ops.base import Batch, Drop, Filter, register
from synthloop.sample import IMAGE_TOKEN


@register
class AnswerNonempty(Filter):
    """Drops samples with no assistant turn, or with an assistant turn that is blank once
    whitespace and `<image>` placeholders are removed."""

    name: ClassVar[str] = "answer_nonempty"

    def compute(self, batch: Batch) -> list[tuple[int, int]]:
        values = []
        for sample in batch.samples:
            answers = [m["content"] for m in sample["messages"] if m["role"] == "assistant"]
            blank = sum(1 for a in answers if not a.replace(IMAGE_TOKEN, "").strip())
            values.append((len(answers), blank))
        return values

    def decide(self, value: tuple[int, int]) -> Drop | None:
        answers, blank = value
        if answers == 0:
            return Drop("no assistant turn", value=0)
        if blank:
            return Drop(f"{blank} of {answers} assistant turn(s) blank", value=blank)
        return None
