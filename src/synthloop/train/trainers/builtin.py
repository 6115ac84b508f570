"""`builtin`: the TinyVLM trainer (`synthloop.train.trainer.train`); its settings are any `TinyVLMConfig`
or `TrainConfig` field."""

from __future__ import annotations

import contextlib
import io
from dataclasses import fields
from functools import cache
from typing import Any, get_type_hints

from pydantic import BaseModel, ConfigDict, create_model, model_validator

from synthloop.train.trainers.base import Trained, Trainer, TrainerError, TrainJob, logged_loss


@cache
def settings_model() -> type[BaseModel]:
    """`TinyVLMConfig` and `TrainConfig` fields as one strict model, each optional: what is left out keeps
    the trainer's default, and a misspelt key or a wrong type fails when the settings are read."""
    from synthloop.models.tinyvlm.network import TinyVLMConfig
    from synthloop.train.trainer import TrainConfig, split_overrides

    definitions = {}
    for config in (TinyVLMConfig, TrainConfig):
        hints = get_type_hints(config)
        definitions.update({f.name: (hints[f.name] | None, None) for f in fields(config)})

    def trainer_checks(settings: BaseModel) -> BaseModel:
        split_overrides(settings.model_dump(exclude_none=True))  # the configs' own checks (auxiliary losses, ...)
        return settings

    return create_model("TinyVLMSettings", __config__=ConfigDict(extra="forbid"),
                        __validators__={"trainer_checks": model_validator(mode="after")(trainer_checks)}, **definitions)


class BuiltinTrainer(Trainer):
    name = "builtin"

    def __init__(self, settings: dict[str, Any] | None = None):  # the settings model is built on first use
        self.settings = self.check_settings(settings or {})

    @classmethod
    def check_settings(cls, settings: dict[str, Any]) -> dict[str, Any]:
        return settings_model().model_validate(settings).model_dump(exclude_none=True)

    @classmethod
    def check_model(cls, model: str | None) -> None:
        if model is not None and model != "builtin":
            raise TrainerError(f"the builtin trainer trains a new TinyVLM (model: builtin, or none), not {model!r}")

    def train(self, job: TrainJob) -> Trained:
        from synthloop.train.trainer import train

        self.check_model(job.model)
        shared = {"epochs": job.epochs, "global_batch_size": job.global_batch_size}
        shared = {k: v for k, v in shared.items() if v is not None}  # None: train()'s defaults
        # model loaders print progress lines on stdout; the training bars go to stderr
        with contextlib.redirect_stdout(io.StringIO()):
            path = train(job.samples, job.out, stage=job.stage, max_samples=job.max_samples,  # type: ignore[arg-type]
                         seed=job.seed, time_budget_s=job.time_budget_s, show_progress=job.show_progress,
                         init=job.init, **shared, **self.settings)
        return Trained(f"builtin:{path}", logged_loss(path))


TRAINER = BuiltinTrainer
