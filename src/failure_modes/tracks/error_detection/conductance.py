"""Signals read off the model for each input: conductance of a hidden layer, and confidence.

**Conductance** (:func:`layer_conductance`) says how much each channel of a hidden layer carried
the logit of the predicted class along the straight path from a zero input to the image; a right
prediction tends to flow through the channels that usually serve its class. **Confidence**
(:func:`max_softmax`) is the baseline every error detector has to beat.
"""

from __future__ import annotations

import torch
from captum.attr import LayerConductance
from torch import nn
from tqdm.auto import tqdm

from failure_modes.tracks.error_detection._model import (
    check_inputs,
    evaluating,
    logits,
    resolve_layer,
)
from failure_modes.utils.validation import (
    check_choice,
    check_float_batch,
    check_positive_int,
    check_targets,
)

__all__ = ["INTEGRATION_RULES", "layer_conductance", "logit_rise", "max_softmax"]

INTEGRATION_RULES = (
    "gausslegendre",
    "riemann_trapezoid",
    "riemann_left",
    "riemann_right",
    "riemann_middle",
)
"""Captum's rules for the path integral of :func:`layer_conductance`."""


def layer_conductance(
    model: nn.Module,
    inputs: torch.Tensor,
    layer: str | nn.Module,
    *,
    n_steps: int = 10,
    method: str = "gausslegendre",
    batch_size: int = 250,
    target: int | torch.Tensor | None = None,
    progress: bool = True,
) -> torch.Tensor:
    """Conductance of every channel of ``layer`` for the logit of the predicted class.

    Captum's ``LayerConductance`` integrates, along the straight path from a zero input to each
    image, the gradient of the logit with respect to the layer's output times the change of that
    output. For a convolution the result is averaged over space: one number per channel.

    Parameters
    ----------
    model : nn.Module
        A classifier returning logits; it runs in eval mode and leaves as it came.
    inputs : Tensor
        ``[N, C, H, W]`` float inputs on the model's device, prepared as the model expects.
    layer : str or nn.Module
        The layer, by name (``"conv2"``) or as the module (``model.conv2``).
    n_steps : int, default 10
        Steps of the path integral.
    method : str, default "gausslegendre"
        Captum's rule for the integral (also ``"riemann_trapezoid"``, ``"riemann_left"``,
        ...). For the last hidden layer, whose output the logit depends on linearly,
        ``n_steps=1`` with ``"riemann_trapezoid"`` is exact: the conductance of a unit is then
        its weight in the logit times the change of its activation from the baseline.
    batch_size : int, default 250
        Images per Captum call; memory grows as ``batch_size * (n_steps + 1)`` activations.
    target : int or Tensor, optional
        The class whose logit is explained: one int for every input or ``[N]`` ints; default
        the model's own prediction.
    progress : bool, default True
        Show a progress bar over the batches.

    Returns
    -------
    Tensor
        ``[N, channels]`` float conductances on the CPU.

    Examples
    --------
    >>> features = layer_conductance(model, x_test, "conv2")  # doctest: +SKIP
    >>> features.shape  # doctest: +SKIP
    torch.Size([10000, 32])
    """
    inputs = check_inputs(model, inputs)
    _, module = resolve_layer(model, layer)
    check_positive_int(n_steps, "n_steps")
    check_choice(method, INTEGRATION_RULES, "method")
    check_positive_int(batch_size, "batch_size")
    if target is not None:
        with evaluating(model), torch.no_grad():
            num_classes = model(inputs[:1]).shape[-1]
        target = check_targets(
            target, len(inputs), "target", num_classes=num_classes, device=inputs.device
        )
    explainer = LayerConductance(model, module)
    chunks = []
    starts = range(0, len(inputs), batch_size)
    with evaluating(model):
        for start in tqdm(starts, desc="conductance", disable=not progress, leave=False):
            batch = inputs[start : start + batch_size]
            if target is None:
                with torch.no_grad():
                    classes = model(batch).argmax(dim=1)
            else:
                classes = target[start : start + batch_size]
            maps = explainer.attribute(
                batch, baselines=0.0, target=classes, n_steps=n_steps, method=method
            ).detach()
            # A convolution's channel is a map: its conductance is the mean over space.
            chunks.append((maps.flatten(2).mean(dim=2) if maps.ndim > 2 else maps).cpu())
    return torch.cat(chunks)


def max_softmax(model: nn.Module, inputs: torch.Tensor, *, batch_size: int = 1000) -> torch.Tensor:
    """The model's confidence: the largest softmax probability of each input.

    Parameters
    ----------
    model : nn.Module
        A classifier returning logits; it runs in eval mode and leaves as it came.
    inputs : Tensor
        ``[N, C, H, W]`` float inputs on the model's device.
    batch_size : int, default 1000
        Inputs per forward pass.

    Returns
    -------
    Tensor
        ``[N]`` floats in (0, 1] on the CPU; ``1 - max_softmax`` is a suspicion score.
    """
    inputs = check_inputs(model, inputs)
    check_positive_int(batch_size, "batch_size")
    with evaluating(model):
        return logits(model, inputs, batch_size).softmax(dim=1).amax(dim=1).cpu()


def logit_rise(logits: torch.Tensor, baseline_logits: torch.Tensor) -> torch.Tensor:
    """Per image, the predicted class's logit minus the same class's logit at the baseline.

    What the conductances of a layer add up to (completeness). ``logits`` is ``[N, classes]``,
    ``baseline_logits`` ``[1, classes]``, the model's output for the baseline input.
    """
    logits = check_float_batch(logits, "logits", ndim=2)
    baseline_logits = check_float_batch(baseline_logits, "baseline_logits", ndim=2)
    if baseline_logits.shape[1] != logits.shape[1]:
        raise ValueError(
            f"baseline_logits must be [1, {logits.shape[1]}] (the model's output for the "
            f"baseline), got {tuple(baseline_logits.shape)}."
        )
    predicted = logits.argmax(dim=1)
    rows = torch.arange(len(logits), device=logits.device)
    return logits[rows, predicted] - baseline_logits[0, predicted]
