"""The toy world as the loop's source: generated pools (world scenes + easy-vqa) and the `world`
synthesizer, registered in `synthloop.loop.sources` when this module is imported."""

from __future__ import annotations

from pathlib import Path

from synthloop.formats.parquet import write_samples
from synthloop.lab import world
from synthloop.loop import sources
from synthloop.loop.recipe import PoolSpec, SynthesizerSpec


def generate_pool(spec: PoolSpec, seed: int, benchmark: bool) -> list[dict]:
    """World samples + easy-vqa samples of a pool spec; a benchmark is drawn from seeds no pool uses."""
    if benchmark:
        return world.benchmark(spec.world, seed=seed, mix=spec.mix, image_size=spec.image_size)
    samples = []
    if spec.world:
        samples = world.generate(spec.world, mix=spec.mix, seed=seed, image_size=spec.image_size, turns=spec.turns)
    if spec.easy_vqa:
        samples += world.packaged.easy_vqa(n=spec.easy_vqa, seed=seed)
    return samples


class WorldSynthesizer:
    """Targeted synthesis by rendering new world scenes of the asked qtypes (`loop.synthesize.Synthesizer`)."""

    def __init__(self, spec: SynthesizerSpec):
        self.qtypes = world.QTYPES
        self.spec = spec

    def write_input(self, counts: dict[str, int], seed: int, folder: Path) -> None:
        def rendered():
            for qtype, n in sorted(counts.items()):
                if n > 0:  # one seed per (round seed, qtype): both arms render the same scenes for a qtype
                    yield from world.generate(n, mix={qtype: 1.0}, seed=seed * 100 + world.QTYPES.index(qtype),
                                              image_size=self.spec.image_size, difficulty=self.spec.difficulty,
                                              turns=self.spec.turns)

        write_samples(rendered(), folder)

    def ops(self, counts: dict[str, int], bad_cases: dict[str, list[dict]]) -> list[dict]:
        return []


sources.register("world", generate_pool, WorldSynthesizer)
