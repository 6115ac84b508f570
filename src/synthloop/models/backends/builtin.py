"""`builtin:PATH` backend: a TinyVLM checkpoint trained by synthloop (`synthloop.train`).

The checkpoint model already batches `generate`, `score_options` and `p_yes`; this wrapper adds
`next_token_logprobs`, which `synthloop serve` needs to answer `top_logprobs`.
"""

from __future__ import annotations

from pathlib import Path

import torch

from synthloop.models.backends import ModelUri
from synthloop.models.protocols import Generation, ModelError, Request


class BuiltinModel:
    """Generator, OptionScorer, Judge and NextTokenScorer over a TinyVLM checkpoint (CPU)."""

    def __init__(self, path: str | Path, device: str = "auto", batch_size: int | None = None):
        from synthloop.models.tinyvlm.checkpoint import load_checkpoint

        try:
            self.model = load_checkpoint(path)
        except (FileNotFoundError, ValueError) as err:
            raise ModelError(f"builtin:{path}: {err}") from None
        if batch_size:
            self.model.batch_size = batch_size
        self.path = str(path)

    def generate(self, requests: list[Request], max_new_tokens: int = 64, temperature: float = 0.0,
                 seed: int = 0) -> list[Generation]:
        return self.model.generate(requests, max_new_tokens=max_new_tokens, temperature=temperature, seed=seed)

    def score_options(self, requests: list[Request], options: list[list[str]]) -> list[list[float]]:
        return self.model.score_options(requests, options)

    def p_yes(self, requests: list[Request]) -> list[float]:
        return self.model.p_yes(requests)

    @torch.no_grad()
    def next_token_logprobs(self, requests: list[Request], top_k: int = 20) -> list[list[tuple[str, float]]]:
        tops: list[list[tuple[str, float]]] = []
        batch_size = self.model.batch_size
        for start in range(0, len(requests), batch_size):
            probs = self.model.next_token_probs(requests[start : start + batch_size])
            values, ids = probs.clamp_min(1e-30).log().topk(min(top_k, probs.shape[-1]), dim=-1)
            for row_ids, row_values in zip(ids.tolist(), values.tolist(), strict=True):
                tops.append([(self.model.tokenizer.decode([i]), v) for i, v in zip(row_ids, row_values, strict=True)])
        return tops


def load(uri: ModelUri, device: str, batch_size: int | None = None) -> BuiltinModel:
    return BuiltinModel(uri.target, device=device, batch_size=batch_size)
