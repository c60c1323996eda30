"""One entry point over Captum's attribution methods, and the artifact mass of a map.

``attribute(model, inputs, target, method=...)`` looks the method up in :data:`METHODS` (one
row per method: the Captum class and its default options), runs it over the inputs in batches
and returns maps of the inputs' shape. ``artifact_mass`` turns a map into one number per image:
the share of absolute attribution that falls on a planted artifact.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
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
from scipy.stats import rankdata
from torch import nn
from tqdm.auto import tqdm

from failure_modes.utils.validation import (
    as_tensor,
    check_choice,
    check_mask,
    check_positive_int,
    check_same_shape,
)

__all__ = [
    "Method",
    "METHODS",
    "ROWS_PER_PASS",
    "default_batch_size",
    "attribute",
    "artifact_mass",
    "chance_level",
    "relevance_rank_accuracy",
    "pointing_game",
    "accepts_baselines",
    "MethodComparison",
    "compare_methods",
    "parameter_layers",
    "randomize_layers",
    "rank_correlation",
    "structural_similarity",
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


def default_batch_size(method: str, **options: Any) -> int:
    """Images per Captum call that :func:`attribute` uses for ``method`` when none is given.

    One image becomes several model inputs under some methods (``n_steps`` interpolation
    points, ``n_samples`` or ``nt_samples`` noisy copies, ``perturbations_per_eval`` occluded
    copies); the batch holds about :data:`ROWS_PER_PASS` of them.

    Examples
    --------
    >>> default_batch_size("integrated_gradients")  # 32 steps per image
    32
    >>> default_batch_size("saliency")
    1024
    """
    check_choice(method, METHODS, "method")
    settings = {**METHODS[method].defaults, **options}
    per_image = 1
    for key in ("n_steps", "n_samples", "nt_samples", "perturbations_per_eval"):
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
        The class to explain: one for all inputs, or one per input (``[N]``).
    method : str, default "integrated_gradients"
        A key of :data:`METHODS`.
    batch_size : int, optional
        Inputs per Captum call. By default about :data:`ROWS_PER_PASS` model inputs go through
        each forward pass: a method that turns one image into many (Integrated Gradients into
        ``n_steps``, its noise tunnel into ``nt_samples * n_steps``) gets fewer images per
        call. That bounds memory, and on a CPU it is also the fastest size.
    **options
        Passed to the method's ``attribute`` and override its defaults, e.g. ``baselines=``,
        ``n_steps=``, ``abs=False`` (signed saliency).

    Returns
    -------
    Tensor
        Attributions of the same shape as ``inputs``, detached, on the CPU.

    Examples
    --------
    >>> maps = attribute(model, images, target=7)  # doctest: +SKIP
    >>> artifact_mass(maps, Pixel().mask(28, 28))  # doctest: +SKIP
    """
    check_choice(method, METHODS, "method")
    inputs = as_tensor(inputs, "inputs")
    if not inputs.is_floating_point() or inputs.ndim < 2:
        raise ValueError(
            f"inputs must be a float batch [N, C, H, W], got dtype {inputs.dtype} and shape "
            f"{tuple(inputs.shape)}."
        )
    spec = METHODS[method]
    kwargs = {**spec.defaults, **options}
    if batch_size is None:
        batch_size = default_batch_size(method, **options)
    check_positive_int(batch_size, "batch_size")
    device = next(model.parameters()).device
    inputs = inputs.to(device)
    targets = torch.as_tensor(target, device=device).long()
    if targets.ndim == 0:
        targets = targets.expand(len(inputs))
    if targets.shape != (len(inputs),):
        raise ValueError(
            f"target must be an int or have shape [{len(inputs)}], got {tuple(targets.shape)}."
        )
    model.eval()
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
        maps = explainer.attribute(inputs[start:stop], target=targets[start:stop], **batch_kwargs)
        chunks.append(maps.detach().cpu())
    return torch.cat(chunks)


def artifact_mass(attributions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Share of absolute attribution that falls inside ``mask``, per image.

    A value of 1 means all relevance is on the artifact; for an attribution spread evenly over
    the image, it equals the share of the image the mask covers (``mask.float().mean()``).

    Parameters
    ----------
    attributions : Tensor
        ``[N, H, W]`` or ``[N, C, H, W]`` maps (channels are summed in absolute value).
    mask : Tensor
        Boolean ``[H, W]`` (one for all images) or ``[N, H, W]``.

    Returns
    -------
    Tensor
        ``[N]`` values in [0, 1] (0 for an all-zero map).
    """
    attributions = as_tensor(attributions, "attributions")
    if attributions.ndim == 4:
        relevance = attributions.abs().sum(dim=1)
    elif attributions.ndim == 3:
        relevance = attributions.abs()
    else:
        raise ValueError(
            "attributions must have shape [N, H, W] or [N, C, H, W], got "
            f"{tuple(attributions.shape)}."
        )
    mask = check_mask(mask, tuple(relevance.shape[-2:])).to(relevance.device)
    if mask.ndim == 3:
        check_same_shape(mask, relevance, "mask", "attributions (without channels)")
    inside = (relevance * mask).flatten(1).sum(dim=1)
    total = relevance.flatten(1).sum(dim=1)
    # Divide by 1 where the map is all zero (its mass is 0); a clamp would distort tiny maps.
    return torch.where(total > 0, inside / torch.where(total > 0, total, 1), 0.0)


# --- Comparing methods, localisation scores and the randomisation sanity check (issue 4) ---


def _relevance(attributions: object) -> torch.Tensor:
    """Absolute relevance per pixel, ``[N, H, W]`` (channels summed)."""
    attributions = as_tensor(attributions, "attributions")
    if attributions.ndim == 4:
        return attributions.detach().abs().sum(dim=1)
    if attributions.ndim == 3:
        return attributions.detach().abs()
    raise ValueError(
        f"attributions must have shape [N, H, W] or [N, C, H, W], got {tuple(attributions.shape)}."
    )


def _relevance_and_mask(attributions: object, mask: object) -> tuple[torch.Tensor, torch.Tensor]:
    """Relevance ``[N, H, W]`` and the mask expanded to ``[N, H, W]`` on the same device."""
    relevance = _relevance(attributions)
    mask = check_mask(mask, tuple(relevance.shape[-2:])).to(relevance.device)
    if mask.ndim == 3:
        check_same_shape(mask, relevance, "mask", "attributions (without channels)")
        if not bool(mask.flatten(1).any(dim=1).all()):
            raise ValueError("mask covers no pixel for some images; every image needs one.")
    return relevance, mask.expand_as(relevance)


def chance_level(mask: torch.Tensor) -> torch.Tensor:
    """Share of the image a mask covers: what a random map scores on every localisation score.

    Parameters
    ----------
    mask : Tensor
        Boolean ``[H, W]`` or ``[N, H, W]``.

    Returns
    -------
    Tensor
        A 0-d tensor for an ``[H, W]`` mask, ``[N]`` for a batch of masks.

    Examples
    --------
    >>> chance_level(torch.tensor([[True, False], [False, False]])).item()
    0.25
    """
    mask = as_tensor(mask, "mask")
    mask = check_mask(mask, tuple(mask.shape[-2:]))
    return mask.float().mean(dim=(-2, -1))


def relevance_rank_accuracy(attributions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Share of the ``K`` most relevant pixels that lie inside the mask, with ``K = |mask|``.

    1 means the ``K`` top pixels are exactly the artifact; a map that ignores the mask scores
    about :func:`chance_level` (the share of the image the mask covers).

    Parameters
    ----------
    attributions : Tensor
        ``[N, H, W]`` or ``[N, C, H, W]`` maps (channels are summed in absolute value).
    mask : Tensor
        Boolean ``[H, W]`` (one for all images) or ``[N, H, W]``.

    Returns
    -------
    Tensor
        ``[N]`` float values in [0, 1].
    """
    relevance, mask = _relevance_and_mask(attributions, mask)
    flat, inside = relevance.flatten(1), mask.flatten(1)
    sizes = inside.sum(dim=1)
    # Rank every pixel once, then count the mask's pixels among each image's own top K.
    order = flat.argsort(dim=1, descending=True, stable=True)
    ranks = torch.empty_like(order)
    ranks.scatter_(1, order, torch.arange(flat.shape[1], device=flat.device).expand_as(order))
    hits = (inside & (ranks < sizes[:, None])).sum(dim=1)
    return hits.float() / sizes.float()


def pointing_game(attributions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Whether the single most relevant pixel of each map lies inside the mask.

    A map without any relevance (all zeros) points nowhere and scores False. A map that ignores
    the mask hits with probability :func:`chance_level`.

    Parameters
    ----------
    attributions : Tensor
        ``[N, H, W]`` or ``[N, C, H, W]`` maps (channels are summed in absolute value).
    mask : Tensor
        Boolean ``[H, W]`` (one for all images) or ``[N, H, W]``.

    Returns
    -------
    Tensor
        ``[N]`` booleans.
    """
    relevance, mask = _relevance_and_mask(attributions, mask)
    flat = relevance.flatten(1)
    top = flat.argmax(dim=1, keepdim=True)
    return mask.flatten(1).gather(1, top).squeeze(1) & (flat.amax(dim=1) > 0)


def accepts_baselines(method: str) -> bool:
    """Whether ``method``'s Captum ``attribute`` takes ``baselines`` (a reference input)."""
    check_choice(method, METHODS, "method")
    explainer = METHODS[method].build(nn.Identity())
    if isinstance(explainer, NoiseTunnel):
        explainer = explainer.attribution_method
    return "baselines" in inspect.signature(explainer.attribute).parameters


@dataclass(frozen=True)
class MethodComparison:
    """Maps of several methods on the same images, and one score row per image x method.

    Attributes
    ----------
    maps : dict of str to Tensor
        The attributions of each method, each of the inputs' shape.
    table : pandas.DataFrame
        Columns ``method, image, target, artifact_mass, rank_accuracy, pointing_game, chance``.
    """

    maps: dict[str, torch.Tensor]
    table: pd.DataFrame

    def summary(self) -> pd.DataFrame:
        """Per-method means of the scores, indexed by method in the order they were run (the
        pointing game becomes a hit rate)."""
        scores = ["artifact_mass", "rank_accuracy", "pointing_game", "chance"]
        return self.table.groupby("method", sort=False)[scores].mean()

    def to_text(self, precision: int = 3) -> str:
        """The per-method summary as aligned text."""
        return self.summary().round(precision).to_string()

    def __repr__(self) -> str:
        return self.to_text()


def compare_methods(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: int | torch.Tensor,
    masks: torch.Tensor,
    methods: Sequence[str] | None = None,
    *,
    baselines: float | torch.Tensor | None = None,
    batch_size: int | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    progress: bool = True,
) -> MethodComparison:
    """Attribution maps of several methods and their scores against an artifact mask.

    Parameters
    ----------
    model : nn.Module
        A classifier returning logits.
    inputs : Tensor
        ``[N, C, H, W]`` float inputs, prepared as the model expects.
    targets : int or Tensor
        The class to explain: one for all inputs or one per input (``[N]``).
    masks : Tensor
        Boolean ``[H, W]`` (the same artifact everywhere) or ``[N, H, W]``.
    methods : sequence of str, optional
        Keys of :data:`METHODS`; default all of them.
    baselines : float or Tensor, optional
        Reference input for the methods that take one (see :func:`accepts_baselines`), e.g.
        the normalised value of a black pixel; default each method's own (zeros).
    batch_size : int, optional
        Inputs per Captum call; default: chosen per method as in :func:`attribute`.
    options : mapping of str to mapping, optional
        Extra options per method, e.g. ``{"integrated_gradients": {"n_steps": 64}}``.
    progress : bool, default True
        Show a progress bar over the methods.

    Returns
    -------
    MethodComparison
        ``.maps`` per method and ``.table`` with one row per image x method; print it for the
        per-method means.

    Examples
    --------
    >>> result = compare_methods(model, x, 7, Square().mask(28, 28))  # doctest: +SKIP
    >>> print(result.summary())  # doctest: +SKIP
    """
    if isinstance(methods, str):
        raise TypeError(f"methods must be a list of method names, got the string {methods!r}.")
    names = list(METHODS) if methods is None else list(methods)
    if not names:
        raise ValueError(f"methods is empty; choose some of {list(METHODS)}.")
    for name in names:
        check_choice(name, METHODS, "method")
    options = dict(options or {})
    for name in options:
        check_choice(name, names, "method in options")
    inputs = as_tensor(inputs, "inputs")
    if not inputs.is_floating_point() or inputs.ndim != 4:
        raise ValueError(
            f"inputs must be a float batch [N, C, H, W], got dtype {inputs.dtype} and shape "
            f"{tuple(inputs.shape)}."
        )
    masks = check_mask(masks, tuple(inputs.shape[-2:]), "masks")
    if masks.ndim == 3 and len(masks) != len(inputs):
        raise ValueError(f"masks must have {len(inputs)} entries, one per input, got {len(masks)}.")
    target_list = torch.as_tensor(targets).long().expand(len(inputs)).tolist()
    maps: dict[str, torch.Tensor] = {}
    columns: dict[str, dict[str, list]] = {}
    share = chance_level(masks).expand(len(inputs)).tolist()
    for name in tqdm(names, desc="methods", disable=not progress, leave=False):
        kwargs = dict(options.get(name, {}))
        if baselines is not None and accepts_baselines(name):
            kwargs.setdefault("baselines", baselines)
        maps[name] = attribute(model, inputs, targets, name, batch_size=batch_size, **kwargs)
        columns[name] = {
            "artifact_mass": artifact_mass(maps[name], masks).tolist(),
            "rank_accuracy": relevance_rank_accuracy(maps[name], masks).tolist(),
            "pointing_game": pointing_game(maps[name], masks).tolist(),
        }
    rows = [
        {
            "method": name,
            "image": index,
            "target": target_list[index],
            **{score: values[index] for score, values in columns[name].items()},
            "chance": share[index],
        }
        for name in names
        for index in range(len(inputs))
    ]
    return MethodComparison(maps, pd.DataFrame(rows))


def parameter_layers(model: nn.Module) -> list[str]:
    """Names of the modules that own parameters, from the last registered back to the first.

    For ``nn.Sequential`` models such as :class:`~failure_modes.models.DenseModel` this is from
    the output layer back to the input: the order of a cascading randomisation.
    """
    owners = [
        name
        for name, module in model.named_modules()
        if next(module.parameters(False), None) is not None
    ]
    return owners[::-1]


def randomize_layers(model: nn.Module, n_layers: int, seed: int = 0) -> nn.Module:
    """Return a copy of ``model`` whose top ``n_layers`` layers are re-initialised at random.

    The model-parameter randomisation test: an explanation that depends on what the model
    learned must change when its weights are replaced by fresh random ones. Layers are
    re-initialised cascading from the output (see :func:`parameter_layers`); the model given is
    never changed.

    Parameters
    ----------
    model : nn.Module
        A trained model; its parameter-owning layers need ``reset_parameters``.
    n_layers : int
        How many layers to re-initialise, from 0 (an exact copy) to all of them.
    seed : int, default 0
        Seeds the new weights; the global random state is left as it was.

    Returns
    -------
    nn.Module
        A new model, in eval mode, on the same device.
    """
    layers = parameter_layers(model)
    if isinstance(n_layers, bool) or not isinstance(n_layers, int):
        raise TypeError(f"n_layers must be an int, got {type(n_layers).__name__} {n_layers!r}.")
    if not 0 <= n_layers <= len(layers):
        raise ValueError(
            f"n_layers must lie in 0..{len(layers)} (the model has {len(layers)} layers with "
            f"parameters: {layers}), got {n_layers}."
        )
    randomized = copy.deepcopy(model)
    modules = dict(randomized.named_modules())
    cuda = sorted({p.device.index or 0 for p in randomized.parameters() if p.is_cuda})
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        for name in layers[:n_layers]:
            if not hasattr(modules[name], "reset_parameters"):
                raise TypeError(
                    f"layer {name!r} has no reset_parameters(); cannot re-initialise it."
                )
            modules[name].reset_parameters()
    return randomized.eval()


def rank_correlation(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """Spearman rank correlation between two sets of maps' absolute relevance, per image.

    Parameters
    ----------
    first, second : Tensor
        Maps of the same shape, ``[N, H, W]`` or ``[N, C, H, W]``.

    Returns
    -------
    Tensor
        ``[N]`` values in [-1, 1]; where a map is constant (e.g. all zeros), 1 if the other is
        the same map and 0 otherwise.
    """
    a, b = _relevance(first), _relevance(second)
    check_same_shape(a, b, "first", "second")
    # Average ranks for ties: sparse maps (Guided Backprop, occlusion) have many equal zeros.
    ranks_a = torch.from_numpy(rankdata(a.flatten(1).cpu().numpy(), axis=1)).float()
    ranks_b = torch.from_numpy(rankdata(b.flatten(1).cpu().numpy(), axis=1)).float()
    ranks_a, ranks_b = (
        ranks_a - ranks_a.mean(1, keepdim=True),
        ranks_b - ranks_b.mean(1, keepdim=True),
    )
    norm = ranks_a.norm(dim=1) * ranks_b.norm(dim=1)
    same = (a.flatten(1) == b.flatten(1)).all(dim=1).float()
    return torch.where(norm > 0, (ranks_a * ranks_b).sum(1) / norm.clamp_min(1e-12), same)


def structural_similarity(
    first: torch.Tensor, second: torch.Tensor, window: int = 7
) -> torch.Tensor:
    """Structural similarity (SSIM) between two sets of maps' absolute relevance, per image.

    Each map is scaled to [0, 1] by its maximum first, so only the pattern counts, not the
    scale; SSIM is averaged over ``window`` x ``window`` patches (no padding).

    Parameters
    ----------
    first, second : Tensor
        Maps of the same shape, ``[N, H, W]`` or ``[N, C, H, W]``.
    window : int, default 7
        Side of the square patches; at most the image size.

    Returns
    -------
    Tensor
        ``[N]`` values, 1 for identical patterns.
    """
    a, b = _relevance(first).float(), _relevance(second).float()
    check_same_shape(a, b, "first", "second")
    check_positive_int(window, "window")
    if window > min(a.shape[-2:]):
        raise ValueError(
            f"window must be at most the image size {tuple(a.shape[-2:])}, got {window}."
        )
    a = (a / a.flatten(1).amax(1).clamp_min(1e-12)[:, None, None]).unsqueeze(1)
    b = (b / b.flatten(1).amax(1).clamp_min(1e-12)[:, None, None]).unsqueeze(1)

    def mean(x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.avg_pool2d(x, window, stride=1)

    mu_a, mu_b = mean(a), mean(b)
    var_a, var_b = mean(a * a) - mu_a**2, mean(b * b) - mu_b**2
    cov = mean(a * b) - mu_a * mu_b
    c1, c2 = 0.01**2, 0.03**2  # the usual constants for data in [0, 1]
    ssim = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / (
        (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    )
    return ssim.flatten(1).mean(dim=1)
