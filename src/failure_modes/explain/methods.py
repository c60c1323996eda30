"""One entry point over Captum's attribution methods, batched.

``attribute(model, inputs, target, method=...)`` looks the method up in :data:`METHODS` (one
row per method: the Captum class and its default options), runs it over the inputs in batches
sized by :func:`default_batch_size` and returns maps of the inputs' shape.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from captum.attr import (
    DeepLift,
    GradientShap,
    GuidedBackprop,
    InputXGradient,
    IntegratedGradients,
    NoiseTunnel,
    Occlusion,
    Saliency,
)
from torch import nn

from failure_modes.utils.devices import device_of, evaluating
from failure_modes.utils.validation import (
    as_tensor,
    check_choice,
    check_float_batch,
    check_positive_int,
    check_targets,
)

__all__ = [
    "Method",
    "METHODS",
    "ROWS_PER_PASS",
    "default_batch_size",
    "attribute",
    "accepts_baselines",
]


@dataclass(frozen=True)
class Method:
    """A Captum method: how to build it from a model and its default ``attribute`` options."""

    build: Callable[[nn.Module], Any]
    defaults: dict[str, Any] = field(default_factory=dict)
    needs_baseline_distribution: bool = False


def _smoothgrad_ig(model: nn.Module) -> NoiseTunnel:
    return NoiseTunnel(IntegratedGradients(model))


METHODS: dict[str, Method] = {
    "integrated_gradients": Method(IntegratedGradients, {"n_steps": 32}),
    "saliency": Method(Saliency, {"abs": True}),
    "input_x_gradient": Method(InputXGradient),
    "gradient_shap": Method(
        GradientShap, {"n_samples": 16, "stdevs": 0.1}, needs_baseline_distribution=True
    ),
    "deep_lift": Method(DeepLift),
    "guided_backprop": Method(GuidedBackprop),
    # perturbations_per_eval batches the window positions: same maps, far fewer forward calls.
    "occlusion": Method(
        Occlusion,
        {"sliding_window_shapes": (1, 3, 3), "strides": (1, 1, 1), "perturbations_per_eval": 16},
    ),
    "noise_tunnel_ig": Method(
        _smoothgrad_ig, {"nt_type": "smoothgrad", "nt_samples": 8, "stdevs": 0.2, "n_steps": 16}
    ),
}
"""Known method names, each mapped to its Captum class and default options."""


ROWS_PER_PASS = 1024
"""Model inputs per forward pass that :func:`attribute` aims at when no batch size is given."""


_PER_IMAGE = ("n_steps", "n_samples", "nt_samples", "perturbations_per_eval")
"""The options that turn one image into several model inputs."""


def _method_options(method: str) -> list[str]:
    """The options :func:`attribute` passes on to ``method``'s Captum ``attribute``, sorted.

    For a noise tunnel, its own options and those of the method it wraps.
    """
    check_choice(method, METHODS, "method")
    explainer = METHODS[method].build(nn.Identity())
    explainers = [explainer]
    if isinstance(explainer, NoiseTunnel):
        explainers.append(explainer.attribution_method)
    names = {
        parameter.name
        for one in explainers
        for parameter in inspect.signature(one.attribute).parameters.values()
        if parameter.kind not in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL)
    }
    return sorted(names - {"self", "inputs", "target"})


def _check_options(method: str, options: dict[str, Any]) -> None:
    """Unknown options are refused by name, and the counts that size a batch checked."""
    known = _method_options(method)
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise TypeError(
            f"unknown option(s) {unknown} for method {method!r}; it takes {known} (passed on "
            "to Captum's attribute as keyword arguments)."
        )
    for key in _PER_IMAGE:
        if key in options:
            check_positive_int(options[key], key)


def default_batch_size(method: str, **options: Any) -> int:
    """Images per Captum call that :func:`attribute` uses for ``method`` when none is given.

    One image becomes several model inputs under some methods (``n_steps`` interpolation
    points, ``n_samples`` or ``nt_samples`` noisy copies, ``perturbations_per_eval`` occluded
    copies); the batch holds about :data:`ROWS_PER_PASS` of them. ``options`` are those of
    :func:`attribute`: an option ``method`` does not take is a ``TypeError`` naming the ones
    it takes, and a count (``n_steps``, ...) must be a positive int.

    Examples
    --------
    >>> default_batch_size("integrated_gradients")  # 32 steps per image
    32
    >>> default_batch_size("saliency")
    1024
    """
    _check_options(method, options)
    settings = {**METHODS[method].defaults, **options}
    per_image = 1
    for key in _PER_IMAGE:
        per_image *= max(int(settings.get(key, 1)), 1)
    return max(1, ROWS_PER_PASS // per_image)


def _baseline_distribution(inputs: torch.Tensor, baselines: object) -> torch.Tensor:
    # GradientShap samples baselines from a distribution; a single reference becomes a batch of 1.
    if baselines is None:
        return torch.zeros(1, *inputs.shape[1:], device=inputs.device)
    if isinstance(baselines, (int, float)):
        return torch.full((1, *inputs.shape[1:]), float(baselines), device=inputs.device)
    baselines = as_tensor(baselines, "baselines").to(inputs.device)
    return baselines if baselines.ndim == inputs.ndim else baselines.unsqueeze(0)


def attribute(
    model: nn.Module,
    inputs: torch.Tensor,
    target: int | torch.Tensor,
    method: str = "integrated_gradients",
    *,
    batch_size: int | None = None,
    **options: Any,
) -> torch.Tensor:
    """Attribution maps of ``model``'s ``target`` logit for each input, by a Captum method.

    Parameters
    ----------
    model : nn.Module
        A classifier returning logits ``[N, num_classes]``; it is put in eval mode.
    inputs : Tensor
        ``[N, C, H, W]`` float inputs, prepared as the model expects (normalised).
    target : int or Tensor
        The class to explain: one for all inputs, or one per input (``[N]``); integer labels
        (a float such as ``3.0`` is refused rather than truncated).
    method : str, default "integrated_gradients"
        A key of :data:`METHODS`.
    batch_size : int, optional
        Inputs per Captum call. By default about :data:`ROWS_PER_PASS` model inputs go through
        each forward pass: a method that turns one image into many (Integrated Gradients into
        ``n_steps``, its noise tunnel into ``nt_samples * n_steps``) gets fewer images per
        call. That bounds memory, and on a CPU it is also the fastest size.
    **options
        Passed to the method's ``attribute`` and override its defaults, e.g. ``baselines=``,
        ``n_steps=``, ``abs=False`` (signed saliency). An option the method does not take is
        a ``TypeError`` naming those it takes.

    Returns
    -------
    Tensor
        Attributions of the same shape as ``inputs``, detached, on the CPU.

    Examples
    --------
    >>> maps = attribute(model, inputs, target=7)  # doctest: +SKIP
    >>> artifact_mass(maps, Pixel().mask(28, 28))  # doctest: +SKIP
    """
    _check_options(method, options)
    inputs = as_tensor(inputs, "inputs")
    if not inputs.is_floating_point() or inputs.ndim < 2:
        raise ValueError(
            f"inputs must be a float batch [N, C, H, W], got dtype {inputs.dtype} and shape "
            f"{tuple(inputs.shape)}."
        )
    inputs = check_float_batch(inputs, "inputs", ndim=4)
    spec = METHODS[method]
    kwargs = {**spec.defaults, **options}
    if batch_size is None:
        batch_size = default_batch_size(method, **options)
    check_positive_int(batch_size, "batch_size")
    device = device_of(model)
    inputs = inputs.to(device)
    with evaluating(model):
        num_classes = None
        if "additional_forward_args" not in kwargs:  # else the forward needs more than inputs
            with torch.no_grad():
                num_classes = model(inputs[:1]).shape[-1]
        targets = check_targets(
            target, len(inputs), "target", num_classes=num_classes, device=device
        )
        explainer = spec.build(model)
        if spec.needs_baseline_distribution:
            kwargs["baselines"] = _baseline_distribution(inputs, kwargs.get("baselines"))
        chunks = []
        for start in range(0, len(inputs), batch_size):
            stop = start + batch_size
            batch_kwargs = dict(kwargs)
            baselines = batch_kwargs.get("baselines")
            if (
                not spec.needs_baseline_distribution
                and isinstance(baselines, torch.Tensor)
                and baselines.shape == inputs.shape
            ):
                batch_kwargs["baselines"] = baselines[start:stop].to(device)
            maps = explainer.attribute(
                inputs[start:stop], target=targets[start:stop], **batch_kwargs
            )
            chunks.append(maps.detach().cpu())
    return torch.cat(chunks)


def accepts_baselines(method: str) -> bool:
    """Whether ``method``'s Captum ``attribute`` takes ``baselines`` (a reference input)."""
    check_choice(method, METHODS, "method")
    explainer = METHODS[method].build(nn.Identity())
    if isinstance(explainer, NoiseTunnel):
        explainer = explainer.attribution_method
    return "baselines" in inspect.signature(explainer.attribute).parameters
