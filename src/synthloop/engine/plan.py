"""Cutting a recipe's ops into stages.

A stage is a run of per-sample ops (mappers, filters) followed by the global ops (dedups,
selectors) that come right after them. Workers run a stage's per-sample ops shard by shard and,
in the same pass, compute the compact keys of its global ops; the main process then resolves
the global ops one after the other (each sees only what the ones before it kept), and the next
stage applies those removals as it reads its shards. Consecutive global ops therefore share one
pass over the data: their keys depend on the sample alone, never on what other ops removed.
If the recipe ends with global ops, a last stage with no ops applies their removals.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from synthloop.ops.base import Dedup, Op, Selector


@dataclass
class Stage:
    index: int
    sample_ops: list[int] = field(default_factory=list)  # indices into the recipe's ops
    global_ops: list[int] = field(default_factory=list)

    @property
    def final(self) -> bool:
        return not self.global_ops


def is_global(op: Op) -> bool:
    return isinstance(op, (Dedup, Selector))


def plan_stages(ops: list[Op]) -> list[Stage]:
    stages = [Stage(0)]
    for index, op in enumerate(ops):
        if is_global(op):
            stages[-1].global_ops.append(index)
        else:
            if stages[-1].global_ops:
                stages.append(Stage(len(stages)))
            stages[-1].sample_ops.append(index)
    if stages[-1].global_ops:
        stages.append(Stage(len(stages)))
    return stages


def decode_side(ops: list[Op]) -> int | None:
    """`max_side` for a stage's Batch: the largest thumbnail any op asks for; None = full resolution."""
    wanted = [op.pixels for op in ops if op.pixels is not None]
    if not wanted or 0 in wanted:
        return None
    return max(wanted)


def decode_mode(ops: list[Op]) -> str:
    """The stage Batch's pixel mode: "L" when every op that reads pixels needs grey levels only."""
    readers = [op for op in ops if op.pixels is not None]
    return "L" if readers and all(op.grey for op in readers) else "RGB"
