"""Fine-tune a Hugging Face image-text-to-text model (LLaVA, LLaVA-Next, Qwen2-VL/2.5-VL, SmolVLM,
Idefics3) on canonical samples with TRL's `SFTTrainer`, and write a checkpoint `hf:` and vLLM load.

What TRL does here, read in trl 1.16.0 (`trl/trainer/sft_trainer.py`; `docs/source/sft_trainer.md`,
"Training Vision Language Models", in huggingface/trl at f2cd57710ae345ea6428ae95363267fcf38a3dc8): a
dataset with `messages` and `images` columns is a vision dataset, collated on the fly through the
model's own processor and chat template, with `assistant_only_loss=True` the loss on the assistant's
replies only (`hf_data` says how); a template TRL cannot mark is refused, and the `chat_template`
setting gives one. `max_length` is None by default: TRL's docs warn that truncation can cut image
tokens.

Defaults are LLaVA-1.5's fine-tuning recipe (haotian-liu/LLaVA c121f0432da27facab705978f83c4ada465e46fd,
`scripts/v1_5/finetune.sh`: lr 2e-5, cosine, warmup ratio 0.03, weight decay 0, one epoch, gradient
checkpointing; `finetune_lora.sh`: LoRA r 128, alpha 256, lr 2e-4). The vision tower (the submodule
whose config is the model's `vision_config`) is frozen unless `freeze_vision` is off; Qwen2-VL keeps
its projector (`merger`) inside that module, so the merger keeps training. LoRA adapters go on the
linear layers outside the vision tower (language model and projector, both of which LLaVA's LoRA
recipe trains) but the output head, and are merged into the saved weights; QLoRA loads the base in 4
bits (bitsandbytes, CUDA) and merges into a bf16 reload. The budget rules are TinyVLM's: at most
`max_samples` samples, `global_batch_size` samples per optimiser step. bf16 on a GPU, fp32 on a CPU.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator

from synthloop.models.device import Device, resolve_device
from synthloop.models.protocols import ModelError
from synthloop.train.hf_data import chat_rows, reply_end, training_template, vision_dataset
from synthloop.train.trainer import BudgetError, load_training_samples, micro_batching

PROJECTOR_PARTS = ("merger",)  # parts of a vision module that are its projector (Qwen2-VL) and keep training


class HFSettings(BaseModel):
    """The hf trainer's settings; what is left out keeps LLaVA-1.5's fine-tuning defaults."""

    model_config = ConfigDict(extra="forbid")

    lr: float | None = Field(None, gt=0, description="Peak learning rate (default 2e-5, with LoRA 2e-4).")
    lr_scheduler: str = Field("cosine", description="transformers' lr_scheduler_type.")
    warmup_fraction: float = Field(0.03, ge=0, lt=1, description="Share of the steps that warm up linearly.")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay.")
    micro_batch_size: int = Field(16, ge=1, description="Samples per forward pass; a global batch is split into "
                                                        "equal micro-batches (gradient accumulation).")
    freeze_vision: bool = Field(True, description="Keep the vision tower's weights as they are.")
    lora: bool = Field(False, description="Train LoRA adapters (peft) and merge them, instead of the weights.")
    lora_r: int = Field(128, ge=1, description="LoRA rank.")
    lora_alpha: float = Field(256, gt=0, description="LoRA scale numerator.")
    lora_dropout: float = Field(0.05, ge=0, lt=1, description="Dropout on the LoRA path.")
    qlora: bool = Field(False, description="LoRA on a 4-bit base (bitsandbytes; needs a CUDA GPU).")
    gradient_checkpointing: bool = Field(True, description="Recompute activations in the backward pass.")
    max_length: int | None = Field(None, ge=1, description="Truncate sequences to this many tokens (None: keep "
                                                           "whole; truncation can cut image tokens).")
    chat_template: Path | None = Field(None, description="A .jinja chat template whose {% generation %} blocks "
                                                         "mark the assistant's text, for a model whose own has none.")
    image_root: str | None = Field(None, description="Folder that relative image paths are under.")
    device: Device = Field("auto", description="auto (CUDA when present), cpu or cuda[:N].")

    @field_validator("chat_template")
    @classmethod
    def _a_template_file(cls, path: Path | None) -> Path | None:
        if path is not None and not path.is_file():
            raise ValueError(f"{path}: no such file")
        return path

    @field_validator("lr_scheduler")
    @classmethod
    def _known_scheduler(cls, name: str) -> str:
        from transformers import SchedulerType

        return SchedulerType(name).value  # ValueError naming the known ones

    @property
    def uses_lora(self) -> bool:
        return self.lora or self.qlora

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else (2e-4 if self.uses_lora else 2e-5)


def vision_tower(model: torch.nn.Module) -> tuple[str, torch.nn.Module] | None:
    """The submodule (name, module) built from the model's `vision_config`."""
    vision_config = getattr(model.config, "vision_config", None)
    for name, module in model.named_modules():
        if name and getattr(module, "config", None) is vision_config:
            return name, module
    return None


def freeze_vision_tower(model: torch.nn.Module) -> None:
    """Stop the vision tower training, but for a projector inside it."""
    found = vision_tower(model)
    for name, param in found[1].named_parameters() if found else ():
        if not set(name.split(".")) & set(PROJECTOR_PARTS):
            param.requires_grad_(False)


def lora_targets(model: torch.nn.Module) -> list[str]:
    """Full names of the linear layers outside the vision tower, but the output head."""
    found = vision_tower(model)
    skip = (found[0] + ".",) if found else ()
    output = model.get_output_embeddings()
    return [name for name, module in model.named_modules()
            if isinstance(module, torch.nn.Linear) and module is not output and not name.startswith(skip)]


def load_base(source: str, settings: HFSettings, dtype: torch.dtype, device: str) -> tuple[Any, Any]:
    """The processor and model to fine-tune (4-bit for QLoRA)."""
    import transformers

    try:
        config = transformers.AutoConfig.from_pretrained(source)
    except (OSError, ValueError) as err:
        raise ValueError(f"hf:{source}: {str(err).splitlines()[0]}") from None
    if not hasattr(config, "vision_config"):
        raise ValueError(f"hf:{source}: not an image-text-to-text model (its config has no vision_config)")
    kwargs: dict = {"dtype": dtype}
    if settings.qlora:
        if not device.startswith("cuda"):
            raise ValueError("qlora needs a CUDA GPU (bitsandbytes 4-bit weights)")
        if importlib.util.find_spec("bitsandbytes") is None:
            raise ValueError("qlora needs bitsandbytes: pip install bitsandbytes==0.50.2")
        kwargs["device_map"] = {"": device}
        kwargs["quantization_config"] = transformers.BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=dtype, bnb_4bit_use_double_quant=True)
    processor = transformers.AutoProcessor.from_pretrained(source)
    model = transformers.AutoModelForImageTextToText.from_pretrained(source, **kwargs)
    return processor, model if settings.qlora else model.to(device)


def _not_end_of_turn_warning(record: logging.LogRecord) -> bool:
    return "end-of-turn token" not in record.getMessage()


@dataclass
class SFTRun:
    trainer: Any  # trl.SFTTrainer
    progress: Any  # hf_progress.ProgressCallback
    model_template: str | None  # the processor's own chat template, saved with the checkpoint
    record: dict  # what training.json says of the setup


def sft_trainer(samples: list[dict], model: str, scratch: str | Path, settings: HFSettings, epochs: int = 1,
                global_batch_size: int = 128, seed: int = 0, show_progress: bool = True,
                time_budget_s: float | None = None) -> SFTRun:
    """TRL's `SFTTrainer` set up on `samples` for `model` (hub id or folder), its scratch output in `scratch`."""
    from transformers import PrinterCallback
    from trl import SFTConfig, SFTTrainer

    from synthloop.train.hf_progress import ProgressCallback

    if epochs < 1:
        raise BudgetError(f"epochs must be at least 1, not {epochs}")
    micro_batching(global_batch_size, settings.micro_batch_size, len(samples))  # before loading a large model
    try:
        device = resolve_device(settings.device)
    except ModelError as err:
        raise ValueError(str(err)) from None
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    processor, network = load_base(model, settings, dtype, device)
    model_template = processor.chat_template
    try:
        end = reply_end(processor, training_template(processor, settings.chat_template))
    except ValueError as err:
        raise ValueError(f"hf:{model}: {err}") from None
    if end:  # TRL would warn that the template leaves the stop token untrained: the replies carry it
        logging.getLogger("trl.trainer.sft_trainer").addFilter(_not_end_of_turn_warning)
    rows, skipped = chat_rows(samples, settings.image_root, end)
    micro = micro_batching(global_batch_size, settings.micro_batch_size, len(rows))
    if settings.freeze_vision:
        freeze_vision_tower(network)
    peft_config = None
    if settings.uses_lora:
        from peft import LoraConfig

        peft_config = LoraConfig(r=settings.lora_r, lora_alpha=settings.lora_alpha, lora_dropout=settings.lora_dropout,
                                 target_modules=lora_targets(network), task_type="CAUSAL_LM")
    args = SFTConfig(
        output_dir=str(scratch), num_train_epochs=epochs, per_device_train_batch_size=micro,
        gradient_accumulation_steps=math.ceil(global_batch_size / micro), learning_rate=settings.learning_rate,
        lr_scheduler_type=settings.lr_scheduler, warmup_steps=settings.warmup_fraction,
        weight_decay=settings.weight_decay, bf16=dtype == torch.bfloat16, use_cpu=device == "cpu", seed=seed,
        data_seed=seed, activation_checkpointing=settings.gradient_checkpointing, max_length=settings.max_length,
        assistant_only_loss=True, chat_template_path=settings.chat_template and str(settings.chat_template),
        save_strategy="no", report_to="none", logging_steps=1, disable_tqdm=True, dataloader_num_workers=0)
    progress = ProgressCallback(global_batch_size, show_progress, time_budget_s)
    trainer = SFTTrainer(model=network, args=args, train_dataset=vision_dataset(rows), processing_class=processor,
                         peft_config=peft_config, callbacks=[progress])
    trainer.remove_callback(PrinterCallback)  # the progress bar shows the logs
    record = {"seed": seed, "device": device, "dtype": str(dtype).removeprefix("torch."),
              "train_config": {**settings.model_dump(mode="json"), "lr": settings.learning_rate},
              "samples": len(rows), "micro_batch_size": micro, "skipped": [list(s) for s in skipped]}
    return SFTRun(trainer, progress, model_template, record)


def train_hf(samples: list[dict] | str | Path, out: str | Path, model: str, epochs: int = 1,
             max_samples: int | None = None, global_batch_size: int = 128, seed: int = 0,
             init: str | Path | None = None, show_progress: bool = True, time_budget_s: float | None = None,
             work: str | Path | None = None, **settings: Any) -> Path:
    """Fine-tune `model` (a hub id or folder; `init`, a checkpoint of an earlier round, instead when given)
    on canonical samples (a list, or a Parquet file/folder) and write model, processor and
    `training.json` to `out`; `settings` are `HFSettings` fields; `work` takes TRL's scratch output."""
    checked = HFSettings.model_validate(settings)
    samples = load_training_samples(samples, max_samples)
    source = str(init if init is not None else model)
    out = Path(out)
    scratch = Path(work) if work is not None else out.with_name(out.name + "-train")
    run = sft_trainer(samples, source, scratch, checked, epochs, global_batch_size, seed, show_progress, time_budget_s)
    started = time.perf_counter()
    run.trainer.train()
    seconds = time.perf_counter() - started
    trained = merged(run.trainer.model, source, checked, scratch) if checked.uses_lora else run.trainer.model
    trained.save_pretrained(out)
    processor = run.trainer.processing_class
    processor.chat_template = run.model_template  # the model's own, not a training version
    processor.save_pretrained(out)
    record, steps = run.record, run.progress.steps
    seen = min(steps * global_batch_size, record["samples"] * epochs)
    stage = {"stage": "sft", "samples": record.pop("samples"), "epochs": epochs, "global_batch_size": global_batch_size,
             "micro_batch_size": record.pop("micro_batch_size"), "steps": steps,
             "planned_steps": run.trainer.state.max_steps, "samples_seen": seen, "seconds": round(seconds, 3),
             "samples_per_s": round(seen / max(seconds, 1e-9), 2),
             "losses": [round(x, 5) for x in run.progress.losses], "skipped": record.pop("skipped")}
    training = {"trainer": "hf", "model": str(model), "init": None if init is None else str(init), **record,
                "stages": [stage]}
    (out / "training.json").write_text(json.dumps(training, indent=2) + "\n")
    return out


def merged(peft_model: Any, source: str, settings: HFSettings, scratch: Path) -> Any:
    """The base model with the trained LoRA adapters merged in (for QLoRA: into a bf16 reload of the base)."""
    if not settings.qlora:
        return peft_model.merge_and_unload()
    import transformers
    from peft import PeftModel

    peft_model.save_pretrained(scratch / "adapters")
    base = transformers.AutoModelForImageTextToText.from_pretrained(source, dtype=torch.bfloat16)
    return PeftModel.from_pretrained(base, scratch / "adapters").merge_and_unload()
