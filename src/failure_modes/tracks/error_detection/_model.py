"""What every part of the error-detection track checks and does with a model: its inputs, a
layer given by name or as a module, batched logits, and eval mode without leaving it changed."""

from __future__ import annotations

import torch
from torch import nn

from failure_modes.utils.devices import evaluating
from failure_modes.utils.validation import (
    as_tensor,
    check_float_batch,
    check_same_device,
    check_targets,
)

__all__ = ["check_inputs", "check_labelled", "evaluating", "logits", "resolve_layer"]


def check_inputs(model: nn.Module, inputs: object, name: str = "inputs") -> torch.Tensor:
    """``inputs`` as a float image batch ``[N, C, H, W]`` on the model's device, or a clear error.

    Raises
    ------
    TypeError
        If ``inputs`` is neither a tensor nor a numpy array.
    ValueError
        For an integer dtype, axes other than ``[N, C, H, W]`` (the message says how to add
        a missing one) or another device than the model's.
    """
    inputs = as_tensor(inputs, name)
    if not inputs.is_floating_point() or inputs.ndim < 2:
        raise ValueError(
            f"{name} must be a float batch [N, C, H, W] prepared as the model expects, got dtype "
            f"{inputs.dtype} and shape {tuple(inputs.shape)}."
        )
    check_same_device(model, inputs, name)
    return check_float_batch(inputs, name, ndim=4)


def check_labelled(
    model: nn.Module, inputs: object, targets: object, name: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(inputs, targets)`` checked, both on the model's device: targets must be classes the
    model has an output for (one forward of one input tells how many), else ``ValueError``.

    ``name`` names the pair in messages (``"validation"``: ``validation targets must ...``).
    """
    inputs = check_inputs(model, inputs, f"{name} inputs")
    with evaluating(model):
        outputs = logits(model, inputs[:1], 1).shape[1]
    labels = check_targets(
        targets, len(inputs), f"{name} targets", num_classes=outputs, device=inputs.device
    )
    return inputs, labels


def resolve_layer(model: nn.Module, layer: str | nn.Module) -> tuple[str, nn.Module]:
    """Return ``(name, module)`` of ``layer``, given by its name in ``model`` or as the module.

    Raises
    ------
    TypeError
        If ``layer`` is neither a string nor a module.
    ValueError
        If it is not a layer of ``model``; the message lists the layers there are.
    """
    named = {name: module for name, module in model.named_modules() if name}
    if isinstance(layer, str):
        if layer not in named:
            raise ValueError(
                f"layer {layer!r} is not a layer of the model; its layers are {list(named)}."
            )
        return layer, named[layer]
    if isinstance(layer, nn.Module):
        for name, module in named.items():
            if module is layer:
                return name, module
        raise ValueError(
            f"layer {type(layer).__name__} is not a submodule of the model; pass one of "
            f"{list(named)} (by name or as model.<name>)."
        )
    raise TypeError(f"layer must be a layer name or an nn.Module, got {type(layer).__name__}.")


def logits(model: nn.Module, inputs: torch.Tensor, batch_size: int) -> torch.Tensor:
    """The model's logits for ``inputs``, ``batch_size`` at a time (no gradient bookkeeping)."""
    with torch.no_grad():
        return torch.cat([model(batch) for batch in inputs.split(batch_size)])
