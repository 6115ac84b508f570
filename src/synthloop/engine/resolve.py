"""Resolving a stage's global ops in the main process, over compact key columns only.

Each global op sees the samples the global ops before it kept: a dedup's quarantined keys are
quarantined, `Dedup.resolve` names the duplicates to drop, a `Selector` names the ids to keep
(the others are dropped as "not selected"). The removals are written per shard for the next
stage to apply, and the counts go into the stage's resolved marker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from synthloop.engine.keys import concat_parts
from synthloop.engine.ledger import json_text, survivor_of
from synthloop.engine.plan import Stage
from synthloop.engine.rundir import RunDir, write_json, write_parquet
from synthloop.ops.base import Dedup, Op, Selector

NOT_SELECTED = "not selected"


@dataclass(frozen=True)
class Removal:
    shard: int
    op_index: int
    reason: str | None = None
    value: str | None = None
    survivor: str | None = None
    error: str | None = None


def resolve_stage(rundir: RunDir, stage: Stage, ops: list[Op], shard_count: int, seed: int) -> dict[str, Any]:
    removed: dict[str, Removal] = {}
    counts: dict[str, dict[str, int]] = {}
    for position, op_index in enumerate(stage.global_ops):
        op = ops[op_index]
        if shard_count == 0:
            counts[str(op_index)] = {"in": 0, "kept": 0, "dropped": 0, "quarantined": 0, "added": 0}
            continue
        table = _keys(rundir, stage.index, op_index, shard_count)
        if position == 0:
            _check_unique_ids(table)
        if removed:
            table = table.filter(pc.invert(pc.is_in(table["id"], pa.array(list(removed), pa.string()))))
        before = len(removed)
        if isinstance(op, Dedup):
            quarantined = _resolve_dedup(op, op_index, table, removed)
        elif isinstance(op, Selector):
            quarantined = _resolve_selector(op, op_index, table, seed, removed)
        else:
            raise TypeError(f"op {op.name!r} is not a global op")
        dropped = len(removed) - before - quarantined
        counts[str(op_index)] = {"in": table.num_rows, "kept": table.num_rows - dropped - quarantined,
                                 "dropped": dropped, "quarantined": quarantined, "added": 0}
    _write_removals(rundir, stage.index, removed)
    result = {"ops": counts}
    write_json(rundir.resolved_marker(stage.index), result)
    return result


def _keys(rundir: RunDir, k: int, op_index: int, shard_count: int) -> pa.Table:
    parts = []
    for j in range(shard_count):
        part = pq.read_table(rundir.keys_part(k, op_index, j))
        parts.append(part.append_column("shard", pa.array(np.full(part.num_rows, j, np.int32))))
    return concat_parts(parts)


def _check_unique_ids(table: pa.Table) -> None:
    if pc.count_distinct(table["id"]).as_py() == table.num_rows:
        return
    counts = pc.value_counts(table["id"])
    repeated = counts.filter(pc.greater(counts.field("counts"), 1))[0]["values"].as_py()
    raise ValueError(f"sample id {repeated!r} occurs more than once; dedup and selection need unique ids")


def _resolve_dedup(op: Dedup, op_index: int, table: pa.Table, removed: dict[str, Removal]) -> int:
    failed = pc.is_valid(table["error"])
    bad = table.filter(failed)
    for sample_id, shard, error in zip(bad["id"].to_pylist(), bad["shard"].to_pylist(), bad["error"].to_pylist(),
                                       strict=True):
        removed[sample_id] = Removal(shard, op_index, error=error)
    good = table.filter(pc.invert(failed))
    drops = op.resolve(zip(good["id"].to_pylist(), good["key"].to_pylist(), strict=True))
    dropped_ids = sorted(drops)
    rows = pc.index_in(pa.array(dropped_ids, pa.string()), good["id"])
    for sample_id, shard in zip(dropped_ids, good["shard"].take(rows).to_pylist(), strict=True):
        drop = drops[sample_id]
        removed[sample_id] = Removal(shard, op_index, drop.reason, json_text(drop.value), survivor_of(drop))
    return bad.num_rows


def _resolve_selector(op: Selector, op_index: int, table: pa.Table, seed: int, removed: dict[str, Removal]) -> int:
    kept = set(op.select(table.drop_columns(["shard"]), seed))
    for sample_id, shard in zip(table["id"].to_pylist(), table["shard"].to_pylist(), strict=True):
        if sample_id not in kept:
            removed[sample_id] = Removal(shard, op_index, NOT_SELECTED, "null")
    return 0


def _write_removals(rundir: RunDir, k: int, removed: dict[str, Removal]) -> None:
    by_shard: dict[int, list[tuple[str, Removal]]] = {}
    for sample_id, removal in removed.items():
        by_shard.setdefault(removal.shard, []).append((sample_id, removal))
    for shard, rows in by_shard.items():
        rows.sort(key=lambda row: row[0])
        write_parquet(pa.table({
            "id": pa.array([r[0] for r in rows], pa.string()),
            "op_index": pa.array([r[1].op_index for r in rows], pa.int32()),
            "reason": pa.array([r[1].reason for r in rows], pa.string()),
            "value": pa.array([r[1].value for r in rows], pa.string()),
            "survivor": pa.array([r[1].survivor for r in rows], pa.string()),
            "error": pa.array([r[1].error for r in rows], pa.string()),
        }), rundir.removed_part(k, shard))
