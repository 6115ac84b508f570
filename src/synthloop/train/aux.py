"""Auxiliary losses: extra objectives that stage 2 trains beside the language-model loss.

A loss is registered under a name with a builder; the training setting `aux_losses: {name: {params}}`
asks for it. In that order, each builder sees the model, the samples, their encoding and the tokenizer,
and returns the loss module, or None when the data gives it nothing to learn. Its parameters train with
the stage; its `close()` runs when the stage ends, and it is not saved with the checkpoint.
The lab's losses (`synthloop.lab.probes`) register when that package is imported.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Protocol

import torch
from tokenizers import Tokenizer

from synthloop.models.tinyvlm.network import TinyVLM
from synthloop.train.data import Batch, EncodedData


class AuxLoss(Protocol):
    def named_parameters(self) -> Iterator[tuple[str, torch.nn.Parameter]]: ...

    def loss(self, batch: Batch) -> torch.Tensor:
        """The batch's summed loss; called right after the model's forward pass over `batch`."""
        ...

    def close(self) -> None: ...


class AuxLossBuilder(Protocol):
    def __call__(self, model: TinyVLM, samples: list[dict], data: EncodedData, tokenizer: Tokenizer,
                 **params: Any) -> AuxLoss | None: ...


_BUILDERS: dict[str, AuxLossBuilder] = {}


def register_aux_loss(name: str, builder: AuxLossBuilder) -> None:
    _BUILDERS[name] = builder


def check_aux_losses(specs: Mapping[str, Mapping[str, Any]]) -> None:
    """ValueError naming any requested loss that no builder is registered for."""
    unknown = sorted(set(specs) - set(_BUILDERS))
    if unknown:
        known = ", ".join(sorted(_BUILDERS)) or "none"
        raise ValueError(f"unknown auxiliary loss(es) {', '.join(unknown)} (registered: {known}; the lab's "
                         "register when synthloop.lab.probes is imported)")


def build_aux_losses(specs: Mapping[str, Mapping[str, Any]], model: TinyVLM, samples: list[dict],
                     data: EncodedData, tokenizer: Tokenizer) -> list[AuxLoss]:
    """The requested losses that the data supports, in the order asked."""
    check_aux_losses(specs)
    built = [_BUILDERS[name](model, samples, data, tokenizer, **params) for name, params in specs.items()]
    return [loss for loss in built if loss is not None]
