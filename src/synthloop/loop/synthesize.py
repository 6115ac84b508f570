"""The synthesizer interface the loop calls, and its world-renderer implementation.

A synthesizer turns `{qtype: n}` into about that many new canonical samples. It also receives
the current bad cases per qtype, which a model generator uses as in-context examples (as
MLLM-DataEngine does); the world renderer ignores them and renders fresh scenes of each type.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class Synthesizer(Protocol):
    qtypes: tuple[str, ...]  # the question types it can make

    def synthesize(self, counts: dict[str, int], seed: int, bad_cases: dict[str, list[dict]]) -> list[dict]: ...


class WorldSynthesizer:
    """Targeted synthesis by rendering new `synthloop.lab.world` scenes of the asked qtypes."""

    def __init__(self, image_size: int = 64, difficulty: dict | None = None, turns: int = 1):
        from synthloop.lab import world

        self.qtypes = world.QTYPES
        self.image_size = image_size
        self.difficulty = difficulty
        self.turns = turns

    def synthesize(self, counts: dict[str, int], seed: int, bad_cases: dict[str, list[dict]]) -> list[dict]:
        from synthloop.lab import world

        samples: list[dict] = []
        for qtype, n in sorted(counts.items()):
            if n <= 0:
                continue
            # One seed per (round seed, qtype): both arms render the same scenes for a qtype they share.
            qtype_seed = seed * 100 + world.QTYPES.index(qtype)
            samples.extend(world.generate(n, mix={qtype: 1.0}, seed=qtype_seed, image_size=self.image_size,
                                          difficulty=self.difficulty, turns=self.turns))
        return samples
