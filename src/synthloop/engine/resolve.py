"""Resolving a stage's global ops in the main process, holding what they remove, not a column per sample.

The stage's samples are rows: the rows of its key parts, shard after shard (every global op of a
stage writes its keys for the same samples in the same order). What reads every row runs on the
executor's `Workers` (`ops.workers`: tasks on Ray, this process locally), and only compact results
come back: the shards' row counts and the check that no id repeats (a `group` of the ids by hash);
for a `ColumnarDedup`, its key errors and the rows whose bucket hashes another row shares (a `group`
of the hashes), then those rows' ids. The dedup's survivor rule (first by id) runs here over those
rows alone (`PartKeys`). A `ClusteredDedup` (semantic dedup) gets the key parts and finds its key
errors and duplicates on the `Workers` itself, returning them with their survivors' rows and ids. So
the main process holds memory for the rows that may be duplicates and the rows removed, not for
every row. Other dedups and selectors get their key or candidate tables whole.

Each global op sees the samples the global ops before it kept: a dedup's quarantined keys are
quarantined, the dedup names the duplicates to drop, a `Selector` names the ids to keep (the
others are dropped as "not selected"). The removals are written per shard for the next stage to
apply (on the `Workers`), with the turns that merging dedups move into survivors (`engine.merge`),
and the counts go into the stage's resolved marker.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synthloop.engine.keys import PartKeys, concat_parts
from synthloop.engine.ledger import json_text, survivor_of
from synthloop.engine.merge import write_merges
from synthloop.engine.plan import Stage
from synthloop.engine.rundir import RunDir, read_parquet, write_json
from synthloop.ops.base import Dedup, Drop, Op, Selector
from synthloop.ops.dedup_resolve import ClusteredDedup, ColumnarDedup, KeyPart, duplicate_drop, sharing_rows
from synthloop.ops.workers import InThisProcess, Workers
from synthloop.storage import Location

NOT_SELECTED = "not selected"
AUDIT = ("reason", "value", "survivor", "error")  # the texts of a removal, as the removed parts hold them


@dataclass
class _Removals:
    """What the stage's global ops removed so far: the rows (sorted), and per op a table of its rows
    with the op's index and the removal's texts."""

    offsets: np.ndarray  # offsets[j]: first row of shard j; offsets[-1]: the row count
    rows: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    tables: list[pa.Table] = field(default_factory=list)
    merged_into: dict[int, int] = field(default_factory=dict)  # row -> survivor row, for merging dedups

    def add(self, op_index: int, rows: np.ndarray, texts: dict[str, list[str | None]]) -> None:
        self.rows = np.union1d(self.rows, rows)
        self.tables.append(pa.table({"row": pa.array(rows, pa.int64()),
                                     "op_index": pa.array(np.full(len(rows), op_index), pa.int32()),
                                     **{name: pa.array(texts.get(name, [None] * len(rows)), pa.string())
                                        for name in AUDIT}}))

    def add_drops(self, op_index: int, rows: np.ndarray, drops: list[Drop]) -> None:
        self.add(op_index, rows, {"reason": [d.reason for d in drops], "value": [json_text(d.value) for d in drops],
                                  "survivor": [survivor_of(d) for d in drops]})

    def in_shard(self, j: int) -> np.ndarray:
        """Shard j's removed rows, numbered within the shard."""
        lo, hi = np.searchsorted(self.rows, self.offsets[j:j + 2])
        return self.rows[lo:hi] - self.offsets[j]

    def kept(self) -> np.ndarray:
        """Per row: not removed (a column per row, for the ops that read their tables whole)."""
        kept = np.ones(int(self.offsets[-1]), bool)
        kept[self.rows] = False
        return kept


def resolve_stage(rundir: RunDir, stage: Stage, ops: list[Op], shard_count: int, seed: int,
                  workers: Workers | None = None) -> dict:
    """`workers`: where the parts of the resolves that read every row run (the executor's); None: here."""
    workers = workers or InThisProcess()
    counts = {str(i): {"in": 0, "kept": 0, "dropped": 0, "quarantined": 0, "added": 0} for i in stage.global_ops}
    if shard_count:
        id_parts = _parts(rundir, stage, stage.global_ops[0], shard_count)  # every key part holds the ids
        removals = _Removals(_stage_offsets(id_parts, workers))
        for op_index in stage.global_ops:
            counts[str(op_index)] = _resolve_op(ops[op_index], op_index, _parts(rundir, stage, op_index, shard_count),
                                                removals, seed, workers)
        _write_removals(rundir, stage.index, id_parts, removals, workers)
        write_merges(rundir, stage.index, removals.offsets, _merge_targets(removals))
    result = {"ops": counts}
    write_json(rundir.resolved_marker(stage.index), result)
    return result


def _resolve_op(op: Op, op_index: int, parts: list[Location], removals: _Removals, seed: int,
                workers: Workers) -> dict[str, int]:
    """Resolve one global op over the rows still kept; its counts."""
    seen = int(removals.offsets[-1]) - len(removals.rows)
    before = len(removals.rows)
    if isinstance(op, ColumnarDedup):
        quarantined = _resolve_columnar(op, op_index, parts, removals, workers)
    elif isinstance(op, ClusteredDedup):
        quarantined = _resolve_clustered(op, op_index, parts, removals, workers)
    elif isinstance(op, Dedup):
        quarantined = _resolve_dedup(op, op_index, _whole_table(parts), removals)
    elif isinstance(op, Selector):
        quarantined = _resolve_selector(op, op_index, _whole_table(parts), seed, removals)
    else:
        raise TypeError(f"op {op.name!r} is not a global op")
    dropped = len(removals.rows) - before - quarantined
    return {"in": seen, "kept": seen - dropped - quarantined, "dropped": dropped, "quarantined": quarantined,
            "added": 0}


def _parts(rundir: RunDir, stage: Stage, op_index: int, shard_count: int) -> list[Location]:
    return [rundir.keys_part(stage.index, op_index, j) for j in range(shard_count)]


def _whole_table(parts: list[Location]) -> pa.Table:
    """Every row of the parts, for the ops that read their key or candidate tables whole."""
    return concat_parts([read_parquet(part) for part in parts])


def _stage_offsets(parts: list[Location], workers: Workers) -> np.ndarray:
    """The shards' first rows (and the row count last), once no sample id is found twice."""
    counts, repeated = workers.group(parts, _split_ids, _first_repeated)
    if found := [sample_id for sample_id in repeated if sample_id is not None]:
        raise ValueError(f"sample id {min(found)!r} occurs more than once; dedup and selection need unique ids")
    return np.cumsum([0, *counts])


def _split_ids(part: Location, buckets: int) -> tuple[list[pa.Array], int]:
    """The part's ids cut by a hash of the id (the same in every process); note: the part's row count."""
    ids = read_parquet(part, ["id"])["id"].combine_chunks()
    if buckets == 1:
        return [ids], len(ids)
    bucket = np.array([int.from_bytes(hashlib.blake2b(i.encode(), digest_size=8).digest(), "little") % buckets
                       for i in ids.to_pylist()], np.int64)
    return [ids.filter(pa.array(bucket == b)) for b in range(buckets)], len(ids)


def _first_repeated(pieces: list[pa.Array]) -> str | None:
    """The least id that occurs more than once among the pieces, or None."""
    ids = pa.chunked_array(pieces, pa.string()).combine_chunks()
    in_order = ids.take(pc.sort_indices(ids))
    if len(in_order) < 2:
        return None
    repeated = np.flatnonzero(pc.equal(in_order[1:], in_order[:-1]).to_numpy(zero_copy_only=False))
    return in_order[int(repeated[0])].as_py() if len(repeated) else None


def _split_hashes(op: ColumnarDedup, item: KeyPart, buckets: int) -> tuple[list[tuple[np.ndarray, np.ndarray]],
                                                                            tuple[np.ndarray, list[str]]]:
    """The bucket hashes (`ColumnarDedup.bucket_hashes`) of the part's rows in play, as (hash, row) cut by
    hash; note: the rows whose key is an error, and the errors."""
    table = item.read(["key", "error"])
    in_play, failed = item.in_play(table)
    flat, rows = np.empty(0, np.uint64), np.empty(0, np.int64)
    if in_play.any():
        hashes = op.bucket_hashes(table["key"].combine_chunks().filter(pa.array(in_play)))
        flat, rows = hashes.reshape(-1), np.repeat(np.flatnonzero(in_play) + item.first_row, hashes.shape[1])
    bucket = flat % np.uint64(buckets)
    pieces = [(flat[bucket == b], rows[bucket == b]) for b in range(buckets)]
    return pieces, (failed + item.first_row, table["error"].take(pa.array(failed)).to_pylist())


def _sharing(pieces: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    return sharing_rows(np.concatenate([h for h, _ in pieces]), np.concatenate([r for _, r in pieces]))


def _ids_at(item: tuple[Location, np.ndarray]) -> pa.Array:
    part, rows = item
    return read_parquet(part, ["id"])["id"].combine_chunks().take(pa.array(rows))


def _resolve_columnar(op: ColumnarDedup, op_index: int, parts: list[Location], removals: _Removals,
                      workers: Workers) -> int:
    """Quarantine the rows whose key is an error; among the rows whose bucket hashes another row shares
    (only they can be duplicates or survivors), in id order, drop the duplicates."""
    offsets = removals.offsets
    errors, shared = workers.group(_key_parts(parts, removals), partial(_split_hashes, op), _sharing)
    failed = np.concatenate([np.empty(0, np.int64), *(rows for rows, _ in errors)])
    removals.add(op_index, failed, {"error": [text for _, texts in errors for text in texts]})
    candidates = np.unique(np.concatenate([np.empty(0, np.int64), *shared]))
    shards = np.searchsorted(offsets, candidates, side="right") - 1
    wanted = [(parts[j], candidates[shards == j] - offsets[j]) for j in np.unique(shards).tolist()]
    ids = pa.chunked_array(workers.map_calls(_ids_at, wanted), pa.string()).combine_chunks()
    by_id = pc.sort_indices(ids)
    rows, ids = candidates[by_id.to_numpy()], ids.take(by_id)  # the candidates in id order
    found = op.duplicates(PartKeys(parts, offsets, rows))
    survivors = ids.take(pa.array(found.survivors)).to_pylist()
    removals.add_drops(op_index, rows[found.rows], [duplicate_drop(s, d, op.merges()) for s, d in
                                                    zip(survivors, found.distances.tolist(), strict=True)])
    if op.merges():
        removals.merged_into.update(zip(rows[found.rows].tolist(), rows[found.survivors].tolist(), strict=True))
    return len(failed)


def _resolve_clustered(op: ClusteredDedup, op_index: int, parts: list[Location], removals: _Removals,
                       workers: Workers) -> int:
    """Quarantine the rows whose key is an error and drop the duplicates, as the op finds them on the
    `workers` (their keys never come here)."""
    found = op.find_in_parts(_key_parts(parts, removals), workers)
    removals.add(op_index, found.failed, {"error": found.errors})
    duplicates = found.duplicates
    removals.add_drops(op_index, duplicates.rows, [duplicate_drop(s, d, op.merges()) for s, d in
                                                   zip(found.survivor_ids, duplicates.distances.tolist(), strict=True)])
    if op.merges():
        removals.merged_into.update(zip(duplicates.rows.tolist(), duplicates.survivors.tolist(), strict=True))
    return len(found.failed)


def _key_parts(parts: list[Location], removals: _Removals) -> list[KeyPart]:
    return [KeyPart(part, int(removals.offsets[j]), removals.in_shard(j)) for j, part in enumerate(parts)]


def _resolve_dedup(op: Dedup, op_index: int, table: pa.Table, removals: _Removals) -> int:
    kept = removals.kept()
    failed = np.flatnonzero(kept & table["error"].is_valid().to_numpy(zero_copy_only=False))
    removals.add(op_index, failed, {"error": table["error"].take(pa.array(failed)).to_pylist()})
    usable = kept.copy()
    usable[failed] = False
    good = table.filter(pa.array(usable))
    drops = op.resolve(zip(good["id"].to_pylist(), good["key"].to_pylist(), strict=True))
    dropped_ids = sorted(drops)
    rows = np.flatnonzero(usable)
    dropped = rows[pc.index_in(pa.array(dropped_ids, pa.string()), good["id"]).to_numpy()]
    removals.add_drops(op_index, dropped, [drops[sample_id] for sample_id in dropped_ids])
    if op.merges():
        survivors = [survivor_of(drops[sample_id]) for sample_id in dropped_ids]
        survivor_rows = rows[pc.index_in(pa.array(survivors, pa.string()), good["id"]).to_numpy()]
        removals.merged_into.update(zip(dropped.tolist(), survivor_rows.tolist(), strict=True))
    return len(failed)


def _resolve_selector(op: Selector, op_index: int, table: pa.Table, seed: int, removals: _Removals) -> int:
    kept = removals.kept()
    candidates = table.filter(pa.array(kept))
    chosen = pa.array(op.select(candidates, seed), pa.string())
    dropped = np.flatnonzero(kept)[~pc.is_in(candidates["id"], chosen).to_numpy(zero_copy_only=False)]
    removals.add(op_index, dropped, {"reason": [NOT_SELECTED] * len(dropped), "value": ["null"] * len(dropped)})
    return 0


def _write_removals(rundir: RunDir, k: int, id_parts: list[Location], removals: _Removals,
                    workers: Workers) -> None:
    """Each shard's removed samples, sorted by id, written by the `Workers` (which read the ids)."""
    table = concat_parts(removals.tables) if removals.tables else None
    if table is None or not table.num_rows:
        return
    table = table.take(pc.sort_indices(table["row"]))
    rows = table["row"].to_numpy()
    shards = np.searchsorted(removals.offsets, rows, side="right") - 1
    jobs = []
    for j in np.unique(shards).tolist():
        lo, hi = np.searchsorted(shards, [j, j + 1])
        jobs.append((id_parts[j], rundir.removed_part(k, j), table.slice(lo, hi - lo), int(removals.offsets[j])))
    workers.map_calls(_write_removed_part, jobs)


def _write_removed_part(job: tuple[Location, Location, pa.Table, int]) -> None:
    id_part, removed_part, removed, first_row = job
    ids = _ids_at((id_part, removed["row"].to_numpy() - first_row))
    table = pa.table({"id": ids, "op_index": removed["op_index"], **{name: removed[name] for name in AUDIT}})
    removed_part.write_parquet(table.take(pc.sort_indices(table["id"])))


def _merge_targets(removals: _Removals) -> dict[int, int]:
    """Merged row -> the kept row that absorbs it (following merges of merged survivors); a row whose
    survivor a later op removed goes with it."""
    targets = {}
    for row, survivor in removals.merged_into.items():
        while survivor in removals.merged_into:
            survivor = removals.merged_into[survivor]
        if not _contains(removals.rows, survivor):
            targets[row] = survivor
    return targets


def _contains(sorted_rows: np.ndarray, row: int) -> bool:
    at = int(np.searchsorted(sorted_rows, row))
    return at < len(sorted_rows) and int(sorted_rows[at]) == row
