"""The executor interface: map shard tasks to workers, collect their results.

A worker (`engine.worker.Worker`) holds one process's state for a run: the ops (each set up once), the
run directory and the batch size; `Worker.process(task)` runs one shard of one stage and returns its
counts. An executor builds workers where it runs tasks, with `new_worker(decode_ahead=...)` (picklable,
so a remote process can call it), and yields each task's result as it completes, in any order: the
run's outcome does not depend on the order, since every shard writes its own files.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from synthloop.ops.workers import InThisProcess


class ExecutorSpec(BaseModel):
    """The recipe's `executor` section; each executor extends it with its own settings."""

    model_config = ConfigDict(extra="forbid")
    kind: str = "local"
    batch_size: int = Field(default=256, ge=1, le=1_000_000)
    shard_rows: int | None = Field(default=None, ge=1, le=100_000_000,
                                   description="samples per shard; default 8 batches")

    @property
    def rows_per_shard(self) -> int:
        return self.shard_rows or 8 * self.batch_size

    def output_settings(self) -> dict[str, Any]:
        """The settings that decide the run's output (part of the recipe hash): how samples are sharded
        and batched, not where or how many processes run them."""
        return {"batch_size": self.batch_size, "shard_rows": self.shard_rows}


class Executor(InThisProcess, ABC):
    """Runs a stage's shard tasks (`map_unordered`); a global op's `Workers` (`ops.workers`: in this
    process, unless an executor spreads them)."""

    spec_class: ClassVar[type[ExecutorSpec]]

    def __init__(self, spec: ExecutorSpec, new_worker: Callable[..., Any], modules: list[str]):
        """`modules`: what a worker process imports (the worker's and the ops' modules), to preload."""
        self.spec = spec

    @abstractmethod
    def map_unordered(self, tasks: Iterable[Any]) -> Iterator[dict[str, Any]]:
        """Each task's result, as tasks complete."""

    def close(self) -> None:
        """Release the workers (called once, also when the run fails)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


EXECUTORS: dict[str, type[Executor]] = {}


def register(cls: type[Executor]) -> type[Executor]:
    EXECUTORS[cls.spec_class.model_fields["kind"].default] = cls
    return cls
