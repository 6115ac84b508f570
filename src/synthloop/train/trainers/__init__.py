"""Trainer kinds by name: one module each, defining `TRAINER` (a `base.Trainer` subclass).

    trainer = make_trainer("command", {"command": "bash train.sh {data} {out}", "format": "llava"})
    trained = trainer.train(TrainJob(samples, out=Path("ckpt"), work=Path("ckpt-train")))

A new kind is a module here and a line in `KINDS` (with the extra that installs what it imports).
"""

from __future__ import annotations

import importlib
from typing import Any

from synthloop.train.trainers.base import Trained, Trainer, TrainerError, TrainJob

# name -> (module, the pip extra it needs beyond synthloop's own, or None)
KINDS: dict[str, tuple[str, str | None]] = {
    "builtin": (f"{__name__}.builtin", None),
    "command": (f"{__name__}.command", None),
    "hf": (f"{__name__}.hf", "train-hf"),
}


def trainer_class(name: str) -> type[Trainer]:
    """The trainer kind `name`; TrainerError (one line) for an unknown one or one whose extra is missing."""
    if name not in KINDS:
        raise TrainerError(f"unknown trainer {name!r} (known: {', '.join(sorted(KINDS))})")
    module, extra = KINDS[name]
    try:
        return importlib.import_module(module).TRAINER
    except ImportError as err:
        if extra is None:
            raise
        raise TrainerError(f"the {name} trainer needs what the {extra} extra installs: "
                           f"pip install 'synthloop[{extra}]' ({err})") from None


def make_trainer(name: str, settings: dict[str, Any] | None = None) -> Trainer:
    return trainer_class(name)(settings)


__all__ = ["KINDS", "Trained", "Trainer", "TrainerError", "TrainJob", "make_trainer", "trainer_class"]
