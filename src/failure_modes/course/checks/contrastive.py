"""Checkers for the coding tasks of the contrastive notebook (``notebooks/contrastive.py``).

Each checker runs the student's function on a small probe of its own (random logits, random
maps, a tiny linear classifier on 4 x 4 images), compares what it gives with what the typical
mistakes would give, and returns the student's function when it is right, else the library's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from failure_modes.course.checks import feedback
from failure_modes.explain.contrastive import logit_contrast as library_logit_contrast
from failure_modes.explain.contrastive import relative_gap as library_relative_gap
from failure_modes.explain.counterfactual import counterfactual
from failure_modes.explain.proximity import l1_size

__all__ = ["change_size", "library_search", "logit_contrast", "penalised_search", "relative_gap"]

_ATOL = 1e-5
# The probe classifier's inputs are normalised with these, so a search that forgets the
# normalisation gives other changes.
_PROBE_NORMALIZATION = (0.5, 0.25)
_PROBE_STEPS = 30
_PROBE_LR = 0.05
# A penalty this heavy must shrink the change of any penalised search on the probe.
_HEAVY_WEIGHT = 5.0


# --- Task 2.1: the contrast target -------------------------------------------------------------


def _probe_logits() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    logits = 3 * torch.randn(6, 10, generator=generator)
    predicted = logits.argmax(dim=1)
    true = (predicted + 1 + torch.randint(9, (6,), generator=generator)) % 10
    return logits, predicted, true


def logit_contrast(answer: Any) -> Callable[..., torch.Tensor]:
    """Check Task 2.1, ``logit_contrast(logits, predicted, true)``: one contrast per row.

    Parameters
    ----------
    answer : callable or Ellipsis
        The student's function of ``[N, K]`` logits and two ``[N]`` label tensors.

    Returns
    -------
    callable
        ``answer`` if it gives ``logit[predicted] - logit[true]`` per row, else
        :func:`failure_modes.explain.contrastive.logit_contrast`.
    """
    logits, predicted, true = _probe_logits()
    expected = library_logit_contrast(logits, predicted, true)
    rows = torch.arange(len(logits))
    probabilities = logits.softmax(dim=1)

    def diagnose(function: Any) -> str | None:
        got = feedback.call(function, logits.clone(), predicted.clone(), true.clone())
        mistakes = [
            (
                lambda a: feedback.close(a, -expected),
                "your contrast has the wrong sign (true minus predicted): it should be positive "
                "while the model prefers its wrong answer, so take logit[predicted] - logit[true].",
            ),
            (
                lambda a: feedback.close(
                    a, probabilities[rows, predicted] - probabilities[rows, true]
                ),
                "these are differences of probabilities (softmax), not of logits: a probability "
                "depends on all the other classes too; subtract the logits themselves.",
            ),
            (
                lambda a: feedback.close(a, logits[rows, predicted]),
                "this is the logit of the predicted class alone: the question 'why p and not "
                "t?' needs the true class's logit subtracted from it.",
            ),
            (
                lambda a: feedback.close(a, logits[rows, true]),
                "this is the logit of the true class alone: the contrast is the predicted logit "
                "minus the true one.",
            ),
        ]
        return feedback.first_mistake(got, mistakes) or feedback.tensor_mismatch(
            got, expected, "logit_contrast(...)", atol=_ATOL
        )

    return feedback.check("2.1", answer, diagnose, library_logit_contrast)


# --- Task 2.2: the difference map and its gap to the contrast ----------------------------------


def _probe_maps() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    predicted = torch.randn(3, 1, 5, 5, generator=generator)
    true = torch.randn(3, 1, 5, 5, generator=generator)
    noise = 0.01 * torch.randn(3, 1, 5, 5, generator=generator)
    return {"predicted": predicted, "true": true, "contrast": predicted - true + noise}


def relative_gap(answer: Any) -> Callable[[dict[str, torch.Tensor]], torch.Tensor]:
    """Check Task 2.2, ``relative_gap(kinds)``: contrast map against the difference map.

    Parameters
    ----------
    answer : callable or Ellipsis
        The student's function of one method's maps (keys ``"predicted"``, ``"true"``,
        ``"contrast"``), returning one number.

    Returns
    -------
    callable
        ``answer`` if it gives ``max |contrast - (predicted - true)| / max |contrast|``, else
        :func:`failure_modes.explain.contrastive.relative_gap`.
    """
    maps = _probe_maps()
    contrast = maps["contrast"]
    scale = contrast.abs().max()
    expected = library_relative_gap(maps)

    def diagnose(function: Any) -> str | None:
        try:
            got = feedback.call(function, {key: value.clone() for key, value in maps.items()})
        except KeyError as error:
            return (
                f"your function asks for the map {error}: build the difference map yourself, "
                'from kinds["predicted"] and kinds["true"].'
            )
        mistakes = [
            (
                lambda a: feedback.close(
                    a, (contrast - (maps["true"] - maps["predicted"])).abs().max() / scale
                ),
                "your difference map has the wrong sign (true minus predicted): the contrast is "
                "logit[p] - logit[t], so compare it with the map of p minus the map of t.",
            ),
            (
                lambda a: feedback.close(a, (contrast - maps["predicted"]).abs().max() / scale),
                "you compared the contrast with the map of the predicted class alone: the "
                "difference map is the map of the prediction minus the map of the truth.",
            ),
            (
                lambda a: feedback.close(
                    a, (contrast - (maps["predicted"] - maps["true"])).abs().max()
                ),
                "the gap is not relative: divide it by the largest absolute value of the "
                "contrast map, so that methods of different scales can be compared.",
            ),
        ]
        problem = feedback.first_mistake(got, mistakes)
        if problem is None and not feedback.close(got, expected):
            problem = f"the relative gap should be {float(expected):.4g} on a probe, got {got}."
        return problem

    return feedback.check("2.2", answer, diagnose, library_relative_gap)


# --- Task 3.1: the penalised counterfactual search ---------------------------------------------


def library_search(
    model: nn.Module,
    pixels: torch.Tensor,
    targets: torch.Tensor,
    weight: float,
    normalization: tuple[float, float],
    steps: int = 100,
    lr: float = 0.02,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Task 3.1's search done by :func:`failure_modes.explain.counterfactual.counterfactual`.

    Parameters
    ----------
    model : nn.Module
        A classifier of normalised images.
    pixels : Tensor
        ``[N, C, H, W]`` images in pixel units ([0, 1]).
    targets : Tensor
        ``[N]`` the class each image should be given.
    weight : float
        Penalty per unit of L1 size of the change.
    normalization : (float, float)
        ``(mean, std)``: the model sees ``(pixels - mean) / std``.
    steps : int, default 100
    lr : float, default 0.02

    Returns
    -------
    change : Tensor
        ``[N, C, H, W]`` in pixel units.
    success : Tensor
        ``[N]`` bool, whether the model answers the target for ``pixels + change``.
    """
    mean, std = normalization
    result = counterfactual(
        model,
        (pixels - mean) / std,
        targets,
        distance="l1",
        weight=weight,
        steps=steps,
        lr=lr,
        normalization=normalization,
    )
    return result.change, result.success


def _probe_classifier() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(2)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    with torch.no_grad():
        model[1].weight.copy_(torch.randn(3, 16, generator=generator))
        model[1].bias.zero_()
    pixels = torch.rand(4, 1, 4, 4, generator=generator)
    mean, std = _PROBE_NORMALIZATION
    with torch.no_grad():
        predicted = model((pixels - mean) / std).argmax(dim=1)
    return model.eval(), pixels, (predicted + 1) % 3


def _run_search(
    function: Any, pixels: torch.Tensor, targets: torch.Tensor, weight: float
) -> tuple[torch.Tensor, torch.Tensor]:
    # A fresh probe model each time: the student's function may change what it is given.
    got = feedback.call(
        function,
        _probe_classifier()[0],
        pixels.clone(),
        targets.clone(),
        weight=weight,
        normalization=_PROBE_NORMALIZATION,
        steps=_PROBE_STEPS,
        lr=_PROBE_LR,
    )
    if not (isinstance(got, tuple | list) and len(got) == 2):
        raise TypeError("the search should return two things, (change, success)")
    change, success = (torch.as_tensor(item).detach() for item in got)
    if change.shape != pixels.shape or success.shape != targets.shape:
        raise ValueError(
            f"change should have shape {list(pixels.shape)} and success {list(targets.shape)}, "
            f"got {list(change.shape)} and {list(success.shape)}"
        )
    return change, success.bool()


def _target_log_probability(
    model: nn.Module, pixels: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    mean, std = _PROBE_NORMALIZATION
    with torch.no_grad():
        log_p = model((pixels - mean) / std).log_softmax(dim=1)
    return log_p.gather(1, targets[:, None])[:, 0]


def _search_mistake(function: Any) -> str | None:
    model, pixels, targets = _probe_classifier()
    change, success = _run_search(function, pixels, targets, weight=0.0)
    heavy, _ = _run_search(function, pixels, targets, weight=_HEAVY_WEIGHT)
    mean, std = _PROBE_NORMALIZATION
    with torch.no_grad():
        answers = model((pixels + change - mean) / std).argmax(dim=1) == targets
        on_original = model((pixels - mean) / std).argmax(dim=1) == targets
    before = _target_log_probability(model, pixels, targets).mean()
    after = _target_log_probability(model, pixels + change, targets).mean()
    changed = pixels + change
    free_size, heavy_size = float(l1_size(change).sum()), float(l1_size(heavy).sum())
    n = len(targets)
    mistakes = [
        (
            lambda _: after < before,
            "the change pushes the images away from their target class (its probability falls "
            "during the search): is the sign of the loss flipped? Minimise the loss towards the "
            "target.",
        ),
        (
            lambda _: torch.equal(success, on_original) and not torch.equal(success, answers),
            "`success` tests the original images; test the counterfactuals, pixels + change: "
            "does the model now answer the target class?",
        ),
        (
            lambda _: bool((changed < -1e-4).any() or (changed > 1 + 1e-4).any()),
            "pixels + change leaves the valid range [0, 1]: clamp delta after each step.",
        ),
        (
            lambda _: int(answers.sum()) < n - 1,
            f"without a penalty your search reaches the target for only {int(answers.sum())} "
            f"of {n} probe images in {_PROBE_STEPS} steps (the library's: all of them); does "
            "each step lower the loss towards the target?",
        ),
        (
            lambda _: heavy_size >= 0.8 * free_size,
            f"a penalty weight of {_HEAVY_WEIGHT} changes the probe images as much as no "
            f"penalty (L1 size {heavy_size:.3g} against {free_size:.3g}): is weight * L1 "
            "size of delta part of the loss? Without it the change is unbounded.",
        ),
        (
            lambda _: not torch.equal(success, answers),
            "`success` should say, per image, whether the model's prediction for pixels + "
            "change equals the target class; yours does not.",
        ),
    ]
    return feedback.first_mistake(None, mistakes)


def penalised_search(answer: Any) -> Callable[..., tuple[torch.Tensor, torch.Tensor]]:
    """Check Task 3.1, ``penalised_search(model, pixels, targets, weight, normalization, ...)``.

    The student's search runs on a tiny linear classifier of 4 x 4 images, once without a
    penalty and once with a heavy one, for a few steps.

    Parameters
    ----------
    answer : callable or Ellipsis
        The student's search, returning ``(change, success)``.

    Returns
    -------
    callable
        ``answer`` if it behaves like a penalised search with a correct success test, else
        :func:`library_search`.
    """
    return feedback.check("3.1", answer, _search_mistake, library_search)


# --- Task 3.2: the size of the change ----------------------------------------------------------


def _library_change_size(
    change: torch.Tensor, nearest: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    size = l1_size(change)
    return size, size / nearest


def change_size(answer: Any) -> Callable[..., tuple[torch.Tensor, torch.Tensor]]:
    """Check Task 3.2, ``change_size(change, nearest)``: per-image L1 size and its ratio.

    Parameters
    ----------
    answer : callable or Ellipsis
        The student's function of ``[N, C, H, W]`` changes and ``[N]`` distances to the
        nearest training image, returning ``(size, ratio)``.

    Returns
    -------
    callable
        ``answer`` if right, else the library's: :func:`~failure_modes.explain.proximity.l1_size`
        and the size divided by ``nearest``.
    """
    generator = torch.Generator().manual_seed(3)
    change = 0.1 * torch.randn(4, 1, 5, 5, generator=generator)
    nearest = 1 + torch.rand(4, generator=generator)
    size, ratio = _library_change_size(change, nearest)

    def diagnose(function: Any) -> str | None:
        got = feedback.call(function, change.clone(), nearest.clone())
        if not (isinstance(got, tuple | list) and len(got) == 2):
            return "`change_size` should return two tensors, (size, ratio)."
        got_size, got_ratio = got
        total = size.sum()
        mistakes = [
            (
                lambda a: feedback.close(a, change.flatten(1).norm(dim=1)),
                "this is the L2 size (square root of the summed squares); the L1 size sums the "
                "absolute pixel changes.",
            ),
            (
                # One number for the whole batch, alone or repeated for every image.
                lambda a: feedback.close(torch.as_tensor(a).flatten().expand(4), total.expand(4)),
                f"you summed over the whole batch (got {float(total):.3g} for all images); the "
                "size should be one number per image: sum over all dimensions but the first.",
            ),
            (
                lambda a: feedback.close(a, change.flatten(1).sum(dim=1)),
                "brightening and darkening cancel in a signed sum: take the absolute value of "
                "each pixel change before summing.",
            ),
        ]
        problem = feedback.first_mistake(got_size, mistakes) or feedback.tensor_mismatch(
            got_size, size, "size", atol=_ATOL
        )
        if problem is None and feedback.close(got_ratio, nearest / size):
            problem = "the ratio is upside down: divide the change's size by the distance."
        return problem or feedback.tensor_mismatch(got_ratio, ratio, "ratio", atol=_ATOL)

    return feedback.check("3.2", answer, diagnose, _library_change_size)
