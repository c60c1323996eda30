"""Checkers of Tasks 2.1 to 4.2: the AUROC by ranking, what the conductances add up to, one NAI
mutant by hand and the label change rate."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torch import nn

from failure_modes.course.checks.feedback import call, check, first_mistake, tensor_mismatch
from failure_modes.tracks import error_detection as library

__all__ = ["change_rate", "logit_rise", "negated_copy", "ranking_auroc"]

# Task 2.1's probe: three wrong and four right predictions, with ties inside and across groups,
# so that counting ties as wins, as losses or as halves gives three different areas.
PROBE_SCORES = torch.tensor([0.8, 0.4, 0.4, 0.1, 0.4, 0.9, 0.6])
PROBE_WRONG = torch.tensor([True, True, False, False, False, False, True])


def _as_float(value: Any) -> float:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().reshape(()).item()
    return float(value)


def _pair_shares(scores: torch.Tensor, wrong: torch.Tensor) -> tuple[float, float, float]:
    """Shares of (wrong, right) pairs where the wrong one scores higher, the same, lower."""
    difference = scores[wrong][:, None] - scores[~wrong][None, :]
    pairs = difference.numel()
    return tuple(
        float(part.sum()) / pairs for part in (difference > 0, difference == 0, difference < 0)
    )


# Task 2.1: AUROC by ranking ----------------------------------------------------------------


def _diagnose_auroc(function: Callable, scores: torch.Tensor, wrong: torch.Tensor) -> str | None:
    higher, tied, lower = _pair_shares(PROBE_SCORES, PROBE_WRONG)
    expected = higher + tied / 2
    got = _as_float(call(function, PROBE_SCORES.clone(), PROBE_WRONG.clone()))
    mistake = first_mistake(
        got,
        [
            (
                lambda a: np.isclose(a, higher + tied),
                f"tied pairs count as wins in your area ({got:.3f} instead of {expected:.3f} on "
                "a test input): a tie between a wrong and a right prediction counts one half.",
            ),
            (
                lambda a: np.isclose(a, higher),
                f"tied pairs count as losses in your area ({got:.3f} instead of {expected:.3f} on "
                "a test input): a tie between a wrong and a right prediction counts one half.",
            ),
            (
                lambda a: np.isclose(a, 1 - expected),
                f"you get 1 − AUROC ({got:.3f} instead of {expected:.3f} on a test input): either "
                "the labels are swapped (the positives are the *wrong* predictions) or the "
                "ranking goes the wrong way (a wrong prediction should score *higher*).",
            ),
            (
                lambda a: not np.isclose(a, expected),
                f"on a test input your area is {got:.3f}, but the share of (wrong, right) pairs "
                f"where the wrong one scores higher, ties counting half, is {expected:.3f}.",
            ),
        ],
    )
    if mistake is not None:
        return mistake
    got = _as_float(call(function, scores.clone(), wrong.clone()))
    reference = roc_auc_score(wrong.numpy(), scores.double().numpy())
    # A float32 answer is as good as its precision allows.
    if not np.isclose(got, reference, rtol=0, atol=1e-6):
        return f"on the test set your area is {got:.6f}, scikit-learn's {reference:.6f}."
    return None


def ranking_auroc(function: Callable, scores: torch.Tensor, is_error: torch.Tensor) -> Callable:
    """Check Task 2.1: the AUROC as the share of (wrong, right) pairs ranked right, ties half.

    Parameters
    ----------
    function : callable
        The student's ``ranking_auroc(scores, is_error) -> float``.
    scores : Tensor
        ``[N]`` suspicion scores of the notebook (``1 - confidence``), compared with
        scikit-learn's ``roc_auc_score`` once the probe passes.
    is_error : Tensor
        ``[N]`` booleans, True where the prediction is wrong.

    Returns
    -------
    callable
        ``function`` if it is correct, else the library's
        :func:`~failure_modes.tracks.error_detection.auroc`.
    """
    return check("2.1", function, lambda f: _diagnose_auroc(f, scores, is_error), library.auroc)


# Task 3.1: what the conductances add up to --------------------------------------------------


def _diagnose_rise(
    answer: Any, logits: torch.Tensor, baseline: torch.Tensor, labels: torch.Tensor
) -> str | None:
    expected = library.logit_rise(logits, baseline)
    rows = torch.arange(len(logits))
    predicted = logits.argmax(dim=1)
    probabilities, baseline_probabilities = logits.softmax(dim=1), baseline.softmax(dim=1)
    mistake = first_mistake(
        answer,
        [
            (
                lambda a: a.shape == logits.shape,
                f"`expected` has shape {list(logits.shape)}, one value per class: keep only the "
                "predicted class's logit of each image (`logits_test[rows, predicted]`).",
            ),
            (
                lambda a: torch.allclose(a, logits[rows, predicted], atol=1e-5),
                "`expected` is the predicted logit itself: the conductances add up to its *rise* "
                "from the baseline, so subtract the same class's logit at the baseline.",
            ),
            (
                lambda a: torch.allclose(a, logits[rows, labels] - baseline[0, labels], atol=1e-5),
                "you used the true label's logit: the conductance follows the *predicted* class "
                "(`logits_test.argmax(dim=1)`), right or wrong.",
            ),
            (
                lambda a: torch.allclose(a, -expected, atol=1e-5),
                "`expected` has the wrong sign: the logit of the image minus the logit at the "
                "baseline, not the other way round.",
            ),
            (
                lambda a: torch.allclose(
                    a,
                    probabilities[rows, predicted] - baseline_probabilities[0, predicted],
                    atol=1e-5,
                ),
                "you used softmax probabilities: the conductances add up to a change of the "
                "*logit*, the model's output before the softmax.",
            ),
        ],
    )
    return mistake or tensor_mismatch(answer, expected, "expected", atol=1e-5, rtol=1e-5)


def logit_rise(
    expected: Any, logits: torch.Tensor, baseline_logits: torch.Tensor, labels: torch.Tensor
) -> torch.Tensor:
    """Check Task 3.1: per image, the predicted logit minus the same logit at the baseline.

    Parameters
    ----------
    expected : Tensor
        The student's ``[N]`` answer.
    logits : Tensor
        ``[N, classes]`` logits of the images.
    baseline_logits : Tensor
        ``[1, classes]`` logits of the baseline input.
    labels : Tensor
        ``[N]`` true labels (to recognise an answer that follows them instead).

    Returns
    -------
    Tensor
        ``expected`` if it is correct, else the library's
        :func:`~failure_modes.tracks.error_detection.logit_rise`.
    """
    return check(
        "3.1",
        expected,
        lambda a: _diagnose_rise(a, logits, baseline_logits, labels),
        library.logit_rise(logits, baseline_logits),
    )


# Task 4.1: one NAI mutant by hand -----------------------------------------------------------


def _changed(before: nn.Module, after: nn.Module) -> list[str]:
    theirs = dict(after.named_parameters())
    return [
        name
        for name, value in before.named_parameters()
        if name not in theirs or not torch.equal(value, theirs[name])
    ]


def _diagnose_negation(
    function: Callable, model: nn.Module, layer: str, units: torch.Tensor
) -> str | None:
    probe = copy.deepcopy(model)
    mutant = call(function, probe, layer, units.clone())
    if mutant is probe or _changed(model, probe):
        return (
            "your function changed the model it was given: copy it first "
            "(`copy.deepcopy(model)`) and negate the units of the copy."
        )
    if not isinstance(mutant, nn.Module):
        return f"your function should return a network, but it returned a {type(mutant).__name__}."
    expected = library.negated_copy(model, layer, units)
    wanted = {f"{layer}.weight", f"{layer}.bias"}
    original = model.get_submodule(layer)
    theirs = mutant.get_submodule(layer)
    mistake = first_mistake(
        mutant,
        [
            (
                lambda m: set(_changed(model, m)) - wanted,
                f"you changed {sorted(set(_changed(model, mutant)) - wanted)}: only the layer "
                f"`{layer}` (its weight and bias) should differ from the model.",
            ),
            (
                lambda m: torch.equal(theirs.weight, -original.weight),
                f"you negated all {original.weight.shape[0]} units of `{layer}`: negate only the "
                "rows `units` of its weight (and those entries of its bias).",
            ),
            (
                lambda m: (theirs.weight[units] == 0).all(),
                "the chosen units are zeroed: an NAI mutant *negates* them (multiply by -1), "
                "so their activation flips sign instead of vanishing.",
            ),
            (
                lambda m: (
                    torch.equal(theirs.weight, expected.get_submodule(layer).weight)
                    and torch.equal(theirs.bias, original.bias)
                ),
                "the weights are negated but the bias is not: negate both, so that the unit's "
                "whole pre-activation flips sign.",
            ),
            (
                lambda m: _changed(expected, m),
                f"the network differs from a copy with units {units.tolist()} of `{layer}` "
                f"negated in {_changed(expected, mutant)}.",
            ),
        ],
    )
    return mistake


def negated_copy(function: Callable, model: nn.Module, layer: str, units: torch.Tensor) -> Callable:
    """Check Task 4.1: a copy of ``model`` whose output ``units`` of ``layer`` are negated.

    The student's function runs on a deep copy of ``model``, so ``model`` stays as it is even
    when the function changes what it is given.

    Parameters
    ----------
    function : callable
        The student's ``negated_copy(model, layer, units) -> nn.Module``.
    model : nn.Module
        The notebook's model.
    layer : str
        Name of a Linear or Conv2d layer of ``model``.
    units : Tensor
        Indices of the units (rows of the weight) to negate.

    Returns
    -------
    callable
        ``function`` if it is correct, else the library's
        :func:`~failure_modes.tracks.error_detection.negated_copy`.
    """
    return check(
        "4.1",
        function,
        lambda f: _diagnose_negation(f, model, layer, torch.as_tensor(units).long()),
        library.negated_copy,
    )


# Task 4.2: the label change rate from predictions --------------------------------------------


def _diagnose_rate(
    function: Callable, original: torch.Tensor, mutated: torch.Tensor, labels: torch.Tensor
) -> str | None:
    answer = call(function, original.clone(), mutated.clone())
    expected = library.change_rate(original, mutated)
    if not isinstance(answer, torch.Tensor):
        return f"your function should return a tensor, but it returned a {type(answer).__name__}."
    mistake = first_mistake(
        answer,
        [
            (
                lambda a: a.shape == (len(mutated),),
                f"you get one number per mutant (shape {list(answer.shape)}): the LCR is one "
                "number per *image*, the mean over the mutants (dim=0).",
            ),
            (
                lambda a: torch.allclose(a.double(), (mutated != labels).double().mean(dim=0)),
                "you compared the mutants with the true labels: the LCR counts mutants that "
                "disagree with the *original model's* prediction, right or wrong.",
            ),
            (
                lambda a: torch.allclose(a.double(), (mutated != original).double().sum(dim=0)),
                f"you return counts (up to {len(mutated)}): divide by the number of mutants to "
                "get a rate in [0, 1].",
            ),
        ],
    )
    return mistake or tensor_mismatch(answer.float(), expected, "the LCR", atol=1e-6)


def change_rate(
    function: Callable, original: torch.Tensor, mutated: torch.Tensor, labels: torch.Tensor
) -> Callable:
    """Check Task 4.2: per image, the share of mutants whose prediction differs from the model's.

    Parameters
    ----------
    function : callable
        The student's ``change_rate(original, mutated) -> Tensor``.
    original : Tensor
        ``[N]`` classes predicted by the model.
    mutated : Tensor
        ``[M, N]`` classes predicted by the mutants.
    labels : Tensor
        ``[N]`` true labels (to recognise an answer that compares with them).

    Returns
    -------
    callable
        ``function`` if it is correct, else the library's
        :func:`~failure_modes.tracks.error_detection.change_rate`.
    """
    return check(
        "4.2",
        function,
        lambda f: _diagnose_rate(f, original, mutated, labels),
        library.change_rate,
    )
