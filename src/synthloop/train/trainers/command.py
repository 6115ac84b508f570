"""`command`: the user's own trainer (LLaVA's scripts, LLaMA-Factory, a cluster submit script).

    train: {trainer: command, command: "bash train.sh {data} {out}", format: llava}

The round's samples are exported in the registered `format` (images copied beside the file) to
`WORK/data/`, the command runs in a shell with its placeholders filled in (each value shell-quoted),
its stdout and stderr go to `WORK/train.log`, and the checkpoint it leaves in `{out}` is taken as
`builtin:` (a TinyVLM checkpoint) or `hf:` (any other folder with a transformers `config.json`).
Placeholders: {data} {out} {seed} {epochs} {global_batch_size} {init} {model} (empty when unset).
With `format: llava` the images sit in `train_images/` beside `{data}` under the relative paths the
records name, so LLaVA's `train.py` takes `--data_path {data} --image_folder` the data's folder.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, field_validator

from synthloop.commands import check_template, fill, last_line, start_logged, stop
from synthloop.train.trainers.base import Trained, Trainer, TrainerError, TrainJob, checkpoint_uri, logged_loss

PLACEHOLDERS = ("data", "out", "seed", "epochs", "global_batch_size", "init", "model")
# The exported file's name for formats that write one file; the others write a folder named `train`.
DATA_FILES = {"llava": "train.json", "sharegpt": "train.json", "messages": "train.jsonl", "dj": "train.jsonl",
              "ids": "train.json"}


class CommandSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    command: str
    format: str = "llava"

    @field_validator("command")
    @classmethod
    def _known_placeholders(cls, command: str) -> str:
        return check_template(command, PLACEHOLDERS, required=["out"])

    @field_validator("format")
    @classmethod
    def _writable(cls, fmt: str) -> str:
        from synthloop.formats.registry import writable

        return writable(fmt)


class CommandTrainer(Trainer):
    name = "command"
    Settings = CommandSettings

    def train(self, job: TrainJob) -> Trained:
        job.work.mkdir(parents=True, exist_ok=True)
        data = export_data(job, self.settings.format)
        job.out.parent.mkdir(parents=True, exist_ok=True)
        values = {"data": data, "out": job.out, "seed": job.seed, "epochs": job.epochs,
                  "global_batch_size": job.global_batch_size, "init": job.init, "model": job.model}
        log = job.work / "train.log"
        process = start_logged(fill(self.settings.command, values), log)
        try:
            status = process.wait()
        finally:  # also when the wait is interrupted: nothing the command started outlives it
            stop(process)
        if status != 0:
            raise TrainerError(f"train command exited with status {status}: {last_line(log)} (full log: {log})")
        if not job.out.is_dir() or not any(job.out.iterdir()):
            raise TrainerError(f"train command left no checkpoint in {job.out} (log: {log})")
        return Trained(checkpoint_uri(job.out), logged_loss(job.out))


def export_data(job: TrainJob, fmt: str) -> Path:
    """Write the job's samples to `WORK/data/` in `fmt` (a file, or a folder for folder formats); a
    sample the format cannot hold is listed in `WORK/data/quarantine/export.jsonl`."""
    from synthloop.engine.export import export
    from synthloop.formats.parquet import read_samples

    samples = list(read_samples(job.samples)) if isinstance(job.samples, Path) else job.samples
    if job.max_samples is not None and len(samples) > job.max_samples:
        raise TrainerError(f"the data holds {len(samples)} samples but the budget allows at most "
                           f"{job.max_samples}; select a subset first")
    folder = job.work / "data"
    path = folder / DATA_FILES.get(fmt, "train")
    counts = export(iter(samples), fmt, path, "copy", folder / "quarantine")
    if not counts["written"]:
        raise TrainerError(f"none of the {len(samples)} training samples could be written as {fmt} "
                           f"(reasons: {counts['rejected_path']})")
    return path


TRAINER = CommandTrainer
