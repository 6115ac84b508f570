"""`rewrite`: paraphrase questions, answers or captions with a text LLM (SmolLM2 offline), to add
linguistic variety without changing meaning. Replaces the text, or adds a rewritten copy."""

from __future__ import annotations

import copy
from typing import ClassVar, Literal

from pydantic import Field

from synthloop.models.protocols import Request, Generator
from synthloop.ops.base import Batch, Mapper, Outcome, Quarantine, register
from synthloop.ops.model_op import ModelParams
from synthloop.sample import IMAGE_TOKEN, derive_id

PROMPTS = {
    "question": "Rewrite this question with different words but the same meaning. Reply with the question only.\n{text}",
    "answer": "Rewrite this answer with different words but the same meaning. Reply with the answer only.\n{text}",
}


def clean(text: str) -> str:
    """First line of the reply without wrapping quotes or a leading label."""
    line = text.strip().splitlines()[0].strip() if text.strip() else ""
    for label in ("Question:", "Answer:", "Rewritten:", "Paraphrase:"):
        if line.startswith(label):
            line = line[len(label):].strip()
    return line.strip("\"'` ")


@register
class Rewrite(ModelParams, Mapper):
    """`target` "question" rewrites the first user turn, "answer" the first assistant turn (captions)."""

    name: ClassVar[str] = "rewrite"
    protocol: ClassVar[type] = Generator
    model: str = Field("pkg:smollm2", description="text LLM URI")
    target: Literal["question", "answer"] = Field("question", description="rewrite the question or the answer")
    mode: Literal["replace", "add"] = Field("replace", description="replace the text or add a rewritten copy")
    max_new_tokens: int = Field(48, description="most tokens generated per reply")
    temperature: float = Field(0.0, description="sampling temperature; 0 is greedy")
    seed: int = Field(0, description="random seed for sampling")

    def _turn(self, sample: dict) -> int | None:
        role = "user" if self.target == "question" else "assistant"
        return next((k for k, m in enumerate(sample["messages"]) if m["role"] == role), None)

    def process(self, batch: Batch) -> list[Outcome]:
        turns = [self._turn(s) for s in batch.samples]
        rows = [i for i, t in enumerate(turns) if t is not None]
        texts = [batch.samples[i]["messages"][turns[i]]["content"].replace(IMAGE_TOKEN, "").strip() for i in rows]
        requests = [Request([], [{"role": "user", "content": PROMPTS[self.target].format(text=t)}]) for t in texts]
        generations = self.generate_cached(requests, [[] for _ in rows], self.max_new_tokens, self.temperature,
                                           [self.seed] * len(rows))
        outcomes: list[Outcome] = [Quarantine(f"rewrite: sample has no {self.target} turn")] * len(batch)
        for i, generation in zip(rows, generations, strict=True):
            sample, new_text = batch.samples[i], clean(generation.text)
            if not new_text:
                outcomes[i] = Quarantine(f"rewrite: empty paraphrase from {self.model}")
                continue
            turn = sample["messages"][turns[i]]
            prefix = f"{IMAGE_TOKEN}\n" * turn["content"].count(IMAGE_TOKEN)
            rewritten = copy.deepcopy(sample) if self.mode == "add" else sample
            rewritten["messages"][turns[i]]["content"] = prefix + new_text
            if self.mode == "add":
                rewritten["id"] = derive_id(sample["id"], self.name)
                rewritten["meta"]["parent"] = sample["id"]
            outcomes[i] = [sample, rewritten] if self.mode == "add" else [rewritten]
        return outcomes
