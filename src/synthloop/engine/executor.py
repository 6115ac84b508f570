"""The local executor: stages over shards in worker processes, global ops in between, the ledger.

Memory stays bounded: the main process holds at most two shards per worker in flight (stage 0
reads the input as a stream), workers hold one shard, and global ops load compact key columns.
Shards are written under fixed names and only what is missing is redone on resume, so the output
does not depend on the number of workers, on timing, or on where a previous run was killed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from multiprocessing import get_context
from multiprocessing.context import BaseContext
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn
from rich.text import Text

from synthloop.engine.inputs import iter_shards
from synthloop.engine.ledger import INPUT_OP, Ledger, OpCounts
from synthloop.engine.plan import Stage, plan_stages
from synthloop.engine.recipe import Recipe
from synthloop.engine.resolve import resolve_stage
from synthloop.engine.rundir import RunDir, read_json, write_json
from synthloop.engine.worker import ShardTask, init_worker, process_shard
from synthloop.models.cache import CACHE_DIR_ENV
from synthloop.ops.base import Op

CLI_MODULE = "synthloop.cli"


def run(recipe: Recipe, resume: bool = False, progress: bool = True) -> Ledger:
    """Run a recipe to the end (resuming earlier work in its run_dir with `resume`); the ledger.

    With `executor.workers > 1` the workers fork from a fork server that imports the main module,
    so a script that calls this must guard its entry point with `if __name__ == "__main__":` (as
    any multiprocessing code).
    """
    rundir = RunDir(recipe)
    rundir.start(recipe, resume)
    ops = recipe.build_ops()
    stages = plan_stages(ops)
    settings = recipe.executor
    with _model_cache(rundir), _Pool(settings.workers, ops, rundir, settings.batch_size) as pool, \
            _progress(progress) as bar:
        shard_count = _input_stage(pool, rundir, recipe, stages[0], bar)
        for stage in stages:
            if stage.index > 0:
                _later_stage(pool, rundir, stage, shard_count, bar)
            if stage.global_ops and not rundir.resolved_marker(stage.index).exists():
                resolve_stage(rundir, stage, ops, shard_count, recipe.seed)
    ledger = _ledger(rundir, ops, stages, shard_count)
    write_json(rundir.ledger_file, dict(ledger))
    return ledger


@contextmanager
def _model_cache(rundir: RunDir) -> Iterator[None]:
    """Model backends (in this process and in the workers it spawns) cache into RUN_DIR/cache."""
    before = os.environ.get(CACHE_DIR_ENV)
    os.environ[CACHE_DIR_ENV] = str(rundir.cache.resolve())
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(CACHE_DIR_ENV, None)
        else:
            os.environ[CACHE_DIR_ENV] = before


def _input_stage(pool: _Pool, rundir: RunDir, recipe: Recipe, stage: Stage, bar: Progress) -> int:
    task_id = bar.add_task(_label(stage, "read + ops"), total=None)
    if rundir.input_marker.exists():
        shard_count = read_json(rundir.input_marker)["shards"]
        if all(rundir.done_marker(0, j).exists() for j in range(shard_count)):
            bar.update(task_id, total=1, completed=1)
            return shard_count
    seen = 0

    def tasks() -> Iterator[ShardTask]:
        nonlocal seen
        for shard in iter_shards(recipe.inputs, recipe.executor.rows_per_shard):
            seen = shard.index + 1
            if rundir.done_marker(0, shard.index).exists():
                bar.advance(task_id, len(shard.items))
            else:
                yield ShardTask(stage, shard.index, shard.items, shard.validated)

    for result in pool.map_unordered(tasks()):
        bar.advance(task_id, result["read"])
    write_json(rundir.input_marker, {"shards": seen})
    bar.update(task_id, total=bar.tasks[task_id].completed)
    return seen


def _later_stage(pool: _Pool, rundir: RunDir, stage: Stage, shard_count: int, bar: Progress) -> None:
    previous = [read_json(rundir.done_marker(stage.index - 1, j))["kept"] for j in range(shard_count)]
    task_id = bar.add_task(_label(stage, "ops" if stage.sample_ops else "write"), total=sum(previous))
    todo = []
    for j in range(shard_count):
        if rundir.done_marker(stage.index, j).exists():
            bar.advance(task_id, previous[j])
        else:
            todo.append(ShardTask(stage, j))
    for result in pool.map_unordered(todo):
        bar.advance(task_id, result["read"])


def _label(stage: Stage, what: str) -> str:
    return f"stage {stage.index}: {what}"


def _ledger(rundir: RunDir, ops: list[Op], stages: list[Stage], shard_count: int) -> Ledger:
    counts = {-1: OpCounts(INPUT_OP), **{i: OpCounts(op.name) for i, op in enumerate(ops)}}
    output = 0
    for stage in stages:
        for j in range(shard_count):
            marker = read_json(rundir.done_marker(stage.index, j))
            for op_index, entry in marker["ops"].items():
                counts[int(op_index)].add(entry)
            if stage.final:
                output += marker["kept"]
        if stage.global_ops:
            for op_index, entry in read_json(rundir.resolved_marker(stage.index))["ops"].items():
                counts[int(op_index)].add(entry)
    return Ledger.from_counts([counts[i] for i in range(-1, len(ops))], output,
                              str(rundir.dropped), str(rundir.quarantine))


class _Pool:
    """Runs shard tasks in `workers` processes (in this process for 0 or 1), at most 2 per worker queued."""

    def __init__(self, workers: int, ops: list[Op], rundir: RunDir, batch_size: int):
        self.workers = workers
        self.executor: ProcessPoolExecutor | None = None
        # A decode thread only pays where a core is left over; with a worker per core it just contends.
        decode_ahead = max(workers, 1) < _usable_cores()
        if workers > 1:
            self.executor = ProcessPoolExecutor(workers, mp_context=_worker_context(ops), initializer=init_worker,
                                                initargs=(ops, rundir, batch_size, decode_ahead, True,
                                                          dict(os.environ)))
        else:
            init_worker(ops, rundir, batch_size, decode_ahead)

    def map_unordered(self, tasks: Iterable[ShardTask]) -> Iterator[dict[str, Any]]:
        if self.executor is None:
            yield from map(process_shard, tasks)
            return
        pending: set[Future] = set()
        for task in tasks:
            pending.add(self.executor.submit(process_shard, task))
            while len(pending) >= 2 * self.workers:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                yield from (future.result() for future in done)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            yield from (future.result() for future in done)

    def __enter__(self) -> _Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)


def _usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _worker_context(ops: list[Op]) -> BaseContext:
    """Workers fork from a fork server that imported the engine and the ops' modules once, instead
    of each importing them anew (a second or more of CPU per worker). Not plain fork: a child of
    this process could inherit locks held by its Arrow threads; the fork server is a fresh
    single-threaded process. pandas is preloaded because pyarrow imports it on its first array
    built from a list, in every process that does not have it yet. A worker runs the main module
    again (Python 3.11 ignores a "__main__" preload), so when that is the synthloop CLI, the CLI's
    imports are preloaded too."""
    cli = [CLI_MODULE] if CLI_MODULE in sys.modules else []
    context = get_context("forkserver")
    context.set_forkserver_preload(sorted({"synthloop.engine.worker", "pandas", *cli,
                                           *(type(op).__module__ for op in ops)}))
    return context


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{task.speed or 0:,.0f} samples/s")


def _progress(enabled: bool) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), _RateColumn(),
                    TimeElapsedColumn(), console=Console(stderr=True), disable=not enabled)
