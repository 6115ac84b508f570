"""`hf`: fine-tune a transformers image-text-to-text model with TRL's SFTTrainer (`synthloop.train.hf_sft`);
needs the train-hf extra (TRL, peft). The model to start from is `hf:<hub id or folder>`."""

from __future__ import annotations

import importlib.util

from synthloop.train.hf_sft import HFSettings, train_hf
from synthloop.train.trainers.base import Trained, Trainer, TrainerError, TrainJob, logged_loss

missing = [name for name in ("trl", "peft") if importlib.util.find_spec(name) is None]
if missing:  # trainers.trainer_class turns this into the extra's install line
    raise ImportError(f"no module named {', '.join(missing)}")


class HFTrainer(Trainer):
    name = "hf"
    Settings = HFSettings

    @classmethod
    def check_model(cls, model: str | None) -> None:
        scheme, _, target = (model or "").partition(":")
        if scheme != "hf" or not target:
            given = "none given" if model is None else f"not {model!r}"
            raise TrainerError(f"the hf trainer fine-tunes a model named hf:<hub id or folder>, {given}")

    @classmethod
    def check_stage(cls, stage: str) -> None:
        if stage == "1":
            raise TrainerError("the hf trainer fine-tunes in one stage (LLaVA's second); stage 1 is TinyVLM's")

    def train(self, job: TrainJob) -> Trained:
        self.check_model(job.model)
        self.check_stage(job.stage)
        target = (job.model or "").partition(":")[2]
        shared = {"epochs": job.epochs, "global_batch_size": job.global_batch_size}
        path = train_hf(job.samples, job.out, target, max_samples=job.max_samples, seed=job.seed, init=job.init,
                        show_progress=job.show_progress, time_budget_s=job.time_budget_s, work=job.work,
                        **{k: v for k, v in shared.items() if v is not None}, **self.settings.model_dump())
        return Trained(f"hf:{path}", logged_loss(path))


TRAINER = HFTrainer
