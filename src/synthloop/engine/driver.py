"""The driver: a recipe's stages over shards on its executor (`engine.executors`), the global ops
resolved here between stages over their compact keys, and the ledger.

Memory stays bounded: workers hold one shard and global ops load compact key columns. Shards are
written under fixed names and only what is missing is redone on resume, so the output does not
depend on the executor, the number of workers, timing, or where a previous run was killed.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn
from rich.text import Text

from synthloop.engine.executors import executor_class
from synthloop.engine.export import export_shards, exports
from synthloop.engine.executors.base import Executor
from synthloop.engine.inputs import iter_shards, known_total
from synthloop.engine.ledger import INPUT_OP, Ledger, OpCounts
from synthloop.engine.plan import Stage, plan_stages
from synthloop.engine.recipe import Recipe
from synthloop.engine.resolve import resolve_stage
from synthloop.engine.retry import finish_retry, retry_shards, start_retry
from synthloop.engine.rundir import RunDir, RunDirError, read_json, write_json
from synthloop.engine.worker import ShardTask, Worker
from synthloop.ops.base import Op
from synthloop.storage import Location


def run(recipe: Recipe, resume: bool = False, progress: bool = True, force: bool = False,
        retry_failed: bool = False) -> Ledger:
    """Run a recipe to the end (resuming earlier work in its run_dir with `resume`, starting over an
    earlier run with `force`, fetching again the failed URLs of a finished run with `retry_failed`,
    `engine.retry`); the ledger.

    With the local executor's `workers > 1` the workers fork from a fork server that imports the main
    module, so a script that calls this must guard its entry point with `if __name__ == "__main__":`
    (as any multiprocessing code).
    """
    recipe.check_inputs_exist()  # a missing input must not leave a started run_dir behind
    if retry_failed and force:
        raise RunDirError("--retry-failed completes a finished run and --force starts it over: give one of them")
    rundir = RunDir(recipe)
    rundir.start(recipe, resume or retry_failed, force)
    ops = recipe.build_ops()
    stages = plan_stages(ops)
    retrying = start_retry(rundir, stages) if retry_failed else retry_shards(rundir)
    spec = recipe.executor
    new_worker = partial(Worker, ops, rundir, spec.batch_size)
    modules = sorted({Worker.__module__, *(type(op).__module__ for op in ops)})
    with executor_class(spec.kind)(spec, new_worker, modules) as executor, _progress(progress) as bar:
        shard_count = _input_stage(executor, rundir, recipe, stages[0], bar, retrying)
        for stage in stages:
            if stage.index > 0:
                _later_stage(executor, rundir, stage, shard_count, bar)
            if stage.global_ops and not rundir.resolved_marker(stage.index).exists():
                resolve_stage(rundir, stage, ops, shard_count, recipe.seed, executor)
    ledger = _ledger(rundir, ops, stages, shard_count)
    ledger["sources"] = read_json(rundir.input_marker).get("sources", [])
    out = recipe.output
    if exports(out.format, out.images):
        ledger["export"] = export_shards(rundir.output, out.format, Location.of(out.path).local, out.images,
                                         rundir.quarantine.local)
    write_json(rundir.ledger_file, dict(ledger))
    finish_retry(rundir)
    return ledger


def _input_stage(executor: Executor, rundir: RunDir, recipe: Recipe, stage: Stage, bar: Progress,
                 retrying: set[int]) -> int:
    task_id = bar.add_task(_label(stage, "read + ops"), total=known_total(recipe.inputs))
    if rundir.input_marker.exists():
        shard_count = read_json(rundir.input_marker)["shards"]
        if all(rundir.done_marker(0, j).exists() for j in range(shard_count)):
            bar.update(task_id, total=1, completed=1)
            return shard_count
    seen = 0
    sources: list[dict] = []

    def tasks() -> Iterator[ShardTask]:
        nonlocal seen
        for shard in iter_shards(recipe.inputs, recipe.executor.rows_per_shard, recipe.seed, sources):
            seen = shard.index + 1
            if rundir.done_marker(0, shard.index).exists():
                bar.advance(task_id, len(shard.items))
            else:
                yield ShardTask(stage, shard.index, shard.items, shard.validated, shard.spec,
                                retry_failed=shard.index in retrying)

    for result in executor.map_unordered(tasks()):
        bar.advance(task_id, result["read"])
    write_json(rundir.input_marker, {"shards": seen, "sources": sources})
    bar.update(task_id, total=bar.tasks[task_id].completed)
    return seen


def _later_stage(executor: Executor, rundir: RunDir, stage: Stage, shard_count: int, bar: Progress) -> None:
    previous = [read_json(rundir.done_marker(stage.index - 1, j))["kept"] for j in range(shard_count)]
    task_id = bar.add_task(_label(stage, "ops" if stage.sample_ops else "write"), total=sum(previous))
    todo = []
    for j in range(shard_count):
        if rundir.done_marker(stage.index, j).exists():
            bar.advance(task_id, previous[j])
        else:
            todo.append(ShardTask(stage, j))
    for result in executor.map_unordered(todo):
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


class _RateColumn(ProgressColumn):
    """Samples per second since the task started (rich's own speed needs several updates within its
    window, and a shard's result is one update: it read 0 on short stages)."""

    def render(self, task: Task) -> Text:
        elapsed = task.finished_time or task.elapsed or 0.0
        return Text(f"{task.completed / elapsed:,.0f} samples/s" if elapsed > 0 and task.completed else "- samples/s")


def _progress(enabled: bool) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), _RateColumn(),
                    TimeElapsedColumn(), console=Console(stderr=True), disable=not enabled)
