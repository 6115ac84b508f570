"""Reading a module's activations during the model's own forward pass, as the auxiliary losses do."""

from __future__ import annotations

import torch
from torch import nn


class KeptActivation:
    """The latest output of `module`'s forward pass (the first element of a tuple output), kept by a
    forward hook until `close`."""

    def __init__(self, module: nn.Module):
        self.value: torch.Tensor | None = None
        self._hook = module.register_forward_hook(self._keep)

    def _keep(self, _module: nn.Module, _args: tuple, output: torch.Tensor | tuple) -> None:
        self.value = output[0] if isinstance(output, tuple) else output

    def close(self) -> None:
        self._hook.remove()
