"""The device a local backend runs on."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from synthloop.models.protocols import ModelError


def check_device(device: str) -> str:
    """`device` when it names one (auto, or a torch device: cpu, cuda, cuda:N, mps, ...); ValueError otherwise."""
    if device != "auto":
        import torch

        try:
            torch.device(device)
        except RuntimeError:
            raise ValueError(f"unknown device {device!r}: use auto, cpu, cuda or cuda:N") from None
    return device


# A settings field naming a device, checked when the settings are read.
Device = Annotated[str, AfterValidator(check_device)]


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError(f"device {device!r} requested but CUDA is not available")
    return device
