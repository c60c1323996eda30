"""Devices: pick the best one available, find where a model lives, evaluate without moving it."""

from __future__ import annotations

import copy

import torch
from torch import nn

__all__ = ["device_of", "model_on", "pick_device"]


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """Return ``device`` if given, else the best available: CUDA, then Apple MPS, then CPU."""
    if device is not None:
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def device_of(model: nn.Module) -> torch.device:
    """The device of ``model``'s parameters (the CPU for a model without parameters)."""
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def model_on(model: nn.Module, device: str | torch.device | None) -> nn.Module:
    """Return ``model`` in eval mode on ``device`` without moving the model given.

    ``device=None`` keeps the model where it is. Another device gets a copy, so evaluating on
    the GPU never leaves a CPU model there (nor the other way round).
    """
    if device is None or torch.device(device) == device_of(model):
        return model.eval()
    return copy.deepcopy(model).to(device).eval()
