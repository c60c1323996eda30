"""A model's real mistakes, and contrastive saliency: why this class and not that one.

``misclassified`` lists the wrong predictions of a model on a dataset. ``contrastive_saliency``
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
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from failure_modes.explain.attribution import METHODS, attribute
from failure_modes.explain.scores import mask_share, relevance
from failure_modes.models.evaluation import predict_proba
from failure_modes.utils.devices import evaluating
from failure_modes.utils.validation import (
    as_tensor,
    check_choice,
    check_model,
    check_positive_int,
    check_targets,
)

__all__ = [
    "KINDS",
    "DEFAULT_METHODS",
    "Mistakes",
    "misclassified",
    "LogitContrast",
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


def _class_names(dataset: object, num_classes: int) -> tuple[str, ...]:
    # Follow Subset.dataset down to a torchvision dataset that knows its class names.
    inner = dataset
    while not hasattr(inner, "classes") and hasattr(inner, "dataset"):
        inner = inner.dataset
    names = getattr(inner, "classes", None)
    if names is not None and len(names) >= num_classes:
        return tuple(str(name) for name in names)
    return tuple(str(k) for k in range(num_classes))


@dataclass(frozen=True)
class Mistakes:
    """The wrong predictions of a model on a dataset, one entry per mistake, in dataset order.

    Attributes
    ----------
    index : ndarray of int
        Position of each mistaken item in the dataset.
    predicted, true : ndarray of int
        The model's label and the annotated label.
    confidence : ndarray of float
        Softmax probability of the predicted label.
    true_probability : ndarray of float
        Softmax probability the model gave the true label.
    class_names : tuple of str
        Name of each label (from ``dataset.classes`` when it has them).
    total : int
        Number of items evaluated (mistakes and correct ones).
    """

    index: np.ndarray
    predicted: np.ndarray
    true: np.ndarray
    confidence: np.ndarray
    true_probability: np.ndarray
    class_names: tuple[str, ...]
    total: int

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, item: Any) -> Mistakes:
        """A subset of the mistakes: a slice, an index array or a boolean mask."""
        pick = np.arange(len(self))[item]
        pick = np.atleast_1d(pick)
        return Mistakes(
            self.index[pick],
            self.predicted[pick],
            self.true[pick],
            self.confidence[pick],
            self.true_probability[pick],
            self.class_names,
            self.total,
        )

    def sample(self, n: int, seed: int | None = None) -> Mistakes:
        """``n`` mistakes: the first ``n`` (``seed=None``) or ``n`` drawn at random, in order.

        Raises
        ------
        ValueError
            If there are fewer than ``n`` mistakes.
        """
        check_positive_int(n, "n")
        if n > len(self):
            raise ValueError(f"asked for {n} mistakes, but there are only {len(self)}.")
        if seed is None:
            return self[:n]
        chosen = np.random.default_rng(seed).choice(len(self), size=n, replace=False)
        return self[np.sort(chosen)]

    @property
    def error_rate(self) -> float:
        """Share of the evaluated items that are mistakes."""
        return len(self) / self.total if self.total else 0.0

    def pairs(self) -> list[tuple[str, str, int]]:
        """``(true name, predicted name, count)`` for every confusion, most frequent first."""
        keys, counts = np.unique(np.stack([self.true, self.predicted]), axis=1, return_counts=True)
        order = np.lexsort((keys[1], keys[0], -counts))
        return [
            (self.class_names[keys[0, k]], self.class_names[keys[1, k]], int(counts[k]))
            for k in order
        ]

    def to_text(self, limit: int = 10) -> str:
        """The first ``limit`` mistakes as an aligned text table, with a one-line summary."""
        head = f"{len(self)} mistakes out of {self.total} items ({100 * self.error_rate:.1f} %)"
        rows = [("index", "predicted", "true", "confidence", "p(true)")]
        for k in range(min(limit, len(self))):
            rows.append(
                (
                    str(self.index[k]),
                    self.class_names[self.predicted[k]],
                    self.class_names[self.true[k]],
                    f"{self.confidence[k]:.3f}",
                    f"{self.true_probability[k]:.3f}",
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
        more = [f"... {len(self) - limit} more"] if len(self) > limit else []
        return "\n".join([head, *(line.rstrip() for line in lines), *more])

    def __repr__(self) -> str:
        return self.to_text()


def misclassified(
    model: nn.Module,
    dataset: object,
    *,
    batch_size: int = 1000,
    device: str | torch.device | None = None,
) -> Mistakes:
    """The items of ``dataset`` that ``model`` gets wrong, with labels and confidences.

    Parameters
    ----------
    model : nn.Module
        A classifier returning logits.
    dataset : Dataset or tuple of tensors
        As accepted by :func:`failure_modes.models.evaluation.predict`; class names come from its
        ``classes`` attribute (followed through ``Subset``), else the labels are numbered.
    batch_size : int, default 1000
        Images per forward pass.
    device : str or torch.device, optional
        Default :func:`failure_modes.models.training.pick_device`.

    Returns
    -------
    Mistakes
        One entry per wrong prediction, in dataset order.

    Examples
    --------
    >>> mistakes = misclassified(model, test_set)  # doctest: +SKIP
    >>> mistakes.pairs()[:3]  # doctest: +SKIP
    [('Shirt', 'T-shirt/top', 152), ...]
    """
    proba, true = predict_proba(model, dataset, batch_size=batch_size, device=device)
    predicted = proba.argmax(axis=1)
    wrong = np.flatnonzero(predicted != true)
    return Mistakes(
        index=wrong,
        predicted=predicted[wrong],
        true=true[wrong].astype(np.int64),
        confidence=proba[wrong, predicted[wrong]],
        true_probability=proba[wrong, true[wrong]],
        class_names=_class_names(dataset, proba.shape[1]),
        total=len(true),
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
        logits = self.model(inputs)
        return logits.gather(1, predicted[:, None]) - logits.gather(1, true[:, None])


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
    images = as_tensor(inputs, "inputs")
    if images.ndim == 3:
        images = images.unsqueeze(0)
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
