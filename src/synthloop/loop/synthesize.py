"""Synthesizers: what a round writes for the engine, and the ops the engine runs over it.

A synthesizer turns `{qtype: n}` into an engine input and a list of ops, so that everything it
generates passes through an engine run and ends in that run's ledger: kept, dropped (with the
judge's score or the cap's reason) or quarantined (with the generator's error). Bad cases per
qtype reach a model generator as in-context examples (as MLLM-DataEngine does).

- A world's synthesizer renders new samples of each asked qtype, with no ops of its own (the toy
  world's registers in `loop.sources`).
- `ModelSynthesizer` draws parent images from the seed pool (`attempts` per wanted sample, as
  generation and judging drop some) and runs a generator op (`grounded_generate` targets each
  parent's qtype, set to the asked one; or `genixer_generate`), the `judge` filter when given, then a
  `stratified` cap of `n` per qtype: what the cap leaves out is in the ledger, not silently cut.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np

from synthloop.formats.parquet import write_samples
from synthloop.loop.pool import Pool


class Synthesizer(Protocol):
    qtypes: tuple[str, ...]  # the question types it can make

    def write_input(self, counts: dict[str, int], seed: int, folder: Path) -> None:
        """Write the engine input of a round (samples, or the parents of generations) to `folder`."""

    def ops(self, counts: dict[str, int], bad_cases: dict[str, list[dict]]) -> list[dict[str, dict[str, Any]]]:
        """Engine ops that come before the recipe's synthesis ops."""


class ModelSynthesizer:
    """A generator op (`{name: params}`) over parent images of `pool`, judged by `judge` params when given.

    Parents are drawn with the round's seed, so both arms of a loop and a resumed round see the same
    images. `qtypes`: what it can make; by default every qtype the pool has.
    """

    def __init__(self, pool: Pool, generator: dict[str, dict[str, Any]], judge: dict[str, Any] | None = None,
                 attempts: int = 2, qtypes: tuple[str, ...] | None = None):
        if not len(pool):
            raise ValueError("a model synthesizer needs a non-empty pool of parent image samples")
        self.pool = pool
        ((self.generator, self.params),) = generator.items()
        self.judge = judge
        self.attempts = attempts
        self.qtypes = qtypes or tuple(sorted({q for q in pool.column("qtype") if q}))

    def write_input(self, counts: dict[str, int], seed: int, folder: Path) -> None:
        rng = np.random.default_rng(seed)
        parents = []
        for qtype, n in sorted(counts.items()):
            if n > 0:
                picks = rng.choice(len(self.pool), size=n * self.attempts, replace=n * self.attempts > len(self.pool))
                parents += [_parent(sample, qtype, f"r{seed}_{qtype}_{j}")
                            for j, sample in enumerate(self.pool.take(picks.tolist()))]
        write_samples(parents, folder)

    def ops(self, counts: dict[str, int], bad_cases: dict[str, list[dict]]) -> list[dict[str, dict[str, Any]]]:
        params = dict(self.params)
        if self.generator == "grounded_generate":
            params.update(qtype="", bad_cases={q: bad_cases.get(q, []) for q in sorted(counts)})
        cap = {"stratified": {"by": "qtype", "proportions": {q: float(n) for q, n in counts.items() if n > 0},
                              "budget": sum(counts.values())}}
        return [{self.generator: params}, *([{"judge": self.judge}] if self.judge is not None else []), cap]


def _parent(sample: dict, qtype: str, draw: str) -> dict:
    """A parent under a round-unique id (derived ids stay unique across draws of one image), asking for
    `qtype` (a generator without a target qtype of its own generates the parent's)."""
    return {**sample, "id": f"{sample['id']}@{draw}", "qtype": qtype}
