"""Executors: what runs a stage's shard tasks. The driver (`engine.driver`) plans the stages, hands
each stage's tasks to the executor, and resolves the global ops between stages itself.

Each module in this package defines one executor, its recipe section (`executor: {kind: NAME, ...}`)
and its class, and registers it (`base.register`); `executor_class` finds them, as the op registry
finds ops. `local` runs the tasks in this process or a local process pool.
"""

from __future__ import annotations

import importlib
import pkgutil

from synthloop.engine.executors.base import EXECUTORS, Executor


def executor_class(kind: str) -> type[Executor]:
    """The executor registered under `kind`; KeyError names the known kinds."""
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
    if kind not in EXECUTORS:
        raise KeyError(f"unknown executor kind {kind!r}; known: {', '.join(sorted(EXECUTORS))}")
    return EXECUTORS[kind]
