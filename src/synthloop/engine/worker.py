"""One shard of one stage, in a worker process (or in the main process with one worker).

Reads the shard (raw input items for stage 0, the previous stage's part otherwise), applies the
removals the previous stage's global ops decided, runs the stage's per-sample ops batch by
batch on one `Batch` per batch (pixels decoded once for all of them), computes the compact keys
of the stage's global ops, and writes its parts; the done marker with its counts comes last.
An executor may run a stage's ops in several processes (`Worker.run` on a `ShardState`): the
batches and the order of the audit rows stay those of one pass, so the files are the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from synthloop.engine.download import download_shard
from synthloop.engine.inputs import InputReject
from synthloop.engine.keys import candidate_table, key_table
from synthloop.engine.ledger import INPUT_OP, dropped_table, json_text, quarantine_table, survivor_of
from synthloop.engine.merge import apply_merges
from synthloop.engine.plan import Stage, decode_mode, decode_side
from synthloop.engine.rundir import RunDir, read_parquet, write_json
from synthloop.ops.base import Batch, Dedup, Drop, Mapper, Op, Quarantine
from synthloop.sample import SampleError, from_table, new_sample, to_table, validate_sample


@dataclass(frozen=True)
class ShardTask:
    stage: Stage
    shard: int
    items: list[dict | InputReject] | None = None  # stage 0 only
    validated: bool = False  # stage 0: the input reader validated the samples already
    url_input: Any = None  # stage 0 of a URL input: its InputSpec (the items are records to download)
    retry_failed: bool = False  # stage 0 of a URL input: fetch again the URLs that failed before


class _Shard:
    """What one shard produces besides its kept samples. Removals are kept in the order one pass makes
    them (batch by batch, op by op), whether the stage's ops ran in one process or in several."""

    def __init__(self, stage: Stage, op_names: list[str]):
        self.counts: dict[str, dict[str, int]] = {}
        self.dropped: list[tuple[tuple[int, int], tuple]] = []  # ((batch, op index), row); (-1, -1) before batches
        self.quarantined: list[tuple[tuple[int, int], tuple]] = []
        self.op_names = op_names
        self.stage = stage
        self.batch = -1  # the batch the ops are working on

    def count(self, op_index: int, field: str, n: int = 1) -> None:
        entry = self.counts.setdefault(str(op_index), {"in": 0, "kept": 0, "dropped": 0, "quarantined": 0, "added": 0})
        entry[field] += n

    def drop(self, sample: dict, op_index: int, reason: str, value: str, survivor: str | None) -> None:
        self.dropped.append((self._at(op_index), (sample, op_index, self._name(op_index), reason, value, survivor)))

    def quarantine(self, sample: dict, op_index: int, error: str) -> None:
        self.quarantined.append((self._at(op_index), (sample, op_index, self._name(op_index), error)))

    def _at(self, op_index: int) -> tuple[int, int]:
        return (self.batch, op_index) if self.batch >= 0 else (-1, -1)

    def _name(self, op_index: int) -> str:
        return INPUT_OP if op_index < 0 else self.op_names[op_index]


def _in_pass_order(rows: list[tuple[tuple[int, int], tuple]]) -> list[tuple]:
    return [row for _, row in sorted(rows, key=lambda entry: entry[0])]  # stable: ties keep their order


@dataclass
class ShardState:
    """A shard between the ops of its stage: its batches (sample lists, as the first op saw them cut,
    narrowed by each op since), the global ops' keys so far and its accounting. Executors that run a
    stage's ops in several processes pass it from one to the next."""

    stage: Stage
    shard: int
    read: int
    batches: list[list[dict]]
    record: _Shard
    keys: dict[int, list] = field(default_factory=dict)


class Worker:
    """One process's share of a run: the ops (each set up once, when first needed), the run directory
    (whose `cache/` the model ops cache their calls in) and the batch size. `decode_ahead`: decode the
    next batch on a thread, in stages that start with a pixel op."""

    def __init__(self, ops: list[Op], rundir: RunDir, batch_size: int, decode_ahead: bool = False):
        self.ops, self.rundir, self.batch_size, self.decode_ahead = ops, rundir, batch_size, decode_ahead
        self.ready: set[int] = set()  # ops whose setup() ran in this process

    def process(self, task: ShardTask) -> dict[str, Any]:
        """Run one shard through its stage; returns (and stores as its done marker) the shard's counts."""
        return self.run(task, task.stage.sample_ops + task.stage.global_ops, last=True)

    def run(self, work: ShardTask | ShardState, op_indices: list[int], last: bool) -> ShardState | dict[str, Any]:
        """Run some of a stage's ops (in stage order: sample ops, then the global ops' keys) on a shard,
        starting from its task or from the state earlier ops left; with `last`, write the shard's parts
        and return its counts. Model ops cache their calls per shard (`models.cache`): a redone shard
        finds what it computed before."""
        state = work if isinstance(work, ShardState) else _begin(self, work)
        for op in self.ops:
            op.use_cache_dir(str(self.rundir.cache_part(state.stage.index, state.shard)))
        _run_ops(self, state, op_indices)
        return _finish(self, state) if last else state

    def setup(self, op_index: int, op: Op) -> None:
        if op_index not in self.ready:
            op.setup()
            self.ready.add(op_index)


def _begin(worker: Worker, task: ShardTask) -> ShardState:
    """Read the shard: raw input items for stage 0 (downloaded first for a URL input, then validated), the
    previous stage's part otherwise (less the removals its global ops decided); cut it into batches."""
    record = _Shard(task.stage, [op.name for op in worker.ops])
    if task.stage.index == 0:
        items = task.items or []
        if task.url_input is not None:
            spec = task.url_input
            items = download_shard(items, spec.download, spec.hash_type, worker.rundir.download_part(task.shard),
                                   task.retry_failed)
        read, samples = len(items), _validated(items, task.validated, record)
    else:
        read, samples = _read_previous(worker.rundir, task.stage.index, task.shard, record)
    size = worker.batch_size
    batches = [samples[start:start + size] for start in range(0, len(samples), size)]
    return ShardState(task.stage, task.shard, read, batches, record, {i: [] for i in task.stage.global_ops})


def _run_ops(worker: Worker, state: ShardState, op_indices: list[int]) -> None:
    """Run `op_indices` over each batch (pixels decoded at the stage's side and mode, once per batch for
    all of them): sample ops narrow the batch, global ops add their keys."""
    ops, stage, record = worker.ops, state.stage, state.record
    stage_ops = [ops[i] for i in stage.sample_ops + stage.global_ops]
    side, mode = decode_side(stage_ops), decode_mode(stage_ops)
    prefetch = worker.decode_ahead and bool(op_indices) and ops[op_indices[0]].pixels is not None
    for number, batch in enumerate(_batches(state.batches, side, mode, prefetch)):
        record.batch = number
        for op_index in op_indices:
            op = ops[op_index]
            if op_index in state.keys:
                state.keys[op_index].extend(_outcomes_or_keys(worker, op_index, op, batch) if isinstance(op, Dedup)
                                            else batch.samples)
            else:
                batch = _apply(worker, op_index, op, batch, record)
        state.batches[number] = batch.samples
    record.batch = -1


def _finish(worker: Worker, state: ShardState) -> dict[str, Any]:
    """Write the shard's parts (keys, kept samples, audit rows); its done marker with its counts last."""
    rundir, stage, j, record = worker.rundir, state.stage, state.shard, state.record
    kept = [sample for batch in state.batches for sample in batch]
    for op_index, keys in state.keys.items():
        op = worker.ops[op_index]
        if isinstance(op, Dedup):
            table = key_table([s["id"] for s in kept], keys, op.key_type())
        else:
            table = candidate_table(keys, op.count_tokens(keys))
        rundir.keys_part(stage.index, op_index, j).write_parquet(table)
    if kept:
        (rundir.output_part(j) if stage.final else rundir.data_part(stage.index, j)).write_parquet(to_table(kept))
    if record.dropped:
        rundir.dropped_part(stage.index, j).write_parquet(dropped_table(_in_pass_order(record.dropped)))
    if record.quarantined:
        rundir.quarantine_part(stage.index, j).write_parquet(quarantine_table(_in_pass_order(record.quarantined)))
    result = {"shard": j, "read": state.read, "kept": len(kept), "ops": record.counts}
    write_json(rundir.done_marker(stage.index, j), result)
    return result


def _batches(batches: list[list[dict]], side: int | None, mode: str, prefetch: bool) -> Iterator[Batch]:
    """The shard's batches in order. With `prefetch` (the first op reads every sample's pixels, and a
    core is left over), a thread decodes the next batch's images while the ops work on this one:
    Pillow releases the GIL while it decodes, so decoding hides behind a model's compute."""
    made = (Batch(samples, None, side, mode) for samples in batches)
    if not prefetch:
        yield from made
        return
    with ThreadPoolExecutor(1, thread_name_prefix="decode") as decoder:
        ready = None
        for batch in made:
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

