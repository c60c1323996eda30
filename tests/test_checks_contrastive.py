"""The checkers of the contrastive notebook: right answers pass, each typical mistake is named,
an untouched task falls back to the library's function."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from failure_modes.course.checks import contrastive as checks
from failure_modes.explain.contrastive import LogitContrast
from failure_modes.explain.contrastive import logit_contrast as library_logit_contrast
from failure_modes.explain.contrastive import relative_gap as library_relative_gap
from failure_modes.explain.counterfactual import counterfactual
from failure_modes.explain.proximity import l1_size


def _verdict(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().out


def _untouched(*args, **kwargs):
    return ...


# --- the library functions the checkers fall back to -------------------------------------------


def test_logit_contrast_is_what_the_wrapper_explains():
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    x = torch.randn(5, 1, 2, 2)
    predicted, true = torch.tensor([0, 1, 2, 0, 1]), torch.tensor([1, 2, 0, 2, 0])
    with torch.no_grad():
        direct = library_logit_contrast(model(x), predicted, true)
        wrapped = LogitContrast(model)(x, predicted, true)
    assert torch.equal(direct[:, None], wrapped)


def test_relative_gap_is_zero_for_an_exact_difference():
    maps = {"predicted": torch.randn(2, 1, 3, 3), "true": torch.randn(2, 1, 3, 3)}
    maps["contrast"] = maps["predicted"] - maps["true"]
    assert float(library_relative_gap(maps)) == 0.0


def test_l1_size_is_the_counterfactual_results_l1():
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    result = counterfactual(model, torch.rand(3, 1, 4, 4), 1, steps=5)
    assert torch.equal(l1_size(result.change), result.l1)


# --- Task 2.1 ----------------------------------------------------------------------------------


def _rows(logits):
    return torch.arange(len(logits))


def test_logit_contrast_correct(capsys):
    def answer(logits, predicted, true):
        return logits[_rows(logits), predicted] - logits[_rows(logits), true]

    assert checks.logit_contrast(answer) is answer
    assert "correct" in _verdict(capsys)


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda lg, p, t: lg[_rows(lg), t] - lg[_rows(lg), p], "wrong sign"),
        (
            lambda lg, p, t: lg.softmax(1)[_rows(lg), p] - lg.softmax(1)[_rows(lg), t],
            "probabilities (softmax)",
        ),
        (lambda lg, p, t: lg[_rows(lg), p], "predicted class alone"),
        (lambda lg, p, t: lg[_rows(lg), t], "true class alone"),
        (lambda lg, p, t: lg[:, p] - lg[:, t], "should have shape"),
    ],
)
def test_logit_contrast_mistakes(capsys, answer, phrase):
    assert checks.logit_contrast(answer) is library_logit_contrast
    out = _verdict(capsys)
    assert "✗" in out and phrase in out


@pytest.mark.parametrize("answer", [..., _untouched])
def test_logit_contrast_untouched(capsys, answer):
    assert checks.logit_contrast(answer) is library_logit_contrast
    assert "not done" in _verdict(capsys)


# --- Task 2.2 ----------------------------------------------------------------------------------


def _gap(contrast, difference, scale=True):
    gap = (contrast - difference).abs().max()
    return gap / contrast.abs().max() if scale else gap


def test_relative_gap_correct(capsys):
    def answer(kinds):
        return _gap(kinds["contrast"], kinds["predicted"] - kinds["true"]).item()

    assert checks.relative_gap(answer) is answer
    assert "correct" in _verdict(capsys)


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda k: _gap(k["contrast"], k["true"] - k["predicted"]), "wrong sign"),
        (lambda k: _gap(k["contrast"], k["predicted"]), "predicted class alone"),
        (lambda k: _gap(k["contrast"], k["predicted"] - k["true"], scale=False), "not relative"),
        (lambda k: _gap(k["contrast"], k["difference"]), "build the difference map yourself"),
        (lambda k: 0.5, "should be"),
    ],
)
def test_relative_gap_mistakes(capsys, answer, phrase):
    assert checks.relative_gap(answer) is library_relative_gap
    out = _verdict(capsys)
    assert "✗" in out and phrase in out


@pytest.mark.parametrize("answer", [..., _untouched])
def test_relative_gap_untouched(capsys, answer):
    assert checks.relative_gap(answer) is library_relative_gap
    assert "not done" in _verdict(capsys)


# --- Task 3.1 ----------------------------------------------------------------------------------


def _search(sign=1.0, penalty=True, original=False, clamp=True):
    def search(model, pixels, targets, weight, normalization, steps=100, lr=0.02):
        mean, std = normalization
        delta = torch.zeros_like(pixels, requires_grad=True)
        optimiser = torch.optim.Adam([delta], lr=lr)
        for _ in range(steps):
            logits = model((pixels + delta - mean) / std)
            loss = sign * nn.functional.cross_entropy(logits, targets, reduction="sum")
            if penalty:
                loss = loss + weight * delta.abs().sum()
            (delta.grad,) = torch.autograd.grad(loss, delta)
            optimiser.step()
            if clamp:
                with torch.no_grad():
                    delta.copy_(torch.maximum(torch.minimum(delta, 1 - pixels), -pixels))
        tested = pixels if original else pixels + delta
        with torch.no_grad():
            success = model((tested - mean) / std).argmax(dim=1) == targets
        return delta.detach(), success

    return search


@pytest.mark.parametrize("answer", [_search(), checks.library_search])
def test_penalised_search_correct(capsys, answer):
    assert checks.penalised_search(answer) is answer
    assert "correct" in _verdict(capsys)


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (_search(sign=-1.0), "sign of the loss flipped"),
        (_search(penalty=False), "Without it the change is unbounded"),
        (_search(original=True), "tests the original images"),
        (_search(clamp=False), "valid range"),
        (lambda m, x, y, **kw: (torch.zeros_like(x), y == y), "reaches the target for only"),
        (lambda m, x, y, **kw: torch.zeros_like(x), "(change, success)"),
    ],
)
def test_penalised_search_mistakes(capsys, answer, phrase):
    assert checks.penalised_search(answer) is checks.library_search
    out = _verdict(capsys)
    assert "✗" in out and phrase in out


@pytest.mark.parametrize("answer", [..., _untouched])
def test_penalised_search_untouched(capsys, answer):
    assert checks.penalised_search(answer) is not answer
    assert "not done" in _verdict(capsys)


def test_library_search_is_the_librarys_counterfactual():
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    pixels, targets = torch.rand(3, 1, 4, 4), torch.tensor([0, 1, 2])
    change, success = checks.library_search(model, pixels, targets, 0.2, (0.5, 0.25), steps=10)
    result = counterfactual(
        model, (pixels - 0.5) / 0.25, targets, weight=0.2, steps=10, normalization=(0.5, 0.25)
    )
    assert torch.equal(change, result.change) and torch.equal(success, result.success)


# --- Task 3.2 ----------------------------------------------------------------------------------


def test_change_size_correct(capsys):
    def answer(change, nearest):
        size = change.abs().sum(dim=(1, 2, 3))
        return size, size / nearest

    assert checks.change_size(answer) is answer
    assert "correct" in _verdict(capsys)


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda c, n: (c.flatten(1).norm(dim=1), c.flatten(1).norm(dim=1) / n), "L2 size"),
        (lambda c, n: (c.abs().sum(), c.abs().sum() / n), "summed over the whole batch"),
        (lambda c, n: (c.flatten(1).sum(1), c.flatten(1).sum(1) / n), "signed sum"),
        (lambda c, n: (l1_size(c), n / l1_size(c)), "upside down"),
        (lambda c, n: l1_size(c), "two tensors"),
    ],
)
def test_change_size_mistakes(capsys, answer, phrase):
    assert checks.change_size(answer) is not answer
    out = _verdict(capsys)
    assert "✗" in out and phrase in out


@pytest.mark.parametrize("answer", [..., _untouched])
def test_change_size_untouched_falls_back_to_the_library(capsys, answer):
    reference = checks.change_size(answer)
    assert "not done" in _verdict(capsys)
    change, nearest = torch.randn(3, 1, 4, 4), torch.rand(3) + 1
    size, ratio = reference(change, nearest)
    assert torch.equal(size, l1_size(change)) and torch.equal(ratio, l1_size(change) / nearest)
