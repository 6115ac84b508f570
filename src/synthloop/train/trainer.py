"""Two-stage LLaVA-style training of TinyVLM on canonical samples, deterministic on CPU for a seed.

Stage 1 trains the projector only, on caption samples (`task == "caption"`); stage 2 trains everything
that is not frozen on all samples. Budget rules in the Better Synth style are checked up front: the
data may hold at most `max_samples` samples, and every optimiser step sees `global_batch_size`
samples (split into micro-batches with gradient accumulation).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from tokenizers import Tokenizer

from synthloop.formats.parquet import read_samples
from synthloop.models.tinyvlm.checkpoint import load_model, save_checkpoint
from synthloop.models.tinyvlm.encoding import IGNORE
from synthloop.models.tinyvlm.network import TinyVLM, TinyVLMConfig
from synthloop.models.tinyvlm.tokenizer import train_tokenizer
from synthloop.train.aux import AuxLoss, build_aux_losses, check_aux_losses
from synthloop.train.data import EncodedData, encode_samples, global_batches

Stage = Literal["1", "2", "both"]


class BudgetError(ValueError):
    """The data or the settings break the training budget rules."""


@dataclass
class TrainConfig:
    lr: float = 5e-4
    min_lr_ratio: float = 0.1
    warmup_fraction: float = 0.05
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    micro_batch_size: int = 64
    stage1_modules: tuple[str, ...] = ("projector", "image_pos")
    stage1_time_share: float = 0.25  # of `time_budget_s`, when both stages run
    # What weighs the same in the loss: every "sample" (mean over its reply tokens), every "reply" of a
    # conversation, or every "token" as in LLaVA. Per token, long replies (captions, boxes) drown the
    # one-word answers most question types have.
    loss_unit: Literal["sample", "reply", "token"] = "sample"
    # Auxiliary losses trained in stage 2, in order: {registered name: {params}} (`synthloop.train.aux`).
    # A stage's recorded losses include their share.
    aux_losses: dict[str, dict[str, Any]] = field(default_factory=dict)
    num_threads: int = 2
    image_root: str | None = None

    def __post_init__(self) -> None:  # a bad setting fails before tokenizer training and encoding
        if self.loss_unit not in ("sample", "reply", "token"):
            raise ValueError(f"unknown loss unit {self.loss_unit!r}: use 'reply', 'sample' or 'token'")
        check_aux_losses(self.aux_losses)


def split_overrides(overrides: dict) -> tuple[TinyVLMConfig, TrainConfig]:
    model_keys = {f.name for f in fields(TinyVLMConfig)}
    train_keys = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(overrides) - model_keys - train_keys)
    if unknown:
        raise ValueError(f"unknown training setting(s): {', '.join(unknown)}")
    model_cfg = TinyVLMConfig(**{k: v for k, v in overrides.items() if k in model_keys})
    train_cfg = TrainConfig(**{k: v for k, v in overrides.items() if k in train_keys})
    return model_cfg, train_cfg


def load_training_samples(samples: list[dict] | str | Path, max_samples: int | None) -> list[dict]:
    if isinstance(samples, (str, Path)):
        samples = list(read_samples(samples))
    if max_samples is not None and len(samples) > max_samples:
        raise BudgetError(f"the data holds {len(samples)} samples but the budget allows at most {max_samples}; "
                          "select a subset first")
    if not samples:
        raise BudgetError("no training samples")
    return samples


def micro_batching(global_batch_size: int, micro_batch_size: int, n_samples: int) -> int:
    """The micro-batch size that splits each global batch into equal gradient-accumulation steps."""
    if global_batch_size < 1:
        raise BudgetError(f"global batch size must be at least 1, not {global_batch_size}")
    if global_batch_size > n_samples:
        raise BudgetError(f"global batch size {global_batch_size} exceeds the {n_samples} usable training samples")
    accumulation = math.ceil(global_batch_size / micro_batch_size)
    return math.ceil(global_batch_size / accumulation)


def learning_rate(progress: float, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to `min_lr_ratio * lr`; `progress` runs from 0 to 1."""
    if progress < cfg.warmup_fraction:
        return cfg.lr * (progress + 1e-3) / cfg.warmup_fraction
    cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, (progress - cfg.warmup_fraction) / (1 - cfg.warmup_fraction))))
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * cosine)


def make_optimizer(params: list[tuple[str, torch.nn.Parameter]], cfg: TrainConfig) -> torch.optim.AdamW:
    decay = [p for name, p in params if p.ndim >= 2 and "emb" not in name and "image_pos" not in name]
    other = [p for name, p in params if not (p.ndim >= 2 and "emb" not in name and "image_pos" not in name)]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": other, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.95), foreach=True)


def progress_bar(console: Console, show: bool) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("loss {task.fields[loss]:.3f}"), TextColumn("{task.fields[rate]:.0f} samples/s"),
                    TimeElapsedColumn(), console=console, disable=not show)


def stage_parameters(model: TinyVLM, trainable: list[str] | None,
                     aux_losses: Sequence[AuxLoss] = ()) -> list[tuple[str, torch.nn.Parameter]]:
    """Let only the parameters whose names start with one of `trainable` (None: all unfrozen) train, and
    return those with the auxiliary losses' parameters: what the stage's optimiser updates."""
    for param_name, param in model.named_parameters():
        frozen = model.frozen_vision and param_name.startswith("vision.")
        param.requires_grad_(not frozen and (trainable is None or param_name.startswith(tuple(trainable))))
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    for aux in aux_losses:
        params += [(f"aux.{n}", p) for n, p in aux.named_parameters()]
    return params


def fixed_image_features(model: TinyVLM, data: EncodedData, chunk: int = 256) -> torch.Tensor | None:
    """Every image's vision features, computed once, when the vision encoder does not train; else None."""
    if any(p.requires_grad for p in model.vision.parameters()):
        return None
    model.eval()  # batch norm uses (and keeps) its running statistics
    with torch.no_grad():
        return torch.cat([model.image_features(data.pixels[i: i + chunk]) for i in range(0, len(data.pixels), chunk)])


def train_step(model: TinyVLM, data: EncodedData, features: torch.Tensor | None, micro_batches: list,
               aux_losses: Sequence[AuxLoss], params: list[tuple[str, torch.nn.Parameter]],
               optimizer: torch.optim.Optimizer, cfg: TrainConfig) -> float:
    """One optimiser step over a global batch's micro-batches (gradients accumulate); the step's loss."""
    units = [loss_units(b.labels, cfg.loss_unit) for b in micro_batches]
    n_units = sum(n for _, n in units)
    step_loss = 0.0
    for batch, (unit, _) in zip(micro_batches, units, strict=True):
        if features is not None:
            image_features = features[batch.image_index]
        else:
            image_features = model.image_features(data.pixels[batch.image_index])
        token_loss = model.token_losses(batch.input_ids, batch.labels, image_features, data.cells[batch.image_index])
        loss = (token_loss / torch.bincount(unit)[unit]).sum() / n_units
        for aux in aux_losses:
            loss = loss + aux.loss(batch) / n_units
        loss.backward()
        step_loss += float(loss.detach())
    torch.nn.utils.clip_grad_norm_([p for _, p in params], cfg.grad_clip)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return step_loss


def run_stage(model: TinyVLM, data: EncodedData, name: str, trainable: list[str] | None, epochs: int,
              global_batch_size: int, cfg: TrainConfig, rng: np.random.Generator, time_budget_s: float | None,
              console: Console, show_progress: bool, aux_losses: Sequence[AuxLoss] = ()) -> dict:
    """Train the parameters whose names start with one of `trainable` (None: all unfrozen), and the
    auxiliary losses' parameters with them; a record."""
    micro = micro_batching(global_batch_size, cfg.micro_batch_size, len(data))
    params = stage_parameters(model, trainable, aux_losses)
    optimizer = make_optimizer(params, cfg)
    start = time.perf_counter()  # the time budget covers computing frozen image features
    features = fixed_image_features(model, data)
    steps_per_epoch = math.ceil(len(data) / global_batch_size)
    total_steps = epochs * steps_per_epoch
    losses: list[float] = []
    seen = 0
    model.train()
    with progress_bar(console, show_progress) as bar:
        task = bar.add_task(f"stage {name}", total=total_steps, loss=float("nan"), rate=0.0)
        for step, micro_batches in enumerate(_steps(data, epochs, global_batch_size, micro, rng)):
            elapsed = time.perf_counter() - start
            progress = step / total_steps
            if time_budget_s is not None:
                if elapsed >= time_budget_s:
                    break
                progress = max(progress, elapsed / time_budget_s)
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(progress, cfg)
            losses.append(train_step(model, data, features, micro_batches, aux_losses, params, optimizer, cfg))
            seen += sum(b.size for b in micro_batches)
            rate = seen / max(time.perf_counter() - start, 1e-9)
            bar.update(task, advance=1, loss=losses[-1], rate=rate)
    model.eval()
    seconds = time.perf_counter() - start
    return {"stage": name, "samples": len(data), "epochs": epochs, "global_batch_size": global_batch_size,
            "micro_batch_size": micro, "steps": len(losses), "planned_steps": total_steps, "samples_seen": seen,
            "seconds": round(seconds, 3), "samples_per_s": round(seen / max(seconds, 1e-9), 1),
            "losses": [round(x, 5) for x in losses], "skipped": [list(s) for s in data.skipped]}


def loss_units(labels: torch.Tensor, unit: str) -> tuple[torch.Tensor, int]:
    """The loss unit of every labelled position (row-major, as `TinyVLM.token_losses` orders them) and
    how many units there are: a reply is a run of labelled positions, a sample a batch row."""
    selected = labels[:, 1:] != IGNORE
    if unit == "token":
        n = int(selected.sum())
        return torch.arange(n), n
    if unit == "sample":
        rows = selected.nonzero()[:, 0]
        return rows, int(selected.any(dim=1).sum())
    if unit == "reply":
        starts = selected & ~F.pad(selected[:, :-1], (1, 0), value=False)
        return starts.flatten().cumsum(0).view_as(selected)[selected] - 1, int(starts.sum())
    raise ValueError(f"unknown loss unit {unit!r}: use 'reply', 'sample' or 'token'")


def _steps(data: EncodedData, epochs: int, global_batch_size: int, micro: int,
           rng: np.random.Generator) -> Iterator[list]:
    for _ in range(epochs):
        yield from global_batches(data, global_batch_size, micro, rng)


def _texts(samples: list[dict]) -> Iterator[str]:
    for sample in samples:
        for message in sample["messages"]:
            yield message["content"]


def initial_model(model_cfg: TinyVLMConfig, overrides: dict, samples: list[dict],
                  init: str | Path | None) -> tuple[TinyVLM, Tokenizer]:
    """A fresh model with a tokenizer trained on `samples`, or the weights and tokenizer of checkpoint
    `init` (whose architecture any model setting in `overrides` must match)."""
    if init is None:
        tokenizer = train_tokenizer(_texts(samples), vocab_size=model_cfg.vocab_size)
        model_cfg.vocab_size = tokenizer.get_vocab_size()
        return TinyVLM(model_cfg), tokenizer
    model, tokenizer = load_model(init)
    saved = model.cfg.to_dict()
    clashes = [f"{k}={overrides[k]!r} (checkpoint: {saved[k]!r})" for k in sorted(set(overrides) & set(saved))
               if k != "vocab_size" and overrides[k] != saved[k]]
    if clashes:
        raise ValueError(f"{init}: the checkpoint's architecture differs from the settings: {', '.join(clashes)}")
    return model, tokenizer


def train(samples: list[dict] | str | Path, out: str | Path, stage: Stage = "both", epochs: int = 1,
          max_samples: int | None = None, global_batch_size: int = 64, seed: int = 0,
          time_budget_s: float | None = None, show_progress: bool = True, init: str | Path | None = None,
          **overrides: object) -> Path:
    """Train TinyVLM on canonical samples (a list, or a Parquet file/folder) and write a checkpoint to `out`.

    `overrides` set any `TinyVLMConfig` or `TrainConfig` field. `init` continues from a checkpoint's
    weights and tokenizer instead of a new model (fine-tuning; the optimiser and schedule start afresh).
    Without a time budget, one seed gives identical weights; with one, training stops (and the schedule
    ends) when the time is spent.
    """
    if stage not in ("1", "2", "both"):
        raise ValueError(f"stage must be '1', '2' or 'both', not {stage!r}")
    if epochs < 1:
        raise BudgetError(f"epochs must be at least 1, not {epochs}")
    started = time.perf_counter()
    model_cfg, cfg = split_overrides(overrides)
    samples = load_training_samples(samples, max_samples)
    micro_batching(global_batch_size, cfg.micro_batch_size, len(samples))
    torch.set_num_threads(cfg.num_threads)
    torch.use_deterministic_algorithms(True)
    # Deterministic mode also fills every new tensor with NaN to expose reads of uninitialised memory:
    # 6 % of a step, and no op here reads memory it has not written.
    torch.utils.deterministic.fill_uninitialized_memory = False
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    console = Console(stderr=True)

    model, tokenizer = initial_model(model_cfg, overrides, samples, init)
    model_cfg = model.cfg
    encode = {"tokenizer": tokenizer, "image_tokens": model_cfg.image_tokens, "image_size": model_cfg.image_size,
              "max_seq_len": model_cfg.max_seq_len, "image_root": cfg.image_root, "image_cells": model.image_cells}
    stages = []

    def remaining(share: float = 1.0) -> float | None:
        """Seconds left of the budget (which covers tokenizer, encoding and both stages)."""
        return None if time_budget_s is None else max(0.0, time_budget_s * share - (time.perf_counter() - started))

    if stage in ("1", "both"):
        captions = [s for s in samples if s.get("task") == "caption"]
        if not captions:
            raise BudgetError("stage 1 trains the projector on caption samples (task 'caption'); the data has none")
        data = encode_samples(captions, **encode)
        stages.append(run_stage(model, data, "1", list(cfg.stage1_modules), epochs, min(global_batch_size, len(data)),
                                cfg, rng, remaining(1.0 if stage == "1" else cfg.stage1_time_share), console,
                                show_progress))
    if stage in ("2", "both"):
        data = encode_samples(samples, **encode)
        aux_losses = build_aux_losses(cfg.aux_losses, model, samples, data, tokenizer)
        try:
            stages.append(run_stage(model, data, "2", None, epochs, global_batch_size, cfg, rng, remaining(), console,
                                    show_progress, aux_losses))
        finally:  # the model leaves without the auxiliary losses' hooks, even when training fails
            for aux in aux_losses:
                aux.close()
    for record in stages:
        if record["skipped"]:
            first_id, reason = record["skipped"][0]
            console.print(f"stage {record['stage']}: skipped {len(record['skipped'])} sample(s), "
                          f"e.g. {first_id!r}: {reason}")
    training = {"seed": seed, "stage": stage, "init": None if init is None else str(init),
                "train_config": asdict(cfg), "stages": stages}
    return save_checkpoint(model, tokenizer, out, training)
