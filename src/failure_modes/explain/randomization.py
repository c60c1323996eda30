"""The model-parameter randomisation sanity check: do the maps change with the weights?

``randomize_layers`` re-initialises a model's top layers (cascading from the output, in the
order of :func:`parameter_layers`); ``rank_correlation`` and ``structural_similarity`` say how
alike the maps of the trained and the randomised model still are.
"""

from __future__ import annotations

import copy

import torch
from scipy.stats import rankdata
from torch import nn

from failure_modes.explain.scores import relevance
from failure_modes.utils.seeding import seeded
from failure_modes.utils.validation import (
    as_tensor,
    check_finite,
    check_model,
    check_positive_int,
    check_same_shape,
)

__all__ = ["parameter_layers", "randomize_layers", "rank_correlation", "structural_similarity"]


def parameter_layers(model: nn.Module) -> list[str]:
    """Names of the modules that own parameters, from the last registered back to the first.

    For ``nn.Sequential`` models such as :class:`~failure_modes.models.DenseModel` this is from
    the output layer back to the input: the order of a cascading randomisation.
    """
    check_model(model)
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
    with seeded(seed):
        for name in layers[:n_layers]:
            if not hasattr(modules[name], "reset_parameters"):
                raise TypeError(
                    f"layer {name!r} has no reset_parameters(); cannot re-initialise it."
                )
            modules[name].reset_parameters()
    return randomized.eval()


def _checked_maps(first: object, second: object) -> tuple[torch.Tensor, torch.Tensor]:
    checked = []
    for maps, name in ((first, "first"), (second, "second")):
        maps = check_finite(as_tensor(maps, name), name)
        if maps.ndim not in (3, 4):
            raise ValueError(
                f"{name} must be maps of shape [N, H, W] or [N, C, H, W], got {tuple(maps.shape)}."
            )
        checked.append(maps)
    return checked[0], checked[1]


def rank_correlation(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """Spearman rank correlation between two sets of maps' absolute relevance, per image.

    Parameters
    ----------
    first, second : Tensor
        Maps of the same shape, ``[N, H, W]`` or ``[N, C, H, W]``.

    Returns
    -------
    Tensor
        ``[N]`` float32 values in [-1, 1]; where a map is constant (e.g. all zeros), 1 if the
        other is the same map and 0 otherwise. Ranks and sums are computed in float64 and the
        result clamped, so a map against itself gives exactly 1 and against its reversed
        ranks exactly -1 (float32 sums of 784 ranks drift by about 1e-6).
    """
    a, b = _checked_maps(first, second)
    a, b = relevance(a), relevance(b)
    check_same_shape(a, b, "first", "second")
    # Average ranks for ties: sparse maps (Guided Backprop, occlusion) have many equal zeros.
    ranks_a = torch.from_numpy(rankdata(a.flatten(1).cpu().numpy(), axis=1)).double()
    ranks_b = torch.from_numpy(rankdata(b.flatten(1).cpu().numpy(), axis=1)).double()
    ranks_a, ranks_b = (
        ranks_a - ranks_a.mean(1, keepdim=True),
        ranks_b - ranks_b.mean(1, keepdim=True),
    )
    norm = ranks_a.norm(dim=1) * ranks_b.norm(dim=1)
    same = (a.flatten(1) == b.flatten(1)).all(dim=1).double()
    rho = (ranks_a * ranks_b).sum(1) / norm.clamp_min(1e-12)
    return torch.where(norm > 0, rho.clamp(-1.0, 1.0), same).float()


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
    first, second = _checked_maps(first, second)
    a, b = relevance(first).float(), relevance(second).float()
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
