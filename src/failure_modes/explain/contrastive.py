"""A model's real mistakes, and contrastive saliency: why this class and not that one.

``misclassified`` (from :mod:`failure_modes.explain.mistakes`) lists the wrong predictions of
a model on a dataset. ``contrastive_saliency``
explains one mistake (or a batch) with signed attribution maps for the predicted class, for the
true class, their difference, and the attribution of the contrast ``logit[predicted] -
logit[true]`` itself — for several Captum methods through
:func:`failure_modes.explain.attribution.attribute`.

Signed maps matter here: a pixel that speaks *for* the predicted class and one that speaks
*against* it cancel in a difference only if their signs survive. Captum's ``Saliency`` takes the
absolute value of the gradient by default, which is why it is called with ``abs=False``.

For every method that is linear in the explained output (signed gradients, Input x Gradient,
Integrated Gradients, DeepLift, Occlusion) the map of the contrast equals the difference of the
two maps, up to rounding: explaining ``logit[p] - logit[t]`` and subtracting two explanations is
the same thing. Guided Backprop is not linear (it drops negative gradients at every ReLU on the
way back), so there the contrast says something the difference does not; methods that sample
(GradientShap, noise tunnels) also differ by their sampling noise.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from failure_modes.explain.attribution import METHODS, attribute
from failure_modes.explain.mistakes import Mistakes, misclassified
from failure_modes.explain.scores import mask_share, relevance
from failure_modes.utils.devices import evaluating
from failure_modes.utils.validation import (
    as_tensor,
    check_choice,
    check_finite,
    check_float_batch,
    check_image_or_batch,
    check_model,
    check_not_none,
    check_positive_int,
    check_targets,
)

__all__ = [
    "KINDS",
    "DEFAULT_METHODS",
    "Mistakes",
    "misclassified",
    "LogitContrast",
    "logit_contrast",
    "relative_gap",
    "contrastive_saliency",
    "mass_in_mask",
]

KINDS = ("predicted", "true", "difference", "contrast")
"""The maps returned per method: predicted class, true class, predicted - true, the contrast."""

DEFAULT_METHODS = (
    "saliency",
    "input_x_gradient",
    "integrated_gradients",
    "deep_lift",
    "guided_backprop",
)


class LogitContrast(nn.Module):
    """Wraps a classifier so that its one output is ``logit[predicted] - logit[true]``.

    The wrapped model's modules (its ``nn.ReLU`` instances included) are used unchanged, so
    Captum's DeepLift and Guided Backprop hook them as in the plain model. ``predicted`` and
    ``true`` come in as extra forward arguments, which Captum expands with the inputs (pass them
    as ``additional_forward_args``).
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, inputs: torch.Tensor, predicted: torch.Tensor, true: torch.Tensor
    ) -> torch.Tensor:
        return logit_contrast(self.model(inputs), predicted, true)[:, None]


def logit_contrast(
    logits: torch.Tensor, predicted: torch.Tensor, true: torch.Tensor
) -> torch.Tensor:
    """The contrast ``logit[predicted] - logit[true]`` of each row of ``logits``.

    Positive while the model prefers its (wrong) answer; logits rather than probabilities,
    because a difference of logits does not depend on the other classes.

    Parameters
    ----------
    logits : Tensor
        ``[N, K]`` the model's outputs.
    predicted, true : Tensor
        ``[N]`` integer labels: the class explained and the one it is contrasted with.

    Returns
    -------
    Tensor
        ``[N]`` one contrast per row.
    """
    logits = check_float_batch(logits, "logits", ndim=2)
    n, classes = logits.shape
    predicted = check_targets(predicted, n, "predicted", num_classes=classes, device=logits.device)
    true = check_targets(true, n, "true", num_classes=classes, device=logits.device)
    return (logits.gather(1, predicted[:, None]) - logits.gather(1, true[:, None]))[:, 0]


def relative_gap(maps: dict[str, torch.Tensor]) -> torch.Tensor:
    """How far the contrast map is from the difference of the two class maps, relatively.

    Parameters
    ----------
    maps : dict
        ``"predicted"``, ``"true"`` and ``"contrast"`` maps of one method, as
        :func:`contrastive_saliency` returns them.

    Returns
    -------
    Tensor
        0-d: ``max |contrast - (predicted - true)| / max |contrast|`` over the whole batch;
        rounding level for the methods linear in the explained output.
    """
    check_not_none(maps, "maps", 'a dict of "predicted", "true" and "contrast" maps')
    missing = [kind for kind in ("predicted", "true", "contrast") if kind not in maps]
    if missing:
        raise ValueError(
            f'maps must hold "predicted", "true" and "contrast" maps, got keys {sorted(maps)}; '
            "pass one method's maps from contrastive_saliency(...)[method]."
        )
    maps = {kind: check_finite(maps[kind], f'maps["{kind}"]') for kind in maps}
    difference = maps["predicted"] - maps["true"]
    return (maps["contrast"] - difference).abs().max() / maps["contrast"].abs().max()


def _method_options(method: str, baselines: object, options: dict[str, Any]) -> dict[str, Any]:
    spec = METHODS[method]
    kwargs: dict[str, Any] = {}
    if method == "saliency":
        kwargs["abs"] = False  # signed gradients; Captum's default takes the absolute value
    explainer_attribute = spec.build(nn.Identity()).attribute
    if baselines is not None and "baselines" in inspect.signature(explainer_attribute).parameters:
        kwargs["baselines"] = baselines
    kwargs.update(options)
    return kwargs


def contrastive_saliency(
    model: nn.Module,
    inputs: torch.Tensor,
    predicted: int | torch.Tensor,
    true: int | torch.Tensor,
    methods: Sequence[str] = DEFAULT_METHODS,
    *,
    baselines: float | torch.Tensor | None = None,
    batch_size: int = 64,
    options: dict[str, dict[str, Any]] | None = None,
    kinds: Sequence[str] = KINDS,
) -> dict[str, dict[str, torch.Tensor]]:
    """Signed attribution maps for the predicted class, the true class, and their contrast.

    Parameters
    ----------
    model : nn.Module
        A classifier returning logits.
    inputs : Tensor
        ``[C, H, W]`` one image or ``[N, C, H, W]`` a batch, prepared as the model expects.
    predicted, true : int or Tensor
        The model's label and the correct one, one for all images or ``[N]``.
    methods : sequence of str, default :data:`DEFAULT_METHODS`
        Keys of :data:`failure_modes.explain.attribution.METHODS`.
    baselines : float or Tensor, optional
        Reference input for the methods that take one (Integrated Gradients, DeepLift,
        GradientShap), in the model's input space; e.g. the normalised value of a black pixel.
        Default: the methods' own (zeros).
    batch_size : int, default 64
        Images per Captum call.
    options : dict, optional
        Extra keyword arguments per method, e.g. ``{"integrated_gradients": {"n_steps": 64}}``.
    kinds : sequence of str, default :data:`KINDS`
        Which maps to compute; ``("contrast",)`` alone costs a third of all four.

    Returns
    -------
    dict
        ``maps[method][kind]`` is a ``[N, C, H, W]`` tensor on the CPU for each of ``kinds``:
        ``"predicted"`` (map of ``logit[predicted]``), ``"true"`` (map of ``logit[true]``),
        ``"difference"`` (predicted minus true) and ``"contrast"`` (map of
        ``logit[predicted] - logit[true]``, computed directly).

    Examples
    --------
    >>> maps = contrastive_saliency(model, x[:4], predicted=pred[:4], true=y[:4])  # doctest: +SKIP
    >>> maps["integrated_gradients"]["contrast"].shape  # doctest: +SKIP
    torch.Size([4, 1, 28, 28])
    """
    check_model(model)
    images = check_image_or_batch(model, inputs, "inputs")  # [N, H, W]: its channel axis
    if images.ndim != 4 or not images.is_floating_point():
        raise ValueError(
            f"inputs must be a float [C, H, W] image or [N, C, H, W] batch, got dtype "
            f"{images.dtype} and shape {tuple(images.shape)}."
        )
    for method in methods:
        check_choice(method, METHODS, "method")
    for kind in kinds:
        check_choice(kind, KINDS, "kind")
    check_positive_int(batch_size, "batch_size")
    options = options or {}
    unknown = sorted(set(options) - set(methods))
    if unknown:
        raise ValueError(f"options given for methods not asked for: {unknown}.")
    device = next(model.parameters()).device
    images = images.to(device)
    n = len(images)
    with evaluating(model):
        with torch.no_grad():
            num_classes = model(images[:1]).shape[1]
        predicted = check_targets(predicted, n, "predicted", num_classes=num_classes, device=device)
        true = check_targets(true, n, "true", num_classes=num_classes, device=device)
        return _all_maps(
            model, images, predicted, true, methods, kinds, baselines, batch_size, options
        )


def _all_maps(
    model: nn.Module,
    images: torch.Tensor,
    predicted: torch.Tensor,
    true: torch.Tensor,
    methods: Sequence[str],
    kinds: Sequence[str],
    baselines: float | torch.Tensor | None,
    batch_size: int,
    options: dict[str, dict[str, Any]],
) -> dict[str, dict[str, torch.Tensor]]:
    n = len(images)
    maps: dict[str, dict[str, torch.Tensor]] = {}
    for method in methods:
        kwargs = _method_options(method, baselines, options.get(method, {}))
        found: dict[str, torch.Tensor] = {}
        if set(kinds) - {"contrast"}:
            # One call explains both classes: the batch holds every image twice.
            both = attribute(
                model,
                torch.cat([images, images]),
                torch.cat([predicted, true]),
                method,
                batch_size=batch_size,
                **kwargs,
            )
            found.update(predicted=both[:n], true=both[n:], difference=both[:n] - both[n:])
        if "contrast" in kinds:
            found["contrast"] = _contrast_maps(
                model, images, predicted, true, method, batch_size, kwargs
            )
        maps[method] = {kind: found[kind] for kind in kinds}
    return maps


def _contrast_maps(
    model: nn.Module,
    images: torch.Tensor,
    predicted: torch.Tensor,
    true: torch.Tensor,
    method: str,
    batch_size: int,
    kwargs: dict[str, Any],
) -> torch.Tensor:
    contrast_model = LogitContrast(model)
    # attribute() does not split extra forward arguments with its batches, so batch here.
    return torch.cat(
        [
            attribute(
                contrast_model,
                images[start : start + batch_size],
                0,
                method,
                batch_size=batch_size,
                additional_forward_args=(
                    predicted[start : start + batch_size],
                    true[start : start + batch_size],
                ),
                **kwargs,
            )
            for start in range(0, len(images), batch_size)
        ]
    )


def mass_in_mask(
    attributions: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Share of absolute attribution inside a per-image mask, and the share chance would give.

    Unlike :func:`failure_modes.explain.attribution.artifact_mass`, masks may be empty for some
    images (their share is NaN), as a counterfactual that needed no change has none; the share
    is :func:`failure_modes.explain.scores.mask_share`'s.

    Parameters
    ----------
    attributions : Tensor
        ``[N, C, H, W]`` or ``[N, H, W]`` maps (channels are summed in absolute value).
    mask : Tensor
        Boolean ``[N, H, W]``, e.g. :attr:`CounterfactualResult.changed`.

    Returns
    -------
    share : Tensor
        ``[N]`` share of absolute attribution on the mask (NaN for an empty mask or map).
    chance : Tensor
        ``[N]`` share of the image the mask covers: what an evenly spread map would give.
    """
    shape = tuple(relevance(attributions).shape)
    mask = as_tensor(mask, "mask")
    if mask.dtype != torch.bool or tuple(mask.shape) != shape:
        raise ValueError(
            f"mask must be boolean with shape {shape} (one per map), got "
            f"dtype {mask.dtype} and shape {tuple(mask.shape)}."
        )
    share = mask_share(attributions, mask, undefined=float("nan"))
    return share, mask.to(share.device).flatten(1).float().mean(dim=1)
