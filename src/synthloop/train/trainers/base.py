"""What every trainer kind takes and gives back.

A trainer kind is one module in `synthloop.train.trainers` defining `TRAINER`, a `Trainer` subclass,
and one line in that package's `KINDS`. A trainer is built from its settings (checked by its own
pydantic `Settings` when a recipe is read) and trains one `TrainJob` into a checkpoint folder; what
comes back names that checkpoint by model URI (`builtin:DIR`, `hf:DIR`), which is how the loop and
`synthloop eval` load it.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

TINYVLM_FORMAT = "synthloop-tinyvlm"  # the `format` of a TinyVLM checkpoint's config.json


class TrainerError(ValueError):
    """A training that cannot run or failed; one line saying why."""


class NoSettings(BaseModel):
    """A trainer kind without settings of its own: any key is unknown."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class TrainJob:
    """One training: the data, where the checkpoint goes, and the settings every trainer kind shares.

    `model` is the model to start from (a URI such as `hf:llava-hf/llava-1.5-7b-hf`; None: the kind's
    own default, a new TinyVLM for `builtin`); `init` is a checkpoint of an earlier round to continue
    from, which takes its place. `work` is a folder for the trainer's side files (exported data, logs).
    `epochs` and `global_batch_size` None: the trainer's own defaults.
    """

    samples: list[dict] | Path
    out: Path
    work: Path
    seed: int = 0
    epochs: int | None = None
    global_batch_size: int | None = None
    max_samples: int | None = None
    stage: str = "both"  # TinyVLM's two stages; other kinds fine-tune in one
    model: str | None = None
    init: Path | None = None
    time_budget_s: float | None = None  # stop training when this many seconds are spent
    show_progress: bool = True


@dataclass(frozen=True)
class Trained:
    model: str  # URI of the checkpoint written
    train_loss: float | None  # the last logged training loss, when the trainer logs one


class Trainer(ABC):
    name: ClassVar[str]
    Settings: ClassVar[type[BaseModel]] = NoSettings

    def __init__(self, settings: dict[str, Any] | None = None):
        self.settings = self.Settings.model_validate(settings or {})

    @classmethod
    def check_settings(cls, settings: dict[str, Any]) -> dict[str, Any]:
        """The settings as given, checked (pydantic's ValidationError names a bad key)."""
        return cls.Settings.model_validate(settings).model_dump(exclude_none=True)

    @classmethod
    def check_model(cls, model: str | None) -> None:
        """TrainerError (one line) when this kind cannot start from `model` (a URI; None: the kind's
        default); checked when a recipe is read and again before training."""

    @classmethod
    def check_stage(cls, stage: str) -> None:
        """TrainerError (one line) when this kind cannot train `stage` (TinyVLM's "1", "2" or "both")."""

    @abstractmethod
    def train(self, job: TrainJob) -> Trained:
        """Train on `job.samples` and write a checkpoint to `job.out`; TrainerError when it cannot."""


def checkpoint_uri(folder: Path) -> str:
    """The model URI that loads the checkpoint in `folder`: a TinyVLM checkpoint is `builtin:`, any other
    folder with a transformers `config.json` is `hf:`."""
    config = folder / "config.json"
    if not config.is_file():
        raise TrainerError(f"{folder}: no checkpoint there (no config.json)")
    try:
        settings = json.loads(config.read_text())
    except ValueError as err:
        raise TrainerError(f"{config}: not JSON: {err}") from None
    if not isinstance(settings, dict):
        raise TrainerError(f"{config}: not a model config (a JSON object)")
    return f"{'builtin' if settings.get('format') == TINYVLM_FORMAT else 'hf'}:{folder}"


def logged_loss(folder: Path) -> float | None:
    """The last training loss a checkpoint records: TinyVLM's `training.json`, or the Hugging Face
    Trainer's `trainer_state.json` (its `log_history`); None when it records none."""
    training = folder / "training.json"
    if training.is_file():
        stages = json.loads(training.read_text()).get("stages") or [{}]
        losses = stages[-1].get("losses") or [None]
        return losses[-1]
    state = folder / "trainer_state.json"
    if state.is_file():
        logged = [entry["loss"] for entry in json.loads(state.read_text()).get("log_history", []) if "loss" in entry]
        return logged[-1] if logged else None
    return None
