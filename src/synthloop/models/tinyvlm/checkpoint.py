"""A TinyVLM checkpoint is a directory: `config.json` + `model.safetensors` + `tokenizer.json`
(+ `training.json`, the training record). Frozen pretrained vision weights are not copied into it:
they are reloaded from their package.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from safetensors.torch import load_file, save_file
from tokenizers import Tokenizer

from synthloop.models.tinyvlm.network import TinyVLM, TinyVLMConfig
from synthloop.models.tinyvlm.tokenizer import load_tokenizer, save_tokenizer

if TYPE_CHECKING:
    from synthloop.models.tinyvlm.inference import TinyVLMModel

FORMAT = "synthloop-tinyvlm"
FORMAT_VERSION = 3
# Settings older checkpoints were trained with, before they became config keys with new defaults.
EARLIER_MODELS = {1: {"mlp": "gelu", "prefix_attention": False, "linear_bias": True}, 2: {"linear_bias": True}}


def _saved_state(model: TinyVLM) -> dict[str, torch.Tensor]:
    state = model.state_dict()
    if model.frozen_vision:
        state = {k: v for k, v in state.items() if not k.startswith("vision.")}
    return {k: v.detach().contiguous() for k, v in state.items()}


def save_checkpoint(model: TinyVLM, tokenizer: Tokenizer, out: str | Path, training: dict | None = None) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    config = {"format": FORMAT, "format_version": FORMAT_VERSION, "model": model.cfg.to_dict()}
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    save_file(_saved_state(model), str(out / "model.safetensors"), metadata={"format": FORMAT})
    save_tokenizer(tokenizer, out)
    if training is not None:
        (out / "training.json").write_text(json.dumps(training, indent=2) + "\n")
    return out


def load_model(path: str | Path) -> tuple[TinyVLM, Tokenizer]:
    """The bare network (in eval mode) and tokenizer of a checkpoint directory."""
    path = Path(path)
    config_file = path / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(f"{path}: not a TinyVLM checkpoint (no config.json)")
    config = json.loads(config_file.read_text())
    if config.get("format") != FORMAT:
        raise ValueError(f"{config_file}: format {config.get('format')!r} is not {FORMAT!r}")
    version = config.get("format_version")
    if version not in (*EARLIER_MODELS, FORMAT_VERSION):
        raise ValueError(f"{config_file}: format_version {version!r} is not one of 1 to {FORMAT_VERSION}")
    settings = {**EARLIER_MODELS.get(version, {}), **config["model"]}
    model = TinyVLM(TinyVLMConfig.from_dict(settings))
    state = load_file(str(path / "model.safetensors"))
    missing, unexpected = model.load_state_dict(state, strict=False)
    if model.frozen_vision:
        missing = [k for k in missing if not k.startswith("vision.")]
    if missing or unexpected:
        raise ValueError(f"{path / 'model.safetensors'}: missing {missing[:3]}, unexpected {unexpected[:3]}")
    return model.eval(), load_tokenizer(path)


def load_checkpoint(path: str | Path) -> TinyVLMModel:
    """A checkpoint as a model that implements the Generator, OptionScorer and Judge protocols."""
    from synthloop.models.tinyvlm.inference import TinyVLMModel

    model, tokenizer = load_model(path)
    return TinyVLMModel(model, tokenizer)
