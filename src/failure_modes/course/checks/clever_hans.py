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
from failure_modes.explain.attribution import artifact_mass
from failure_modes.models.evaluation import predict
from failure_modes.tracks.clever_hans.behaviour import behavioural_test
from failure_modes.tracks.clever_hans.explanations import MASS_FACTOR
from failure_modes.tracks.clever_hans.explanations import flag_rate as library_flag_rate
from failure_modes.tracks.clever_hans.randomization import randomize_layer
from failure_modes.utils.seeding import seeded

__all__ = ["flag_rate", "flip_to", "lighten", "reset_layer"]

_ATOL = 1e-9


def _same(answer: Any, expected: float) -> bool:
    return abs(float(answer) - float(expected)) < _ATOL


# --- Task 1.2: the lightness ramp as a function ------------------------------------------------


def library_lighten(images: torch.Tensor, artifact: Gradient) -> torch.Tensor:
    """The library's ramp: ``artifact(images)`` (the reference answer of Task 1.2)."""
    return artifact(images)


def _probe_images() -> tuple[torch.Tensor, Gradient]:
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (3, 5, 6), generator=generator, dtype=torch.uint8)
    images[:, -1, :] = 250  # bright pixels near the ramp's far end: they must clamp at 255
    # 47 grey levels over a 5 x 6 image: most ramp values are fractions, so rounding shows.
    return images, Gradient(amplitude=47.0, corner="bottom-left")


def lighten(answer: Any) -> Callable[[torch.Tensor, Gradient], torch.Tensor]:
    """Check Task 1.2, ``lighten(images, artifact)``: add a lightness ramp to uint8 images.

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

    return feedback.check("1.2", answer, diagnose, library_lighten)


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


# --- Task 4.1: from a map to a flag --------------------------------------------------------------


def _probe_maps() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(2)
    maps = torch.randn(40, 1, 5, 5, generator=generator)
    mask = torch.zeros(5, 5, dtype=torch.bool)
    mask[:2, :2] = True
    # Relevance on the mask of growing size and alternating sign: some maps flag only once
    # their negative relevance counts, some exceed chance but not three times chance.
    bump = torch.linspace(0, 4, 40) * torch.tensor([1.0, -1.0]).repeat(20)
    maps[:, 0, :2, :2] += bump[:, None, None]
    return maps, mask


def flag_rate(answer: Any) -> Callable[..., float]:
    """Check Task 4.1, ``flag_rate(maps, mask, factor)``: the share of maps that flag the mask.

    Parameters
    ----------
    answer : callable or Ellipsis
        The student's function of ``[N, C, H, W]`` maps, a boolean ``[H, W]`` mask and a
        factor, returning one number.

    Returns
    -------
    callable
        ``answer`` if it gives the share of maps whose artifact mass exceeds ``factor`` times
        the mask's share of the image, else :func:`failure_modes.tracks.clever_hans.explanations.flag_rate`.
    """
    maps, mask = _probe_maps()
    factor = MASS_FACTOR
    expected = library_flag_rate(maps, mask, factor)
    share = float(mask.float().mean())
    inside = (maps * mask).flatten(1).sum(1)
    signed = float((inside / maps.flatten(1).sum(1) > factor * share).float().mean())
    signed_abs = float(
        (inside.abs() / maps.flatten(1).sum(1).abs() > factor * share).float().mean()
    )
    no_factor = float((artifact_mass(maps, mask) > share).float().mean())
    flagged = int((artifact_mass(maps, mask) > factor * share).sum())

    def diagnose(function: Any) -> str | None:
        got = feedback.call(function, maps.clone(), mask.clone(), factor)
        if _same(got, expected):
            return None
        mistakes = [
            (
                lambda a: any(_same(a, v) for v in (signed, signed_abs)),
                "your mass adds signed relevance, so negative relevance on the artifact cancels "
                "positive relevance elsewhere: take the absolute value of the maps first.",
            ),
            (
                lambda a: _same(a, no_factor),
                f"you flag a map as soon as its mass exceeds chance ({no_factor:.3f} flagged "
                f"instead of {expected:.3f}): the rule asks for more than `factor` times chance.",
            ),
            (
                lambda a: _same(a, flagged),
                f"this is the number of flagged maps ({flagged}): the rate is their share of all "
                "maps.",
            ),
        ]
        return feedback.first_mistake(got, mistakes) or (
            f"your flag rate on a probe is {float(got):.3f}, the library's {expected:.3f}."
        )

    return feedback.check("4.1", answer, diagnose, library_flag_rate)


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
