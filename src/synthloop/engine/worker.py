"""One shard of one stage, in a worker process (or in the main process with one worker).

Reads the shard (raw input items for stage 0, the previous stage's part otherwise), applies the
removals the previous stage's global ops decided, runs the stage's per-sample ops batch by
batch on one `Batch` per batch (pixels decoded once for all of them), computes the compact keys
of the stage's global ops, and writes its parts; the done marker with its counts comes last.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from synthloop.engine.inputs import InputReject
from synthloop.engine.keys import candidate_table, key_table
from synthloop.engine.ledger import INPUT_OP, dropped_table, json_text, quarantine_table, survivor_of
from synthloop.engine.merge import apply_merges
from synthloop.engine.plan import Stage, decode_mode, decode_side
from synthloop.engine.rundir import RunDir, read_parquet, write_json
from synthloop.formats.parquet import write_table_atomic
from synthloop.ops.base import Batch, Dedup, Drop, Mapper, Op, Quarantine
from synthloop.sample import SampleError, from_table, new_sample, to_table, validate_sample


@dataclass(frozen=True)
class ShardTask:
    stage: Stage
    shard: int
    items: list[dict | InputReject] | None = None  # stage 0 only
    validated: bool = False  # stage 0: the input reader validated the samples already


class _Shard:
    """What one shard produces besides its kept samples."""

    def __init__(self, stage: Stage, ops: list[Op]):
        self.counts: dict[str, dict[str, int]] = {}
        self.dropped: list[tuple] = []
        self.quarantined: list[tuple] = []
        self.ops = ops
        self.stage = stage

    def count(self, op_index: int, field: str, n: int = 1) -> None:
        entry = self.counts.setdefault(str(op_index), {"in": 0, "kept": 0, "dropped": 0, "quarantined": 0, "added": 0})
        entry[field] += n

    def drop(self, sample: dict, op_index: int, reason: str, value: str, survivor: str | None) -> None:
        self.dropped.append((sample, op_index, self._name(op_index), reason, value, survivor))

    def quarantine(self, sample: dict, op_index: int, error: str) -> None:
        self.quarantined.append((sample, op_index, self._name(op_index), error))

    def _name(self, op_index: int) -> str:
        return INPUT_OP if op_index < 0 else self.ops[op_index].name


class Worker:
    """One process's share of a run: the ops (each set up once, when first needed), the run directory
    (whose `cache/` the model ops cache their calls in) and the batch size. `decode_ahead`: decode the
    next batch on a thread, in stages that start with a pixel op."""

    def __init__(self, ops: list[Op], rundir: RunDir, batch_size: int, decode_ahead: bool = False):
        self.ops, self.rundir, self.batch_size, self.decode_ahead = ops, rundir, batch_size, decode_ahead
        self.ready: set[int] = set()  # ops whose setup() ran in this process
        for op in ops:
            op.use_cache_dir(str(rundir.cache.resolve()))

    def process(self, task: ShardTask) -> dict[str, Any]:
        """Run one shard; returns (and stores as its done marker) the shard's counts."""
        return _process_shard(self, task)

    def setup(self, op_index: int, op: Op) -> None:
        if op_index not in self.ready:
            op.setup()
            self.ready.add(op_index)


def _process_shard(worker: Worker, task: ShardTask) -> dict[str, Any]:
    ops, rundir, stage, j = worker.ops, worker.rundir, task.stage, task.shard
    shard = _Shard(stage, ops)
    if stage.index == 0:
        read, samples = len(task.items or []), _validated(task.items or [], task.validated, shard)
    else:
        read, samples = _read_previous(rundir, stage.index, j, shard)
    stage_ops = [ops[i] for i in stage.sample_ops + stage.global_ops]
    side, mode = decode_side(stage_ops), decode_mode(stage_ops)
    kept: list[dict] = []
    keys: dict[int, list] = {i: [] for i in stage.global_ops}
    prefetch = worker.decode_ahead and bool(stage_ops) and stage_ops[0].pixels is not None
    for batch in _batches(samples, worker.batch_size, side, mode, prefetch):
        for op_index in stage.sample_ops:
            batch = _apply(worker, op_index, ops[op_index], batch, shard)
        for op_index in stage.global_ops:
            op = ops[op_index]
            keys[op_index].extend(_outcomes_or_keys(worker, op_index, op, batch) if isinstance(op, Dedup)
                                  else batch.samples)
        kept.extend(batch.samples)
    for op_index in stage.global_ops:
        op = ops[op_index]
        ids = [s["id"] for s in kept]
        if isinstance(op, Dedup):
            table = key_table(ids, keys[op_index], op.key_type())
        else:
            table = candidate_table(keys[op_index], op.count_tokens(keys[op_index]))
        write_table_atomic(table, rundir.keys_part(stage.index, op_index, j))
    if kept:
        write_table_atomic(to_table(kept), rundir.output_part(j) if stage.final else rundir.data_part(stage.index, j))
    if shard.dropped:
        write_table_atomic(dropped_table(shard.dropped), rundir.dropped_part(stage.index, j))
    if shard.quarantined:
        write_table_atomic(quarantine_table(shard.quarantined), rundir.quarantine_part(stage.index, j))
    result = {"shard": j, "read": read, "kept": len(kept), "ops": shard.counts}
    write_json(rundir.done_marker(stage.index, j), result)
    return result


def _batches(samples: list[dict], size: int, side: int | None, mode: str, prefetch: bool) -> Iterator[Batch]:
    """The shard's batches in order. With `prefetch` (the stage's first op reads every sample's
    pixels, and a core is left over), a thread decodes the next batch's images while the ops work
    on this one: Pillow releases the GIL while it decodes, so decoding hides behind a model's compute."""
    batches = (Batch(samples[start:start + size], None, side, mode) for start in range(0, len(samples), size))
    if not prefetch:
        yield from batches
        return
    with ThreadPoolExecutor(1, thread_name_prefix="decode") as decoder:
        ready = None
        for batch in batches:
            decoding = decoder.submit(batch.decode_all)
            if ready is not None:
                yield ready
            decoding.result()
            ready = batch
        if ready is not None:
            yield ready


def _validated(items: list[dict | InputReject], validated: bool, shard: _Shard) -> list[dict]:
    valid = []
    shard.count(-1, "in", len(items))
    for item in items:
        if isinstance(item, InputReject):
            shard.quarantine(new_sample(item.sample_id or "", [], meta={"record": item.record}), -1, item.error)
            shard.count(-1, "quarantined")
            continue
        try:
            valid.append(item if validated else validate_sample(item))
        except SampleError as err:
            shard.quarantine(item, -1, str(err))
            shard.count(-1, "quarantined")
    shard.count(-1, "kept", len(valid))
    return valid


def _read_previous(rundir: RunDir, k: int, j: int, shard: _Shard) -> tuple[int, list[dict]]:
    """Stage k-1's part of shard j (how many it had, and those left once the removals stage k-1's
    global ops decided are recorded here)."""
    part = rundir.data_part(k - 1, j)
    samples = from_table(read_parquet(part)) if part.exists() else []
    removed_part = rundir.removed_part(k - 1, j)
    if not removed_part.exists():
        return len(samples), samples
    removed = {row["id"]: row for row in read_parquet(removed_part).to_pylist()}
    kept = []
    for sample in samples:
        row = removed.get(sample["id"])
        if row is None:
            kept.append(sample)
        elif row["error"] is not None:
            shard.quarantine(sample, row["op_index"], row["error"])
        else:
            shard.drop(sample, row["op_index"], row["reason"], row["value"], row["survivor"])
    apply_merges(rundir, k - 1, j, kept)
    return len(samples), kept


def _apply(worker: Worker, op_index: int, op: Op, batch: Batch, shard: _Shard) -> Batch:
    """Run one per-sample op over a batch; record what it removed; a Batch of the survivors."""
    outcomes = _outcomes_or_keys(worker, op_index, op, batch)
    shard.count(op_index, "in", len(batch))
    survivors: list[dict] = []
    origins: list[int] = []  # for each survivor, its index in `batch` (-1: a sample the op made)
    for index, (sample, outcome) in enumerate(zip(batch.samples, outcomes, strict=True)):
        if isinstance(outcome, Drop):
            shard.count(op_index, "dropped")
            shard.drop(sample, op_index, outcome.reason, json_text(outcome.value), survivor_of(outcome))
        elif isinstance(outcome, Quarantine):
            shard.count(op_index, "quarantined")
            shard.quarantine(sample, op_index, outcome.error)
        elif not outcome:
            shard.count(op_index, "dropped")
            shard.drop(sample, op_index, f"{op.name} emitted no samples", "null", None)
        else:
            shard.count(op_index, "added", len(outcome) - 1)
            for produced in outcome:
                if isinstance(op, Mapper) and (error := _invalid(produced)):
                    shard.count(op_index, "quarantined")
                    shard.quarantine(produced, op_index, f"{op.name} produced an invalid sample: {error}")
                else:
                    shard.count(op_index, "kept")
                    survivors.append(produced)
                    origins.append(index if produced is sample else -1)
    return batch.narrow(survivors, origins)


def _outcomes_or_keys(worker: Worker, op_index: int, op: Op, batch: Batch) -> list[Any]:
    """`op.process(batch)` (or `op.key(batch)` for a dedup), one result per sample. An op that uses
    images passes text-only samples through untouched (kept; a dedup's key None: nothing to compare),
    and is set up only once it sees an image. If the batch call raises, each sample is retried alone
    and the ones that still fail are quarantined with the error; if every sample fails, the error is
    the op's, not the data's, and the run stops."""
    if op.uses_images() and not all(sample["images"] for sample in batch.samples):
        with_images = [i for i, sample in enumerate(batch.samples) if sample["images"]]
        results: list[Any] = [None if isinstance(op, Dedup) else [sample] for sample in batch.samples]
        if with_images:
            narrowed = batch.narrow([batch.samples[i] for i in with_images], with_images)
            for i, result in zip(with_images, _outcomes_or_keys(worker, op_index, op, narrowed), strict=True):
                results[i] = result
        return results
    worker.setup(op_index, op)
    method = op.key if isinstance(op, Dedup) else op.process
    try:
        results = method(batch)
    except Exception as batch_error:  # noqa: BLE001  (any op bug or bad sample; isolated below)
        results = []
        for index, sample in enumerate(batch.samples):
            single = batch.narrow([sample], [index])
            try:
                results.extend(method(single))
            except Exception as err:  # noqa: BLE001
                results.append(Quarantine(f"{type(err).__name__}: {err}"))
        if results and all(isinstance(r, Quarantine) for r in results) and len(results) > 1:
            raise batch_error
    if len(results) != len(batch):
        raise RuntimeError(f"op {op.name!r} returned {len(results)} results for a batch of {len(batch)} samples")
    return results


def _invalid(sample: dict) -> str | None:
    try:
        validate_sample(sample)
    except SampleError as err:
        return str(err)
    return None

