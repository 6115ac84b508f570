"""The local executor: shard tasks in this process (0 or 1 workers) or in a pool of worker processes.

Memory stays bounded: at most two tasks per worker are queued (stage 0 reads the input as a stream).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from multiprocessing import get_context
from multiprocessing.process import BaseProcess
from typing import Any, Literal

from pydantic import Field

from synthloop.engine.executors.base import Executor, ExecutorSpec, register

CLI_MODULE = "synthloop.cli"


class LocalSpec(ExecutorSpec):
    kind: Literal["local"] = "local"
    workers: int = Field(default=1, ge=0, le=512, description="worker processes; 0 or 1 runs in this process")


@register
class LocalExecutor(Executor):
    spec_class = LocalSpec

    def __init__(self, spec: LocalSpec, new_worker: Callable[..., Any], modules: list[str]):
        super().__init__(spec, new_worker, modules)
        self.workers = spec.workers
        self.pool: ProcessPoolExecutor | None = None
        # A decode thread only pays where a core is left over; with a worker per core it just contends.
        decode_ahead = max(spec.workers, 1) < _usable_cores()
        if spec.workers > 1:
            self.pool = process_pool(spec.workers, modules, initializer=_start_worker,
                                     initargs=(new_worker, decode_ahead, dict(os.environ)))
        else:
            self.worker = new_worker(decode_ahead=decode_ahead)

    def map_unordered(self, tasks: Iterable[Any]) -> Iterator[dict[str, Any]]:
        if self.pool is None:
            yield from map(self.worker.process, tasks)
            return
        pending: set[Future] = set()
        for task in tasks:
            pending.add(self.pool.submit(_process, task))
            while len(pending) >= 2 * self.workers:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                yield from (future.result() for future in done)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            yield from (future.result() for future in done)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


_worker: Any = None  # a pool process's worker


def _start_worker(new_worker: Callable[..., Any], decode_ahead: bool, environ: dict[str, str]) -> None:
    """Set up a pool process: the run's environment (it forks from a fork server started by an earlier
    run, whose environment may differ), its worker, and a watcher that exits when the run dies."""
    global _worker
    os.environ.clear()
    os.environ.update(environ)
    _worker = new_worker(decode_ahead=decode_ahead)
    if (parent := multiprocessing.parent_process()) is not None:
        threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


def _process(task: Any) -> dict[str, Any]:
    return _worker.process(task)


def _exit_with_parent(parent: BaseProcess) -> None:
    """Exit once the process that started the pool is gone. A killed run must not leave workers writing
    (the resumed run redoes their shards) or waiting forever on a task queue whose ends they hold. The
    parent is the run, not the OS parent: that is the fork server, which stays up while its workers do."""
    parent.join()
    os._exit(1)


def _usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def process_pool(workers: int, modules: Iterable[str], **options: Any) -> ProcessPoolExecutor:
    """A pool of `workers` processes forked from a fork server that imported `modules` once, instead
    of each importing them anew (a second or more of CPU per worker). Not plain fork: a child of
    this process could inherit locks held by its Arrow threads, and a forked copy of a process that
    has run torch leaves that process's OpenMP threads half as fast afterwards; the fork server is a
    fresh single-threaded process. pandas is preloaded because pyarrow imports it on its first array
    built from a list, in every process that does not have it yet. A worker runs the main module
    again (Python 3.11 ignores a "__main__" preload), so when that is the synthloop CLI, the CLI's
    imports are preloaded too. `options` go to `ProcessPoolExecutor` (initializer, initargs)."""
    cli = [CLI_MODULE] if CLI_MODULE in sys.modules else []
    context = get_context("forkserver")
    context.set_forkserver_preload(sorted({__name__, "pandas", *cli, *modules}))
    return ProcessPoolExecutor(workers, mp_context=context, **options)
