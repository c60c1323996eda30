"""Devices: pick one that exists, find where a model lives, evaluate without changing the model.

One device rule: compute where the model is; ``device=`` is taken only where a model is built or
trained (move a model with ``model.to(device)`` before computing with it elsewhere); a device this
machine does not have is refused with our message, not torch's driver error.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

__all__ = ["check_device", "device_of", "evaluating", "pick_device"]


def _available(device: torch.device) -> bool:
    if device.type == "cpu":
        return True
    if device.type == "cuda":
        if not torch.cuda.is_available():
            return False
        return device.index is None or device.index < torch.cuda.device_count()
    if device.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        return mps is not None and mps.is_available()
    return device.type == "meta"


def check_device(device: object, name: str = "device") -> torch.device:
    """``device`` as a :class:`torch.device` this machine has, or a clear error.

    Raises
    ------
    TypeError
        If ``device`` is neither a string nor a ``torch.device``.
    ValueError
        If it names no device, or one this machine lacks (``"cuda"`` without a GPU).
    """
    if isinstance(device, bool) or not isinstance(device, (str, torch.device)):
        raise TypeError(
            f"{name} must be a str such as 'cpu' or 'cuda', or a torch.device, got "
            f"{type(device).__name__} {device!r}."
        )
    try:
        resolved = torch.device(device)
    except (RuntimeError, ValueError) as error:
        raise ValueError(
            f"{name} {device!r} names no device; use 'cpu', 'cuda', 'cuda:0' or 'mps'."
        ) from error
    if not _available(resolved):
        raise ValueError(
            f"{name} {str(resolved)!r} is not available on this machine; pass device=None "
            f"(the best one available: {str(pick_device())!r}) or device='cpu'."
        )
    return resolved


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """Return ``device`` if given (it must exist here), else CUDA, then Apple MPS, then CPU."""
    if device is not None:
        return check_device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def device_of(model: nn.Module) -> torch.device:
    """The device of ``model``'s parameters (the CPU for a model without parameters)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
    parameter = next(model.parameters(), None)
    if parameter is None:
        parameter = next(model.buffers(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


@contextlib.contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """The model in eval mode for the block; the caller's model comes back as it was.

    The model itself is used (no copy): it is put in eval mode and every submodule gets its own
    training flag back when the block ends, on every path, exceptions included.

    Examples
    --------
    >>> with evaluating(model) as net:  # doctest: +SKIP
    ...     logits = net(images)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
    flags = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, flag in flags:
            module.training = flag
