"""A `transformers.TrainerCallback` that shows TinyVLM's training progress bar (step, loss, samples/s) on
stderr for a Hugging Face training run, keeps each optimiser step's logged loss, and stops the run when
its time budget is spent."""

from __future__ import annotations

import time

from rich.console import Console
from transformers import TrainerCallback

from synthloop.train.trainer import progress_bar


class ProgressCallback(TrainerCallback):
    def __init__(self, global_batch_size: int, show: bool = True, time_budget_s: float | None = None):
        self.global_batch_size = global_batch_size
        self.time_budget_s = time_budget_s
        self.bar = progress_bar(Console(stderr=True), show)
        self.losses: list[float] = []
        self.steps = 0
        self.started = 0.0

    def on_train_begin(self, args, state, control, **kwargs):
        self.started = time.perf_counter()
        self.bar.start()
        self.task = self.bar.add_task("sft", total=state.max_steps, loss=float("nan"), rate=0.0)

    def on_step_end(self, args, state, control, **kwargs):
        self.steps = state.global_step
        elapsed = time.perf_counter() - self.started
        self.bar.update(self.task, completed=self.steps, rate=self.steps * self.global_batch_size / max(elapsed, 1e-9))
        if self.time_budget_s is not None and elapsed >= self.time_budget_s:
            control.should_training_stop = True

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            self.losses.append(float(logs["loss"]))
            self.bar.update(self.task, loss=self.losses[-1])

    def on_train_end(self, args, state, control, **kwargs):
        self.bar.stop()
