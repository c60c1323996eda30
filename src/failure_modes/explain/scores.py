"""Scores that turn an attribution map into numbers against an artifact's mask.

:func:`mask_share` is the one computation of the share of absolute attribution inside a mask;
:func:`artifact_mass` (and :func:`failure_modes.explain.contrastive.mass_in_mask`) are that
share under their own rules for empty masks and maps. :func:`relevance_rank_accuracy` and
:func:`pointing_game` ask whether the *most* relevant pixels lie on the mask;
:func:`chance_level` is what a map blind to the mask scores on all of them.
"""

from __future__ import annotations

import torch

from failure_modes.utils.validation import as_tensor, check_finite, check_mask, check_same_shape

__all__ = [
    "relevance",
    "mask_share",
    "artifact_mass",
    "chance_level",
    "relevance_rank_accuracy",
    "pointing_game",
]


def relevance(attributions: torch.Tensor) -> torch.Tensor:
    """Absolute relevance per pixel: the maps' absolute values, channels summed, detached.

    Parameters
    ----------
    attributions : Tensor
        ``[N, H, W]`` or ``[N, C, H, W]`` maps.

    Returns
    -------
    Tensor
        ``[N, H, W]``, on the maps' device.
    """
    attributions = check_finite(as_tensor(attributions, "attributions"), "attributions")
    if attributions.ndim == 4:
        return attributions.detach().abs().sum(dim=1)
    if attributions.ndim == 3:
        return attributions.detach().abs()
    raise ValueError(
        f"attributions must have shape [N, H, W] or [N, C, H, W], got {tuple(attributions.shape)}."
    )


def _checked(attributions: object, mask: object, *, allow_empty: bool) -> tuple[torch.Tensor, ...]:
    """Relevance ``[N, H, W]`` and the mask (``[H, W]`` or ``[N, H, W]``) on its device."""
    values = relevance(check_finite(attributions, "attributions"))
    mask = check_mask(mask, tuple(values.shape[-2:]), allow_empty=allow_empty)
    if mask.ndim == 3:
        check_same_shape(mask, values, "mask", "attributions (without channels)")
    return values, mask.to(values.device)


def _share(values: torch.Tensor, mask: torch.Tensor, undefined: float) -> torch.Tensor:
    inside = (values * mask).flatten(1).sum(dim=1)
    total = values.flatten(1).sum(dim=1)
    defined = (total > 0) & mask.flatten(-2).any(dim=-1)
    # Divide by 1 where the share is undefined; a clamp would distort tiny maps.
    return torch.where(defined, inside / torch.where(defined, total, 1), undefined)


def mask_share(
    attributions: torch.Tensor, mask: torch.Tensor, *, undefined: float = float("nan")
) -> torch.Tensor:
    """Share of absolute attribution that falls inside ``mask``, per image.

    The one implementation of attribution mass in a mask: :func:`artifact_mass` and
    :func:`failure_modes.explain.contrastive.mass_in_mask` are this share with their own rules
    for what an image without an answer gets.

    Parameters
    ----------
    attributions : Tensor
        ``[N, H, W]`` or ``[N, C, H, W]`` maps (channels are summed in absolute value).
    mask : Tensor
        Boolean ``[H, W]`` (one for all images) or ``[N, H, W]``; it may cover no pixel.
    undefined : float, default NaN
        The value for an image whose map has no relevance at all or whose mask is empty: the
        share is 0 / 0 there.

    Returns
    -------
    Tensor
        ``[N]`` values in [0, 1], or ``undefined``.

    Examples
    --------
    >>> maps = torch.tensor([[[1.0, 3.0]], [[0.0, 0.0]]])  # two 1 x 2 maps
    >>> mask_share(maps, torch.tensor([[False, True]])).tolist()
    [0.75, nan]
    """
    values, mask = _checked(attributions, mask, allow_empty=True)
    return _share(values, mask, undefined)


def artifact_mass(attributions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Share of absolute attribution that falls inside ``mask``, per image.

    A value of 1 means all relevance is on the artifact; for an attribution spread evenly over
    the image, it equals the share of the image the mask covers (``mask.float().mean()``).

    Parameters
    ----------
    attributions : Tensor
        ``[N, H, W]`` or ``[N, C, H, W]`` maps (channels are summed in absolute value).
    mask : Tensor
        Boolean ``[H, W]`` (one for all images) or ``[N, H, W]``; it must cover some pixel.

    Returns
    -------
    Tensor
        ``[N]`` values in [0, 1] (0 for an all-zero map, or an image whose mask is empty).
    """
    values, mask = _checked(attributions, mask, allow_empty=False)
    return _share(values, mask, 0.0)


def _relevance_and_mask(attributions: object, mask: object) -> tuple[torch.Tensor, torch.Tensor]:
    """Relevance ``[N, H, W]`` and the mask expanded to ``[N, H, W]``; every image needs a pixel."""
    values, mask = _checked(attributions, mask, allow_empty=False)
    if mask.ndim == 3 and not bool(mask.flatten(1).any(dim=1).all()):
        raise ValueError("mask covers no pixel for some images; every image needs one.")
    return values, mask.expand_as(values)


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

    Ties are broken by pixel order: among pixels of equal relevance, the one that comes first
    row by row from the top left (``flatten`` order) ranks higher. This matters more than it
    seems: maps against a black baseline (Integrated Gradients, DeepLift, Input x Gradient)
    are exactly 0 on every black pixel, so when the map has fewer than ``K`` non-zero pixels
    the last places of the top ``K`` are zeros chosen by position, and the score then says
    where the mask lies (top rows score higher), not what the map sees.

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
    the mask hits with probability :func:`chance_level`. ``attributions`` and ``mask`` are as in
    :func:`relevance_rank_accuracy`; the result is ``[N]`` booleans.

    Ties are broken by pixel order, as in :func:`relevance_rank_accuracy`: when several pixels
    share the largest relevance, the map points at the first of them row by row from the top
    left, whether or not the others lie in the mask.
    """
    relevance, mask = _relevance_and_mask(attributions, mask)
    flat = relevance.flatten(1)
    top = flat.argmax(dim=1, keepdim=True)
    return mask.flatten(1).gather(1, top).squeeze(1) & (flat.amax(dim=1) > 0)
