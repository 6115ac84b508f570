"""Resolving a stage's global ops in the main process, over compact key columns only.

The stage's samples are rows: the rows of its key parts, shard after shard (every global op of a
stage writes its keys for the same samples in the same order). Per row the main process holds the
id (an Arrow column), the row's rank by id and which op removed it; a `ColumnarDedup` reads its
keys from the parts as it needs them, so memory stays at tens of bytes per sample plus the op's
own compact arrays. Other dedups and selectors get their key or candidate tables whole.

Each global op sees the samples the global ops before it kept: a dedup's quarantined keys are
quarantined, the dedup names the duplicates to drop, a `Selector` names the ids to keep (the
others are dropped as "not selected"). The removals are written per shard for the next stage to
apply, with the turns that merging dedups move into survivors (`engine.merge`), and the counts go
into the stage's resolved marker.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synthloop.engine.executors.base import Executor
from synthloop.engine.keys import PartKeys, concat_parts
from synthloop.engine.ledger import json_text, survivor_of
from synthloop.engine.merge import write_merges
from synthloop.engine.plan import Stage
from synthloop.engine.rundir import RunDir, read_parquet, write_json
from synthloop.ops.base import Dedup, Op, Selector
from synthloop.ops.dedup_resolve import ClusteredDedup, ColumnarDedup, Duplicates, duplicate_drop
from synthloop.storage import Location

NOT_SELECTED = "not selected"


@dataclass
class _Rows:
    """The stage's rows and what the global ops decided about them so far."""

    ids: pa.Array
    offsets: np.ndarray  # offsets[j]: first row of shard j; offsets[-1]: the row count
    order: np.ndarray = field(init=False)  # rows in id order
    removed_by: np.ndarray = field(init=False)  # the op index that removed each row, -1 while kept
    duplicates: list[Duplicates] = field(default_factory=list)  # a ColumnarDedup's drops, in rows
    # row -> (reason, value, survivor, error) for every other removal (quarantines, selectors, other dedups)
    other: dict[int, tuple[str | None, str | None, str | None, str | None]] = field(default_factory=dict)
    merged_into: dict[int, int] = field(default_factory=dict)  # row -> survivor row, for merging dedups

    def __post_init__(self) -> None:
        self.order = pc.sort_indices(self.ids).to_numpy().astype(np.int64)
        self.removed_by = np.full(len(self.ids), -1, np.int32)

    def remove(self, rows: np.ndarray, op_index: int) -> None:
        self.removed_by[rows] = op_index

    def shard_of(self, rows: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.offsets, rows, side="right") - 1


def resolve_stage(rundir: RunDir, stage: Stage, ops: list[Op], shard_count: int, seed: int,
                  executor: Executor | None = None) -> dict:
    """`executor`: where the parts of the resolves that can leave this process run (the samples whose
    bucket hashes another key shares: `Executor.sharing_rows`; a `ClusteredDedup`'s k-means steps and the
    comparisons within its clusters: `Executor.place`, `Executor.map_calls`); None: all here."""
    counts = {str(i): {"in": 0, "kept": 0, "dropped": 0, "quarantined": 0, "added": 0} for i in stage.global_ops}
    if shard_count:
        rows = _stage_rows(rundir, stage, shard_count)
        for op_index in stage.global_ops:
            counts[str(op_index)] = _resolve_op(ops[op_index], op_index, _parts(rundir, stage, op_index, shard_count),
                                                rows, seed, executor)
        _write_removals(rundir, stage.index, rows)
        write_merges(rundir, stage.index, rows.ids, rows.offsets, _merge_targets(rows))
    result = {"ops": counts}
    write_json(rundir.resolved_marker(stage.index), result)
    return result


def _resolve_op(op: Op, op_index: int, parts: list[Location], rows: _Rows, seed: int,
                executor: Executor | None) -> dict[str, int]:
    """Resolve one global op over the rows still kept; its counts."""
    active = rows.removed_by < 0
    before = int((~active).sum())
    if isinstance(op, ColumnarDedup):
        quarantined = _resolve_columnar(op, op_index, parts, rows, active, executor)
    elif isinstance(op, Dedup):
        quarantined = _resolve_dedup(op, op_index, _table(parts), rows, active, executor)
    elif isinstance(op, Selector):
        quarantined = _resolve_selector(op, op_index, _table(parts), seed, rows, active)
    else:
        raise TypeError(f"op {op.name!r} is not a global op")
    seen = int(active.sum())
    dropped = int((rows.removed_by >= 0).sum()) - before - quarantined
    return {"in": seen, "kept": seen - dropped - quarantined, "dropped": dropped, "quarantined": quarantined,
            "added": 0}


def _parts(rundir: RunDir, stage: Stage, op_index: int, shard_count: int) -> list[Location]:
    return [rundir.keys_part(stage.index, op_index, j) for j in range(shard_count)]


def _stage_rows(rundir: RunDir, stage: Stage, shard_count: int) -> _Rows:
    parts = _parts(rundir, stage, stage.global_ops[0], shard_count)
    ids = [read_parquet(part, ["id"])["id"] for part in parts]
    offsets = np.cumsum([0, *(len(column) for column in ids)])
    rows = _Rows(pa.chunked_array([c for column in ids for c in column.chunks], pa.string()).combine_chunks(),
                 offsets)
    in_order = rows.ids.take(pa.array(rows.order))
    if len(in_order) > 1:
        repeated = np.flatnonzero(pc.equal(in_order[1:], in_order[:-1]).to_numpy(zero_copy_only=False))
        if len(repeated):
            raise ValueError(f"sample id {in_order[int(repeated[0])].as_py()!r} occurs more than once; "
                             "dedup and selection need unique ids")
    return rows


def _table(parts: list[Location]) -> pa.Table:
    return concat_parts([read_parquet(part) for part in parts])


def _quarantine_errors(op_index: int, errors: pa.Array, rows: _Rows, active: np.ndarray) -> np.ndarray:
    """Quarantine the active rows whose key is an error; returns those rows."""
    failed = np.flatnonzero(errors.is_valid().to_numpy(zero_copy_only=False) & active)
    for row, error in zip(failed.tolist(), errors.take(pa.array(failed)).to_pylist(), strict=True):
        rows.other[row] = (None, None, None, error)
    rows.remove(failed, op_index)
    return failed


def _resolve_columnar(op: ColumnarDedup, op_index: int, parts: list[Location], rows: _Rows, active: np.ndarray,
                      executor: Executor | None) -> int:
    errors, has_key = [], []
    for part in parts:
        table = read_parquet(part, ["key", "error"])
        errors.extend(table["error"].chunks)
        has_key.append(table["key"].is_valid().to_numpy(zero_copy_only=False))
    failed = _quarantine_errors(op_index, pa.chunked_array(errors, pa.string()).combine_chunks(), rows, active)
    in_play = active & np.concatenate(has_key)
    in_play[failed] = False
    positions = rows.order[in_play[rows.order]]  # rows in play, in id order
    if executor and (shared := executor.sharing_rows(op, PartKeys(parts, rows.offsets, positions))) is not None:
        positions = positions[shared]  # only these can be duplicates or survivors (ColumnarDedup.bucket_hashes)
    found = op.duplicates(PartKeys(parts, rows.offsets, positions))
    dropped, survivors = positions[found.rows], positions[found.survivors]
    rows.remove(dropped, op_index)
    rows.duplicates.append(Duplicates(dropped, survivors, found.distances))
    if op.merges():
        rows.merged_into.update(zip(dropped.tolist(), survivors.tolist(), strict=True))
    return len(failed)


def _resolve_dedup(op: Dedup, op_index: int, table: pa.Table, rows: _Rows, active: np.ndarray,
                   executor: Executor | None) -> int:
    failed = _quarantine_errors(op_index, table["error"].combine_chunks(), rows, active)
    usable = active.copy()
    usable[failed] = False
    good = table.filter(pa.array(usable))
    keys = zip(good["id"].to_pylist(), good["key"].to_pylist(), strict=True)
    drops = op.resolve(keys, executor) if isinstance(op, ClusteredDedup) else op.resolve(keys)
    dropped_ids = sorted(drops)
    dropped = np.flatnonzero(usable)[pc.index_in(pa.array(dropped_ids, pa.string()), good["id"]).to_numpy()]
    for sample_id, row in zip(dropped_ids, dropped.tolist(), strict=True):
        drop = drops[sample_id]
        rows.other[row] = (drop.reason, json_text(drop.value), survivor_of(drop), None)
    rows.remove(dropped, op_index)
    if op.merges():
        survivors = [rows.other[row][2] for row in dropped.tolist()]
        survivor_rows = np.flatnonzero(usable)[pc.index_in(pa.array(survivors, pa.string()), good["id"]).to_numpy()]
        rows.merged_into.update(zip(dropped.tolist(), survivor_rows.tolist(), strict=True))
    return len(failed)


def _resolve_selector(op: Selector, op_index: int, table: pa.Table, seed: int, rows: _Rows,
                      active: np.ndarray) -> int:
    candidates = table.filter(pa.array(active))
    kept = pa.array(op.select(candidates, seed), pa.string())
    dropped = np.flatnonzero(active)[~pc.is_in(candidates["id"], kept).to_numpy(zero_copy_only=False)]
    for row in dropped.tolist():
        rows.other[row] = (NOT_SELECTED, "null", None, None)
    rows.remove(dropped, op_index)
    return 0


def _write_removals(rundir: RunDir, k: int, rows: _Rows) -> None:
    removed = np.flatnonzero(rows.removed_by >= 0)
    duplicates = Duplicates.concat(rows.duplicates)
    by_row = np.argsort(duplicates.rows)
    dup_rows, dup_survivors, dup_distances = (duplicates.rows[by_row], duplicates.survivors[by_row],
                                              duplicates.distances[by_row])
    shards = rows.shard_of(removed)
    for shard in np.unique(shards).tolist():
        shard_rows = removed[shards == shard]
        ids = rows.ids.take(pa.array(shard_rows)).to_pylist()
        reason, value, survivor, error = [], [], [], []
        for row, found in zip(shard_rows.tolist(), np.searchsorted(dup_rows, shard_rows).tolist(), strict=True):
            if found < len(dup_rows) and dup_rows[found] == row:
                drop = duplicate_drop(rows.ids[int(dup_survivors[found])].as_py(), float(dup_distances[found]),
                                      row in rows.merged_into)
                texts = (drop.reason, json_text(drop.value), survivor_of(drop), None)
            else:
                texts = rows.other[row]
            for column, text in zip((reason, value, survivor, error), texts, strict=True):
                column.append(text)
        table = pa.table({
            "id": pa.array(ids, pa.string()),
            "op_index": pa.array(rows.removed_by[shard_rows], pa.int32()),
            "reason": pa.array(reason, pa.string()),
            "value": pa.array(value, pa.string()),
            "survivor": pa.array(survivor, pa.string()),
            "error": pa.array(error, pa.string()),
        })
        rundir.removed_part(k, shard).write_parquet(table.take(pc.sort_indices(table["id"])))


def _merge_targets(rows: _Rows) -> dict[int, int]:
    """Merged row -> the kept row that absorbs it (following merges of merged survivors); a row whose
    survivor a later op removed goes with it."""
    targets = {}
    for row, survivor in rows.merged_into.items():
        while survivor in rows.merged_into:
            survivor = rows.merged_into[survivor]
        if rows.removed_by[survivor] < 0:
            targets[row] = survivor
    return targets
