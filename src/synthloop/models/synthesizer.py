"""A model generator as the loop's synthesizer (`synthloop.loop.synthesize.Synthesizer`): targeted
synthesis with `grounded_generate` (bad cases as in-context examples, as MLLM-DataEngine does) or
`genixer_generate`, optionally followed by the `judge` filter, instead of the world renderer."""

from __future__ import annotations

import numpy as np

from synthloop.ops.base import Batch, Op
from synthloop.ops.filters.judge import Judge
from synthloop.ops.mappers.genixer_generate import GenixerGenerate
from synthloop.ops.mappers.grounded_generate import GroundedGenerate


class ModelSynthesizer:
    """Generates about `counts[qtype]` samples per qtype from parent images drawn from `pool`.

    `generator` is a `grounded_generate` or `genixer_generate` op (its qtype and bad cases are set
    per call); `judge`, when given, keeps only samples inside its band. Parents are drawn with the
    round's seed, so both arms of a loop and a resumed round see the same images.
    """

    def __init__(self, pool: list[dict], generator: GroundedGenerate | GenixerGenerate, judge: Judge | None = None,
                 attempts: int = 2, qtypes: tuple[str, ...] | None = None):
        if not pool:
            raise ValueError("ModelSynthesizer needs a non-empty pool of parent image samples")
        self.pool = pool
        self.generator = generator
        self.judge = judge
        self.attempts = attempts  # parents drawn per wanted sample: generation or judging drops some
        # What it can make: any qtype the pool has, unless told (grounded generation takes any qtype).
        self.qtypes = qtypes or tuple(sorted({s["qtype"] for s in pool if s["qtype"]}))

    def _generator_for(self, qtype: str, bad_cases: dict[str, list[dict]]) -> Op:
        if isinstance(self.generator, GroundedGenerate):
            return self.generator.model_copy(update={"qtype": qtype, "bad_cases": {qtype: bad_cases.get(qtype, [])}})
        return self.generator

    def synthesize(self, counts: dict[str, int], seed: int, bad_cases: dict[str, list[dict]]) -> list[dict]:
        rng = np.random.default_rng(seed)
        made: list[dict] = []
        for qtype, n in sorted(counts.items()):
            if n <= 0:
                continue
            picks = rng.choice(len(self.pool), size=n * self.attempts, replace=n * self.attempts > len(self.pool))
            parents = [_copy(self.pool[int(k)], f"r{seed}_{qtype}_{j}") for j, k in enumerate(picks)]
            outcomes = self._generator_for(qtype, bad_cases).process(Batch(parents))
            samples = [s for outcome in outcomes if isinstance(outcome, list) for s in outcome]
            if self.judge is not None and samples:
                judged = self.judge.process(Batch(samples))
                samples = [s for outcome in judged if isinstance(outcome, list) for s in outcome]
            made.extend(samples[:n])
        return made


def _copy(sample: dict, new_id: str) -> dict:
    """A parent under a round-unique id (derived ids stay unique across draws of one image)."""
    return {**sample, "id": f"{sample['id']}@{new_id}", "meta": dict(sample["meta"]), "scores": dict(sample["scores"])}
