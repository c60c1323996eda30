"""The core notebook's task checkers: right answers pass, each typical mistake is named."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from failure_modes.course.checks import core
from failure_modes.data.taint import Grid, Pixel
from failure_modes.explain.attribution import artifact_mass, attribute
from failure_modes.models import DenseModel
from failure_modes.models.denoising import psnr
from failure_modes.models.training import training_step
from failure_modes.utils.seeding import seeded


def _said(capsys) -> str:
    return capsys.readouterr().out


# --- 1.1 pixel taint ----------------------------------------------------------------------------


@pytest.fixture
def sevens():
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (3, 28, 28), generator=generator, dtype=torch.uint8)
    images[:, 20:, 20:] = 0
    return images


def test_pixel_taint_correct(sevens, capsys):
    answer = sevens.clone()
    answer[:, 25, 25] = 255
    assert core.pixel_taint(answer, sevens) is answer
    assert "correct" in _said(capsys)


def test_pixel_taint_not_done_falls_back(sevens, capsys):
    assert torch.equal(core.pixel_taint(..., sevens), Pixel()(sevens))
    assert "not done" in _said(capsys)


@pytest.mark.parametrize(
    ("make", "phrase"),
    [
        (
            lambda s: s.index_put_(
                (torch.arange(3), torch.tensor(25), torch.tensor(25)),
                torch.tensor(255, dtype=torch.uint8),
            ),
            "is `sevens` itself",
        ),  # noqa: E501
        (
            lambda s: s.clone().index_put_(
                (torch.arange(3), torch.tensor(24), torch.tensor(24)),
                torch.tensor(255, dtype=torch.uint8),
            ),
            "another pixel",
        ),  # noqa: E501
        (
            lambda s: s.clone().index_put_(
                (torch.arange(3), torch.tensor(25), torch.tensor(25)),
                torch.tensor(1, dtype=torch.uint8),
            ),
            "white is 255",
        ),  # noqa: E501
        (lambda s: Pixel()(s).float(), "keep the images uint8"),
    ],
)
def test_pixel_taint_mistakes(sevens, capsys, make, phrase):
    answer = make(sevens)
    result = core.pixel_taint(answer, sevens)
    said = _said(capsys)
    assert phrase in said, said
    assert torch.equal(result, Pixel()(sevens))


def test_pixel_taint_sees_sevens_changed_in_place(sevens, capsys):
    copy = sevens.clone()
    sevens[:, 25, 25] = 255
    core.pixel_taint(
        copy.index_put_(
            (torch.arange(3), torch.tensor(25), torch.tensor(25)),
            torch.tensor(255, dtype=torch.uint8),
        ),
        sevens,
    )  # noqa: E501
    assert "already has the white dot" in _said(capsys)


# --- 1.2 grid taint -----------------------------------------------------------------------------


@pytest.fixture
def fours(sevens):
    return sevens


def test_grid_taint_correct_and_not_done(fours, capsys):
    grid = Grid(amplitude=120)
    texture = grid.texture(28, 28)
    answer = (fours.float() + texture).round().clamp(0, 255).to(torch.uint8)
    assert core.grid_taint(answer, fours, grid) is answer
    assert "correct" in _said(capsys)
    assert torch.equal(core.grid_taint(..., fours, grid), grid(fours))
    assert "not done" in _said(capsys)


@pytest.mark.parametrize(
    ("make", "phrase"),
    [
        (lambda s: s.round().clamp(0, 255), "still a float tensor"),
        (lambda s: s.round().to(torch.int64).remainder(256).to(torch.uint8), "wraps around"),
        (lambda s: s.clamp(0, 255).to(torch.uint8), "rounded down"),
    ],
)
def test_grid_taint_mistakes(fours, capsys, make, phrase):
    grid = Grid(amplitude=120)
    result = core.grid_taint(make(fours.float() + grid.texture(28, 28)), fours, grid)
    said = _said(capsys)
    assert phrase in said, said
    assert torch.equal(result, grid(fours))


# --- 2.1 training step --------------------------------------------------------------------------


def _no_zero_grad(model, optimizer, loss_function, x, y):
    loss = loss_function(model(x), y)
    loss.backward()
    optimizer.step()
    return loss


def _no_step(model, optimizer, loss_function, x, y):
    optimizer.zero_grad()
    loss = loss_function(model(x), y)
    loss.backward()
    return loss


def _returns_nothing(model, optimizer, loss_function, x, y):
    training_step(model, optimizer, loss_function, x, y)
    return 0.0


def _loss_after_step(model, optimizer, loss_function, x, y):
    training_step(model, optimizer, loss_function, x, y)
    return loss_function(model(x), y)


def test_training_step_correct(capsys):
    assert core.training_step(training_step) is training_step
    assert "correct" in _said(capsys)


def test_training_step_not_done(capsys):
    def template(model, optimizer, loss_function, x, y):
        loss = ...
        return loss

    assert core.training_step(template) is training_step
    assert "not done" in _said(capsys)


@pytest.mark.parametrize(
    ("function", "phrase"),
    [
        (_no_zero_grad, "gradients grow from step to step"),
        (_no_step, "weights did not change"),
        (_returns_nothing, "one scalar tensor"),
        (_loss_after_step, "computed before"),
    ],
)
def test_training_step_mistakes(capsys, function, phrase):
    assert core.training_step(function) is training_step
    said = _said(capsys)
    assert phrase in said, said


# --- 4.1 Integrated Gradients -------------------------------------------------------------------


@pytest.fixture(scope="module")
def ig_probe():
    with seeded(0):
        model = DenseModel(hidden_sizes=[8])
        inputs = torch.randn(2, 1, 28, 28)
    model.eval()
    return model, inputs, -0.42


def test_ig_correct_and_restores_the_model(ig_probe, capsys):
    model, inputs, black = ig_probe
    answer = attribute(model, inputs, 7, baselines=black, n_steps=8)
    model.train()
    result = core.integrated_gradients(answer, model, inputs, 7, black, n_steps=8)
    assert torch.equal(result, answer)
    assert model.training
    model.eval()
    assert "correct" in _said(capsys)


def test_ig_not_done(ig_probe, capsys):
    model, inputs, black = ig_probe
    result = core.integrated_gradients(..., model, inputs, 7, black, n_steps=8)
    assert torch.equal(result, attribute(model, inputs, 7, baselines=black, n_steps=8))
    assert "not done" in _said(capsys)


@pytest.mark.parametrize(
    ("options", "phrase"),
    [
        ({"target": 7, "baselines": 0.0, "n_steps": 8}, "mid-grey, not black"),
        ({"target": 3, "n_steps": 8}, "explain the class 3, not 7"),
        ({"target": 7, "n_steps": 50}, "default of 50 steps"),
    ],
)
def test_ig_mistakes(ig_probe, capsys, options, phrase):
    model, inputs, black = ig_probe
    options = {"baselines": black, **options}
    target = options.pop("target")
    answer = attribute(model, inputs, target, **options)
    core.integrated_gradients(answer, model, inputs, 7, black, n_steps=8)
    said = _said(capsys)
    assert phrase in said, said


# --- 4.2 Integrated Gradients by hand ---------------------------------------------------------


def _riemann_ig(
    model,
    inputs,
    target,
    baseline,
    n_steps,
    *,
    alphas=None,
    score=None,
    start=None,
    finish=None,
):
    """The right Riemann sum of IG, or one of its typical slips (each keyword one slip)."""
    alphas = alphas or [k / n_steps for k in range(1, n_steps + 1)]
    score = score or (lambda logits: logits[:, target])
    start = baseline if start is None else start
    total = torch.zeros_like(inputs)
    for alpha in alphas:
        point = (start + alpha * (inputs - start)).requires_grad_()
        (gradient,) = torch.autograd.grad(score(model(point)).sum(), point)
        total += gradient
    mean = total / len(alphas)
    return finish(mean, inputs, start) if finish else (inputs - start) * mean


def _slip(**options):
    def student(model, inputs, target, baseline, n_steps):
        return _riemann_ig(model, inputs, target, baseline, n_steps, **options)

    return student


def _reversed_path(model, inputs, target, baseline, n_steps):
    total = torch.zeros_like(inputs)
    for k in range(1, n_steps + 1):
        point = (inputs + k / n_steps * (baseline - inputs)).requires_grad_()
        (gradient,) = torch.autograd.grad(model(point)[:, target].sum(), point)
        total += gradient
    return (baseline - inputs) * total / n_steps


def test_riemann_ig_correct(capsys):
    answer = _slip()
    assert core.riemann_integrated_gradients(answer) is answer
    assert "correct" in _said(capsys)


def test_riemann_ig_accepts_float64_and_a_vectorised_sum(capsys):
    def vectorised(model, inputs, target, baseline, n_steps):
        alphas = torch.arange(1, n_steps + 1).view(-1, 1, 1, 1, 1) / n_steps
        points = (baseline + alphas * (inputs - baseline)).flatten(0, 1).requires_grad_()
        (gradient,) = torch.autograd.grad(model(points)[:, target].sum(), points)
        return (inputs - baseline) * gradient.unflatten(0, (n_steps, len(inputs))).mean(0)

    for answer in (vectorised, lambda *args: _riemann_ig(*args).double()):
        assert core.riemann_integrated_gradients(answer) is answer
        assert "correct" in _said(capsys)


def test_riemann_ig_not_done_goes_on_with_captum(ig_probe, capsys):
    def template(model, inputs, target, baseline, n_steps):
        for _k in range(1, n_steps + 1):
            ...
        return ...

    reference = core.riemann_integrated_gradients(template)
    assert reference is core.library_integrated_gradients
    assert "not done" in _said(capsys)
    model, inputs, black = ig_probe
    ours = _riemann_ig(model, inputs, 7, black, 8)
    assert torch.allclose(reference(model, inputs, 7, black, 8), ours, atol=1e-5, rtol=1e-4)


def test_library_ig_adds_up_to_the_score_change(ig_probe):
    # Completeness: with many steps the sum of the maps is the change of the target's logit.
    model, inputs, black = ig_probe
    maps = core.library_integrated_gradients(model, inputs, 7, black, 256)
    with torch.no_grad():
        change = model(inputs)[:, 7] - model(torch.full_like(inputs, black))[:, 7]
    assert torch.allclose(maps.flatten(1).sum(1), change, rtol=0.01, atol=1e-3)


@pytest.mark.parametrize(
    ("student", "phrase"),
    [
        (_slip(finish=lambda mean, inputs, start: mean), "multiply them by (inputs - baseline)"),
        (_slip(alphas=[1.0], finish=lambda mean, inputs, start: mean), "plain saliency"),
        (_slip(alphas=[1.0]), "input x gradient"),
        (
            _slip(finish=lambda mean, inputs, start: 8 * (inputs - start) * mean),
            "you summed the gradients",
        ),
        (
            _slip(finish=lambda mean, inputs, start: (inputs - start) * mean / 8),
            "divided by n_steps twice",
        ),
        (_slip(score=lambda logits: logits), "sum of all logits"),
        (_slip(score=lambda logits: logits.softmax(dim=1)[:, 1]), "softmax probability"),
        (_reversed_path, "wrong sign"),
        (
            _slip(finish=lambda mean, inputs, start: (start - inputs) * mean),
            "wrong sign",
        ),
        (_slip(start=0.0), "start the path at 0"),
        (
            lambda model, inputs, target, baseline, n_steps: _riemann_ig(
                model,
                inputs,
                target,
                baseline,
                n_steps,
                alphas=[k / n_steps for k in range(n_steps)],
            ),
            "left Riemann rule",
        ),
        (
            lambda model, inputs, target, baseline, n_steps: _riemann_ig(
                model,
                inputs,
                target,
                baseline,
                n_steps,
                alphas=[(k + 0.5) / n_steps for k in range(n_steps)],
            ),
            "midpoint rule",
        ),
        (
            lambda model, inputs, target, baseline, n_steps: _riemann_ig(
                model, inputs, target, baseline, 50
            ),
            "50 points whatever n_steps says",
        ),
        (lambda *args: _riemann_ig(*args) + 0.1, "add up to"),
        (lambda *args: _riemann_ig(*args).tolist(), "should be a tensor"),
        (lambda *args: _riemann_ig(*args)[0], "should have shape"),
    ],
)
def test_riemann_ig_mistakes(capsys, student, phrase):
    assert core.riemann_integrated_gradients(student) is core.library_integrated_gradients
    said = _said(capsys)
    assert phrase in said, said


def test_library_ig_restores_the_training_flag(ig_probe):
    model, inputs, black = ig_probe
    model.train()
    core.library_integrated_gradients(model, inputs, 7, black, 4)
    assert model.training
    model.eval()


# --- 4.3 artifact mass --------------------------------------------------------------------------


def test_artifact_mass_correct_and_not_done(capsys):
    def share(maps, mask):
        relevance = maps.abs().sum(dim=1)
        return (relevance * mask).flatten(1).sum(dim=1) / relevance.flatten(1).sum(dim=1)

    assert core.artifact_mass(share) is share
    assert "correct" in _said(capsys)
    assert core.artifact_mass(lambda maps, mask: ...) is artifact_mass
    assert "not done" in _said(capsys)


@pytest.mark.parametrize(
    ("function", "phrase"),
    [
        (lambda m, k: (m * k).flatten(1).sum(1) / m.flatten(1).sum(1), "signed attributions"),
        (lambda m, k: (m.abs() * k).flatten(1).sum(1), "not a share"),
        (lambda m, k: m.abs()[:, 0][:, k].mean(1), "mean |attribution| over the mask"),
    ],
)
def test_artifact_mass_mistakes(capsys, function, phrase):
    assert core.artifact_mass(function) is artifact_mass
    said = _said(capsys)
    assert phrase in said, said


# --- 5.1 PSNR -----------------------------------------------------------------------------------


def _mse(a, b):
    return (a - b).pow(2).flatten(1).mean(1)


def test_peak_snr_correct_and_not_done(capsys):
    def mine(images, clean):
        return 10 * torch.log10(1 / _mse(images, clean))

    assert core.peak_snr(mine) is mine
    assert "correct" in _said(capsys)
    assert core.peak_snr(lambda images, clean: ...) is psnr
    assert "not done" in _said(capsys)


@pytest.mark.parametrize(
    ("function", "phrase"),
    [
        (lambda a, b: 10 * torch.log10(255**2 / _mse(a, b)), "the peak is 1, not 255"),
        (lambda a, b: 10 * torch.log(1 / _mse(a, b)), "natural logarithm"),
        (lambda a, b: torch.log10(1 / _mse(a, b)), "ten times too small"),
        (lambda a, b: 10 * torch.log10(_mse(a, b)), "wrong sign"),
        (lambda a, b: 10 * torch.log10(1 / (a - b).pow(2).mean()), "whole batch"),
    ],
)
def test_peak_snr_mistakes(capsys, function, phrase):
    assert core.peak_snr(function) is psnr
    said = _said(capsys)
    assert phrase in said, said


def test_checkers_leave_a_linear_probe_alone():
    # The training-step checker builds its own model; a fresh nn.Linear is unaffected.
    layer = nn.Linear(2, 2)
    before = layer.weight.clone()
    core.training_step(training_step)
    assert torch.equal(layer.weight, before)
