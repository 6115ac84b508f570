"""Where generated pools and synthesized samples come from: registries that a world fills.

The loop knows Parquet pools and model synthesizers; a recipe's generated pools (`seed_pool:
{world: N}`) and its `world` synthesizer come from whoever registers them. The toy world does so when
`synthloop.lab.loop_world` is imported (the CLI and the demo import it), so the loop never imports the lab.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from synthloop.loop.recipe import PoolSpec, SynthesizerSpec
    from synthloop.loop.synthesize import Synthesizer

PoolGenerator = Callable[["PoolSpec", int, bool], list[dict]]  # (spec, seed, benchmark) -> samples
SynthesizerFactory = Callable[["SynthesizerSpec"], "Synthesizer"]

_POOLS: dict[str, PoolGenerator] = {}
_SYNTHESIZERS: dict[str, SynthesizerFactory] = {}
HINT = "the toy world's registers when synthloop.lab.loop_world is imported"


def register(kind: str, pools: PoolGenerator, synthesizer: SynthesizerFactory) -> None:
    """Make `kind` generate a recipe's generated pools and be its synthesizer of that kind."""
    _POOLS[kind] = pools
    _SYNTHESIZERS[kind] = synthesizer


def generated_pool(spec: PoolSpec, seed: int, benchmark: bool) -> list[dict]:
    if "world" not in _POOLS:
        raise LookupError(f"no generator of world pools is registered ({HINT})")
    return _POOLS["world"](spec, seed, benchmark)


def synthesizer_of_kind(spec: SynthesizerSpec) -> Synthesizer:
    if spec.kind not in _SYNTHESIZERS:
        raise LookupError(f"no synthesizer of kind {spec.kind!r} is registered ({HINT})")
    return _SYNTHESIZERS[spec.kind](spec)
