"""`caption`: (re-)caption each sample's first image with a generator model, several captions per
image if asked. Modes: `replace` (the new caption samples replace the input), `add` (they follow
it), `keep` (the input is kept and the captions go to `meta["captions"]`)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from synthloop.models.protocols import Generator
from synthloop.ops.base import Batch, Mapper, Outcome, Quarantine, register
from synthloop.ops.model_op import ModelParams, image_requests
from synthloop.sample import IMAGE_TOKEN, derive_id, new_sample


@register
class Caption(ModelParams, Mapper):
    name: ClassVar[str] = "caption"
    protocol: ClassVar[type] = Generator
    pixels: ClassVar[int | None] = 0
    prompt: str = Field("Describe the image briefly.", description="instruction given with the image")
    n: int = Field(1, description="captions per image")
    mode: Literal["replace", "add", "keep"] = Field("add", description="replace the input, follow it, or go to meta")
    max_new_tokens: int = Field(48, description="most tokens generated per reply")
    temperature: float = Field(0.0, description="sampling temperature; > 0 with n > 1 gives different captions")
    seed: int = Field(0, description="seed; caption k uses seed + k")

    def process(self, batch: Batch) -> list[Outcome]:
        user = f"{IMAGE_TOKEN}\n{self.prompt}"
        rows, requests, hashes, failed = image_requests(batch, lambda i, s: [{"role": "user", "content": user}])
        expanded = [(row, k) for row in rows for k in range(self.n)]
        position = {row: p for p, row in enumerate(rows)}
        generations = self.generate_cached([requests[position[row]] for row, _ in expanded],
                                           [hashes[position[row]] for row, _ in expanded],
                                           self.max_new_tokens, self.temperature,
                                           [self.seed + k for _, k in expanded])
        captions: dict[int, list[str]] = {row: [] for row in rows}
        for (row, _), generation in zip(expanded, generations, strict=True):
            captions[row].append(generation.text.strip())
        outcomes: list[Outcome] = []
        for i, sample in enumerate(batch.samples):
            if i in failed:
                outcomes.append(failed[i])
            elif not any(captions[i]):
                outcomes.append(Quarantine("caption: the model returned only empty captions"))
            else:
                outcomes.append(self._apply(sample, [c for c in captions[i] if c]))
        return outcomes

    def _apply(self, sample: dict, captions: list[str]) -> list[dict]:
        if self.mode == "keep":
            sample["meta"]["captions"] = captions
            return [sample]
        made = [new_sample(derive_id(sample["id"], self.name, k),
                           [{"role": "user", "content": f"{IMAGE_TOKEN}\n{self.prompt}"},
                            {"role": "assistant", "content": caption}],
                           images=sample["images"][:1], task="caption", qtype="caption", source=sample["source"],
                           meta={"parent": sample["id"], "generator": self.model})
                for k, caption in enumerate(captions)]
        return made if self.mode == "replace" else [sample, *made]
