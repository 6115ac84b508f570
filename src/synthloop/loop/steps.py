"""Finished steps of a loop run, so that `synthloop loop --resume` continues where a killed run stopped.

A step (synthesis inputs, curation, decontamination, training, evaluation of one round and arm)
writes its outputs, then its marker `RUN_DIR/steps/<name>.done`. Resuming skips every step with a
marker and redoes the others from a clean slate: what a killed step left behind is removed first.
Each step is deterministic, so the resumed run writes what an uninterrupted one would have.
Engine runs (curation) keep their own shard markers and resume inside the step.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from synthloop.engine.rundir import write_atomic


class Steps:
    def __init__(self, run_dir: Path):
        self.root = run_dir / "steps"

    def marker(self, name: str) -> Path:
        return self.root / f"{name.replace('/', '.')}.done"

    def run(self, name: str, outputs: Sequence[Path], make: Callable[[], None], keep: bool = False) -> bool:
        """Run `make` unless step `name` finished earlier; True when it ran. `outputs` are removed before
        it runs, unless `keep` (a step that resumes its own partial work, such as an engine run)."""
        if self.marker(name).exists():
            return False
        for path in outputs if not keep else ():
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
        make()
        write_atomic(self.marker(name), b"")
        return True
