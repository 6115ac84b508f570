"""`judge`: Genixer's Fuyu filter. A judge model is asked whether the sample's question-answer pair
is true of the image; the probability of "Yes" comes from its full next-token distribution (not a
sampled reply), and samples inside a keep band survive (Genixer kept [0.5, 0.7] best: confident
pairs are too easy, unlikely ones wrong). With `turns: all` every question-answer turn of a conversation is
judged on its own and the sample scores its least likely turn: one wrong reply makes the sample wrong."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from synthloop.models.protocols import Judge as JudgeProtocol
from synthloop.ops.base import Batch, Drop, Filter, Quarantine, register
from synthloop.ops.model_op import ModelParams, image_requests, qa_turns
from synthloop.sample import IMAGE_TOKEN

JUDGE_PROMPT = ("Here is a question and answer pair. Is 'Question: {question} Answer: {answer}' true for this "
                "image?\nPlease answer this question with Yes or No.")


@register
class Judge(ModelParams, Filter):
    """Scores `judge_p` = P(Yes) / (P(Yes) + P(No)); keeps `low <= judge_p <= high`."""

    name: ClassVar[str] = "judge"
    protocol: ClassVar[type] = JudgeProtocol
    pixels: ClassVar[int | None] = 0
    low: float = Field(0.5, description="lowest P(Yes) kept")
    high: float = Field(0.7, description="highest P(Yes) kept")
    turns: Literal["first", "all"] = Field("first", description="judge the first question-answer turn, or all "
                                           "turns (the sample scores its least likely one)")

    @model_validator(mode="after")
    def _band(self) -> Judge:
        if not 0.0 <= self.low <= self.high <= 1.0:
            raise ValueError(f"keep band needs 0 <= low <= high <= 1, got [{self.low}, {self.high}]")
        return self

    @property
    def score_key(self) -> str:
        return "judge_p"

    def compute(self, batch: Batch) -> list[float | Quarantine]:
        missing: dict[int, Quarantine] = {}
        turns_of: dict[int, list[tuple[str, str]]] = {}

        def build(i: int, sample: dict) -> list[dict] | None:
            turns = qa_turns(sample)
            if not turns:
                missing[i] = Quarantine("judge: no user question followed by an assistant answer")
                return None
            turns_of[i] = turns if self.turns == "all" else turns[:1]
            return []

        rows, per_sample, hashes, failed = image_requests(batch, build)
        failed.update(missing)
        owners, requests, request_hashes = [], [], []
        for row, request, digests in zip(rows, per_sample, hashes, strict=True):
            for question, answer in turns_of[row]:
                prompt = JUDGE_PROMPT.format(question=question, answer=answer)
                owners.append(row)
                requests.append(replace(request, messages=[{"role": "user", "content": f"{IMAGE_TOKEN}\n{prompt}"}]))
                request_hashes.append(digests)

        def compute(indices: list[int]) -> list[float]:
            return [float(p) for p in self.loaded.p_yes([requests[i] for i in indices])]

        values = self.cached_call("p_yes", [r.messages for r in requests], request_hashes, compute)
        scores: dict[int, list[float]] = {}
        for row, value in zip(owners, values, strict=True):
            scores.setdefault(row, []).append(value)
        out: list[float | Quarantine] = [failed.get(i, Quarantine("judge: not scored")) for i in range(len(batch))]
        for row, values_of_row in scores.items():
            nan = any(math.isnan(v) for v in values_of_row)
            out[row] = Quarantine("judge: model gave neither Yes nor No") if nan else min(values_of_row)
        return out

    def decide(self, value: float) -> Drop | None:
        if value < self.low:
            return Drop(f"judge_p below {self.low}", value)
        if value > self.high:
            return Drop(f"judge_p above {self.high}", value)
        return None
