"""Checkers for the coding tasks of the Clever Hans notebook (``notebooks/clever_hans.py``).

Each checker runs the student's function on a probe (tiny images, random maps, a tiny model;
for the flip test the notebook's own model and test set), compares what it gives with what
the typical mistakes would give, and returns the student's function when it is right, else
the library's.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from failure_modes.course.checks import feedback
from failure_modes.data.taint import Corruption, Gradient, taint_dataset
from failure_modes.explain.scores import relevance_rank_accuracy
from failure_modes.models.evaluation import predict
from failure_modes.tracks.clever_hans.behaviour import behavioural_test
from failure_modes.tracks.clever_hans.randomization import randomize_layer
from failure_modes.utils.seeding import seeded

__all__ = ["flip_to", "lighten", "rank_accuracy", "reset_layer"]

_ATOL = 1e-9


def _same(answer: Any, expected: float) -> bool:
    return abs(float(answer) - float(expected)) < _ATOL


# --- Task 1.1: the lightness ramp as a function ------------------------------------------------


def library_lighten(images: torch.Tensor, artifact: Gradient) -> torch.Tensor:
    """The library's ramp: ``artifact(images)`` (the reference answer of Task 1.1)."""
    return artifact(images)


def _probe_images() -> tuple[torch.Tensor, Gradient]:
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (3, 5, 6), generator=generator, dtype=torch.uint8)
    images[:, -1, :] = 250  # bright pixels near the ramp's far end: they must clamp at 255
    # 47 grey levels over a 5 x 6 image: most ramp values are fractions, so rounding shows.
    return images, Gradient(amplitude=47.0, corner="bottom-left")


def lighten(answer: Any) -> Callable[[torch.Tensor, Gradient], torch.Tensor]:
    """Check Task 1.1, ``lighten(images, artifact)``: add a lightness ramp to uint8 images.

    Parameters
    ----------
    answer : callable or Ellipsis
        The student's function of uint8 ``[N, H, W]`` images and a
        :class:`~failure_modes.data.taint.Gradient`, returning new uint8 images.

    Returns
    -------
    callable
        ``answer`` if it gives what the corruption itself gives, else :func:`library_lighten`.
    """
    images, artifact = _probe_images()
    expected = artifact(images)
    summed = images.float() + artifact.ramp(*images.shape[-2:])

    def diagnose(function: Any) -> str | None:
        given = images.clone()
        got = feedback.call(function, given, artifact)
        if not torch.equal(given, images):
            return (
                "your function changed the images it was given: a corruption returns a new "
                "batch and leaves its input alone (work on images.float() or a clone)."
            )
        mistakes = [
            (
                lambda a: a.is_floating_point(),
                f"your images have dtype {got.dtype}: round, clamp to 0..255 and convert back "
                "to torch.uint8, as the data were.",
            ),
            *feedback.pixel_arithmetic_mistakes(images, summed),
        ]
        return feedback.first_mistake(got, mistakes) or feedback.tensor_mismatch(
            got, expected, "lighten(images, artifact)"
        )

    return feedback.check("1.1", answer, diagnose, library_lighten)


# --- Task 3.1: the behavioural flip test ---------------------------------------------------------


def library_flip_to(model: nn.Module, dataset: object, artifact: Corruption, label: int) -> float:
    """The library's flip rate, ``behavioural_test(...)["flip_to"]`` (reference of Task 3.1)."""
    return behavioural_test(model, dataset, artifact, label)["flip_to"]


def _flip_mistakes(
    model: nn.Module, dataset: object, artifact: Corruption, label: int
) -> list[tuple[Callable[[Any], bool], str]]:
    """The typical wrong flip rates on the notebook's model and data, with their sentences."""
    before, true = predict(model, dataset)
    others = [int(k) for k in np.unique(true) if k != label]
    after = predict(model, taint_dataset(dataset, dict.fromkeys(others, artifact)))[0]
    after_all = predict(model, taint_dataset(dataset, dict.fromkeys([*others, label], artifact)))[0]
    other, fresh = true != label, before != label
    candidates = other & fresh
    no_baseline = float((after[other] == label).mean())
    own_class = [float((a[fresh] == label).mean()) for a in (after, after_all)]
    own_and_no_baseline = [float((a == label).mean()) for a in (after, after_all)]
    accuracies = [
        float((after[candidates] == true[candidates]).mean()),
        float((after[other] == true[other]).mean()),
    ]
    return [
        (
            lambda a: _same(a, no_baseline),
            f"you count every image of another class predicted {label} after stamping "
            f"({no_baseline:.3f}), also those the model already called {label} before: keep "
            f"only images not predicted {label} on the unstamped set (the baseline).",
        ),
        (
            lambda a: any(_same(a, v) for v in own_class),
            f"your images include the {label}s themselves: the test asks about the other "
            f"classes, whose digit disagrees with the artifact (true != {label}).",
        ),
        (
            lambda a: any(_same(a, v) for v in own_and_no_baseline),
            f"this is the share of all images predicted {label} after stamping: leave out the "
            f"{label}s themselves and those already predicted {label} before.",
        ),
        (
            lambda a: any(_same(a, v) for v in accuracies),
            "this is an accuracy (predictions equal to the true digit): the flip rate is the "
            f"share predicted as the artifact's class, {label}.",
        ),
    ]


def flip_to(
    answer: Any, model: nn.Module, dataset: object, artifact: Corruption, label: int
) -> Callable[[nn.Module, object, Corruption, int], float]:
    """Check Task 3.1, ``flip_to(model, dataset, artifact, label)`` on the notebook's data.

    Parameters
    ----------
    answer : callable or Ellipsis
        The student's function returning the share of the other classes' images, not predicted
        ``label`` before, that are predicted ``label`` once ``artifact`` is added.
    model, dataset, artifact, label
        What the notebook measures: its tainted model, the clean test set, ``ZOO[1]``, 1.

    Returns
    -------
    callable
        ``answer`` if it gives the library's number, else :func:`library_flip_to`.
    """
    expected = library_flip_to(model, dataset, artifact, label)

    def diagnose(function: Any) -> str | None:
        got = feedback.call(function, model, dataset, artifact, label)
        if _same(got, expected):
            return None
        problem = feedback.first_mistake(got, _flip_mistakes(model, dataset, artifact, label))
        return problem or f"your flip rate is {float(got):.4f}, the library's {expected:.4f}."

    return feedback.check("3.1", answer, diagnose, library_flip_to)


# --- Task 4.1: relevance rank accuracy -----------------------------------------------------------


def library_rank_accuracy(maps: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The library's score, :func:`~failure_modes.explain.scores.relevance_rank_accuracy`."""
    return relevance_rank_accuracy(maps, mask)


def _probe_rank_maps() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(3)
    maps = torch.randn(6, 1, 5, 5, generator=generator)
    mask = torch.zeros(5, 5, dtype=torch.bool)
    mask[:2, :3] = True  # K = 6 pixels
    # Strong negative relevance on the mask of some maps, strong positive on others, a weak
    # bump on the rest: signed ranking, bottom-K ranking and the top pixel alone all differ.
    bump = torch.tensor([-3.0, 3.0, -2.0, 1.0, 0.5, -1.5])
    maps[:, 0, :2, :3] += bump[:, None, None] * torch.rand(6, 2, 3, generator=generator).add(0.5)
    return maps, mask


def _top_k_share(scores: torch.Tensor, mask: torch.Tensor, k: int) -> torch.Tensor:
    """Per map: how many of its ``k`` highest ``scores`` lie on ``mask``, over ``k``."""
    top = scores.flatten(1).topk(k, dim=1).indices
    return mask.flatten()[top].float().sum(dim=1) / k


def rank_accuracy(answer: Any) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Check Task 4.1, ``rank_accuracy(maps, mask)``: the relevance rank accuracy of each map.

    Parameters
    ----------
    answer : callable or Ellipsis
        The student's function of ``[N, 1, H, W]`` maps and a boolean ``[H, W]`` mask,
        returning one value per map: the share of its ``K`` most relevant pixels (by absolute
        value, ``K`` = the mask's number of pixels) that lie inside the mask.

    Returns
    -------
    callable
        ``answer`` if it gives the library's values, else :func:`library_rank_accuracy`.
    """
    maps, mask = _probe_rank_maps()
    expected = relevance_rank_accuracy(maps, mask)
    k = int(mask.sum())
    absolute, signed = maps.abs().sum(dim=1), maps.sum(dim=1)
    wrong = {
        "signed": _top_k_share(signed, mask, k),
        "bottom": _top_k_share(-absolute, mask, k),
        "top_one": _top_k_share(absolute, mask, 1),
        "count": _top_k_share(absolute, mask, k) * k,
    }

    def diagnose(function: Any) -> str | None:
        given = maps.clone()
        got = feedback.call(function, given, mask.clone())
        if not torch.equal(given, maps):
            return (
                "your function changed the maps it was given (an in-place abs_() or sort_()?): "
                "a score reads its maps and leaves them alone."
            )
        if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
            shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
            return (
                f"rank_accuracy should return one value per map, a tensor of shape "
                f"{tuple(expected.shape)}, but it returns {shape} (no mean over the maps)."
            )
        mistakes = [
            (
                lambda a: feedback.close(a, wrong["signed"]),
                "you rank the signed relevance, so pixels with strong negative relevance fall "
                "to the bottom although the model is very sensitive there: rank maps.abs().",
            ),
            (
                lambda a: feedback.close(a, wrong["bottom"]),
                "you take the K least relevant pixels (an ascending sort): rank in descending "
                "order, or use topk, which returns the largest.",
            ),
            (
                lambda a: feedback.close(a, wrong["top_one"]),
                "you look at the single most relevant pixel only: that is the pointing game. "
                "Take as many top pixels as the mask has (K = mask.sum()).",
            ),
            (
                lambda a: feedback.close(a, wrong["count"]),
                "these are the numbers of top pixels inside the mask: divide by K to get a share "
                "that 1 bounds and chance (the mask's share of the image) can be compared with.",
            ),
        ]
        return feedback.first_mistake(got, mistakes) or feedback.tensor_mismatch(
            got.detach().float(), expected, "rank_accuracy(maps, mask)", atol=1e-6
        )

    return feedback.check("4.1", answer, diagnose, library_rank_accuracy)


# --- Task 5.1: one layer reset -------------------------------------------------------------------


def _probe_model() -> nn.Sequential:
    with seeded(0):
        model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    with torch.no_grad():  # "trained" weights no initialisation can give
        for parameter in model.parameters():
            parameter.fill_(0.5)
    return model.eval()


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {key: value.detach().clone() for key, value in model.state_dict().items()}


def _changed(model: nn.Module, state: dict[str, torch.Tensor]) -> set[str]:
    """Names of the layers whose parameters differ from ``state``."""
    return {
        key.rsplit(".", 1)[0]
        for key, value in model.state_dict().items()
        if not torch.equal(value, state[key])
    }


def reset_layer(answer: Any) -> Callable[[nn.Module, str, int], nn.Module]:
    """Check Task 5.1, ``reset_layer(model, name, seed)``: re-initialise one layer of a copy.

    Parameters
    ----------
    answer : callable or Ellipsis
        The student's function returning a copy of ``model`` whose layer ``name`` alone has
        new random weights, drawn under ``seeded(seed)``.

    Returns
    -------
    callable
        ``answer`` if it gives the library's model, else
        :func:`failure_modes.tracks.clever_hans.randomize_layer`.
    """
    name, seed = "1", 7
    model = _probe_model()
    trained = _state(model)
    expected = _state(randomize_layer(model, name, seed))

    def diagnose(function: Any) -> str | None:
        probe = copy.deepcopy(model)
        got = feedback.call(function, probe, name, seed)
        if _changed(probe, trained) or got is probe:
            return (
                "you re-initialised the model you were given: the trained model must stay as it "
                "was, so reset a copy (copy.deepcopy(model)) and return that."
            )
        if not isinstance(got, nn.Module):
            return f"reset_layer should return a model, but it returns a {type(got).__name__}."
        changed = _changed(got, trained)
        layer = dict(got.named_modules())[name]
        mistakes = [
            (
                lambda _: changed - {name},
                f"you re-initialised more than layer {name!r} ({sorted(changed)}): in this "
                "test every other layer keeps its trained weights.",
            ),
            (
                lambda _: all(not p.any() for p in layer.parameters()),
                "the new weights are all zero: a zero layer passes no gradient, so every map "
                "vanishes, which says nothing about the model; use reset_parameters().",
            ),
            (
                lambda _: not changed,
                f"layer {name!r} still has its trained weights: call reset_parameters() on it.",
            ),
            (
                lambda _: bool(_changed(got, expected)),
                "the new weights are random but not the library's: draw them inside "
                "`with seeded(seed):`, so that the same seed gives the same model.",
            ),
        ]
        return feedback.first_mistake(got, mistakes)

    return feedback.check("5.1", answer, diagnose, randomize_layer)
