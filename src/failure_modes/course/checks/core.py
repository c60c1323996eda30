"""Checkers for the coding tasks of the core notebook (``notebooks/core.py``).

The taint checkers compare the student's images with the library's artifacts on the notebook's
own digits; the Captum checker (Task 4.1) reuses the notebook's images and model. The
function checkers run the student's function on a small probe of their own, compare what it
gives with what the typical mistakes would give, and return it when right, else the library's.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from captum.attr import IntegratedGradients
from torch import nn

from failure_modes.course.checks import feedback
from failure_modes.data.taint import Grid, Pixel
from failure_modes.explain.attribution import artifact_mass as library_artifact_mass
from failure_modes.explain.attribution import attribute
from failure_modes.models.denoising import psnr as library_psnr
from failure_modes.models.training import training_step as library_training_step
from failure_modes.utils.devices import evaluating

__all__ = [
    "artifact_mass",
    "grid_taint",
    "integrated_gradients",
    "library_integrated_gradients",
    "riemann_integrated_gradients",
    "peak_snr",
    "pixel_taint",
    "training_step",
]

_ATOL = 1e-5
_CAPTUM_DEFAULT_STEPS = 50
_PROBE_LR = 0.1


# --- Task 1.1: the pixel taint ------------------------------------------------------------------


def pixel_taint(answer: Any, sevens: torch.Tensor) -> torch.Tensor:
    """Check Task 1.1, ``dotted``: a copy of ``sevens`` with pixel (25, 25) set to 255.

    Parameters
    ----------
    answer : Tensor or Ellipsis
        The student's ``[N, 28, 28]`` uint8 images.
    sevens : Tensor
        The clean images the student started from (not changed here).

    Returns
    -------
    Tensor
        ``answer`` if it equals ``Pixel()(sevens)`` and ``sevens`` is untouched, else
        ``Pixel()(sevens)``.
    """
    pixel = Pixel()
    expected = pixel(sevens)

    def changed_pixels(images: torch.Tensor) -> set[tuple[int, int]]:
        differ = (images.to(torch.int64) != sevens.to(torch.int64)).any(dim=0)
        return {tuple(index) for index in differ.nonzero().tolist()}

    def diagnose(images: Any) -> str | None:
        mistakes = [
            (
                lambda a: a is sevens or a.data_ptr() == sevens.data_ptr(),
                "`dotted` is `sevens` itself, so you changed the original digits too: make a "
                "copy first (`sevens.clone()`), then run the cell that defines `sevens` again.",
            ),
            (
                lambda a: bool((sevens[:, pixel.row, pixel.col] == 255).all()),
                "`sevens` already has the white dot: it was changed in place; run the cell that "
                "defines `sevens` again and change a copy (`sevens.clone()`) instead.",
            ),
            (
                lambda a: changed_pixels(a) and (pixel.row, pixel.col) not in changed_pixels(a),
                "you changed another pixel than row 25, column 25 (the rows and columns "
                "count from 0, and the row comes first: `dotted[:, 25, 25]`).",
            ),
            (
                lambda a: bool((a[:, pixel.row, pixel.col] == 1).all()),
                "the pixel is 1, which in uint8 images (0..255) is almost black: white is 255.",
            ),
            (
                lambda a: a.dtype != torch.uint8,
                f"`dotted` has dtype {getattr(images, 'dtype', None)}: keep the images uint8, "
                "like `sevens` (`sevens.clone()` keeps the dtype).",
            ),
        ]
        return feedback.first_mistake(images, mistakes) or feedback.tensor_mismatch(
            images, expected, "dotted"
        )

    return feedback.check("1.1", answer, diagnose, expected)


# --- Task 1.2: the grid taint -------------------------------------------------------------------


def grid_taint(answer: Any, fours: torch.Tensor, grid: Grid) -> torch.Tensor:
    """Check Task 1.2, ``gridded``: ``fours`` plus the grid's texture, rounded, clamped, uint8.

    Parameters
    ----------
    answer : Tensor or Ellipsis
        The student's ``[N, 28, 28]`` images.
    fours : Tensor
        The clean uint8 images.
    grid : Grid
        The artifact whose texture was added.

    Returns
    -------
    Tensor
        ``answer`` if it equals ``grid(fours)``, else ``grid(fours)``.
    """
    expected = grid(fours)
    summed = fours.float() + grid.texture(*fours.shape[-2:])

    def diagnose(images: Any) -> str | None:
        mistakes = [
            (
                lambda a: a.is_floating_point(),
                "`gridded` is still a float tensor: convert it back with `.to(torch.uint8)` "
                "after rounding and clamping, so that it is an image like `fours`.",
            ),
            *feedback.pixel_arithmetic_mistakes(fours, summed),
        ]
        return feedback.first_mistake(images, mistakes) or feedback.tensor_mismatch(
            images, expected, "gridded"
        )

    return feedback.check("1.2", answer, diagnose, expected)


# --- Task 2.1: the training step ----------------------------------------------------------------


def _probe_batch() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    model = nn.Linear(4, 3)
    with torch.no_grad():
        model.weight.copy_(torch.randn(3, 4, generator=generator))
        model.bias.zero_()
    x = torch.randn(8, 4, generator=generator)
    y = torch.randint(3, (8,), generator=generator)
    return model, x, y


def _two_steps(step: Callable[..., Any], n_steps: int = 2) -> tuple[list[Any], nn.Module]:
    """Run ``step`` ``n_steps`` times on a fresh probe; the losses it returns and the model."""
    model, x, y = _probe_batch()
    optimizer = torch.optim.SGD(model.parameters(), lr=_PROBE_LR)
    losses = [
        feedback.call(step, model, optimizer, nn.CrossEntropyLoss(), x.clone(), y.clone())
        for _ in range(n_steps)
    ]
    return losses, model


def _weights(model: nn.Module) -> torch.Tensor:
    return torch.cat([parameter.detach().flatten() for parameter in model.parameters()])


def _without_zero_grad(model, optimizer, loss_function, x, y):
    loss = loss_function(model(x), y)
    loss.backward()
    optimizer.step()
    return loss


def _number(value: Any) -> str:
    try:
        return f"{float(torch.as_tensor(value).detach()):.4f}"
    except (TypeError, ValueError, RuntimeError):
        return repr(value)


def training_step(answer: Any) -> Callable[..., torch.Tensor]:
    """Check Task 2.1, ``training_step(model, optimizer, loss_function, x, y)``.

    The student's function takes two SGD steps on a tiny linear classifier of its own (the
    notebook's models are not touched); its weights and losses are compared with the library's.

    Parameters
    ----------
    answer : callable or Ellipsis
        The student's function.

    Returns
    -------
    callable
        ``answer`` if it behaves like
        :func:`failure_modes.models.training.training_step`, else that function.
    """
    expected_losses, expected_model = _two_steps(library_training_step)
    expected = _weights(expected_model)
    start = _weights(_probe_batch()[0])
    _, accumulated = _two_steps(_without_zero_grad)
    first_loss = expected_losses[0].detach()

    def diagnose(function: Any) -> str | None:
        losses, model = _two_steps(function)
        weights = _weights(model)
        mistakes = [
            (
                lambda w: torch.equal(w, start),
                "the weights did not change: compute the gradients with `loss.backward()` and "
                "let the optimiser apply them with `optimizer.step()`.",
            ),
            (
                lambda w: feedback.close(w, _weights(accumulated)),
                "the gradients grow from step to step: reset them with `optimizer.zero_grad()` "
                "before each backward pass (PyTorch adds new gradients to the old ones).",
            ),
            (
                lambda w: not isinstance(losses[0], torch.Tensor) or losses[0].numel() != 1,
                "your function should return the loss, one scalar tensor (`loss_function(model(x)"
                ", y)`), so that the loop can record `loss.item()`.",
            ),
            (
                lambda w: not feedback.close(losses[0].reshape(()), first_loss),
                f"the loss you return is {_number(losses[0])}, the loss of the batch is "
                f"{float(first_loss):.4f}: return `loss_function(model(x), y)`, computed before "
                "the update.",
            ),
        ]
        return feedback.first_mistake(weights, mistakes) or (
            None
            if feedback.close(weights, expected)
            else "after two steps the weights differ from those of the reference step: zero the "
            "gradients, compute the loss, call backward, then step, in that order."
        )

    return feedback.check("2.1", answer, diagnose, library_training_step)


# --- Task 4.1: Integrated Gradients through Captum ----------------------------------------------


def integrated_gradients(
    answer: Any,
    model: nn.Module,
    inputs: torch.Tensor,
    target: int,
    baseline: float,
    *,
    n_steps: int,
) -> torch.Tensor:
    """Check Task 4.1, ``maps_black``: Captum's IG maps of ``target`` with the black baseline.

    Parameters
    ----------
    answer : Tensor or Ellipsis
        The student's ``[N, 1, 28, 28]`` maps (on any device).
    model, inputs, target, baseline, n_steps
        The classifier (its training flag is restored), the ``[N, 1, 28, 28]`` normalised
        images, the class explained, the black image in normalised units, and the steps.

    Returns
    -------
    Tensor
        ``answer`` (detached, on the CPU) if it matches
        :func:`failure_modes.explain.attribution.attribute` with the same settings, else that
        function's maps.
    """
    training = model.training
    expected = attribute(model, inputs, target, baselines=baseline, n_steps=n_steps)
    other_steps = attribute(
        model, inputs, target, baselines=baseline, n_steps=_CAPTUM_DEFAULT_STEPS
    )
    grey = attribute(model, inputs, target, baselines=0.0, n_steps=n_steps)
    # Every class at once: a wrong target is found by which class's maps the answer matches.
    classes = torch.arange(10).repeat_interleave(len(inputs))
    per_class = attribute(
        model, inputs.repeat(10, 1, 1, 1), classes, baselines=baseline, n_steps=n_steps
    ).unflatten(0, (10, len(inputs)))
    model.train(training)

    def diagnose(maps: Any) -> str | None:
        # The answer is already on the CPU (see below); anything else matches no class.
        wrong = [c for c in range(10) if c != target and feedback.close(maps, per_class[c])]
        mistakes = [
            (
                lambda a: feedback.close(a, grey),
                "these are the maps with Captum's default baseline, zeros: in normalised units "
                "zero is mid-grey, not black; pass `baselines=black`.",
            ),
            (
                lambda a: wrong,
                f"these maps explain the class {wrong[0] if wrong else '?'}, not {target}: pass "
                f"`target={target}` (the class whose score is explained).",
            ),
            (
                lambda a: feedback.close(a, other_steps),
                f"these maps use Captum's default of {_CAPTUM_DEFAULT_STEPS} steps: pass "
                f"`n_steps=IG_STEPS` ({n_steps}) like the rest of the notebook.",
            ),
        ]
        return feedback.first_mistake(maps, mistakes) or feedback.tensor_mismatch(
            maps, expected, "maps_black", atol=_ATOL, rtol=1e-4
        )

    if isinstance(answer, torch.Tensor):
        answer = answer.detach().cpu()
    return feedback.check("4.1", answer, diagnose, expected)


# --- Task 4.2: Integrated Gradients by hand -----------------------------------------------------

# Captum's name for the rule of Task 4.2: the gradients at k / n of the way, k = 1..n.
RIEMANN_RULE = "riemann_right"
_PROBE_IG_STEPS = 8
_PROBE_IG_TARGET = 1
_PROBE_BASELINE = -0.5
_IG_TOLERANCE = {"atol": 1e-5, "rtol": 1e-4}


def library_integrated_gradients(
    model: nn.Module, inputs: torch.Tensor, target: int, baseline: float, n_steps: int
) -> torch.Tensor:
    """Task 4.2's Riemann sum done by Captum: ``IntegratedGradients`` with ``riemann_right``.

    Parameters
    ----------
    model : nn.Module
        A classifier returning logits (put in eval mode for the call, then restored).
    inputs : Tensor
        ``[N, C, H, W]`` inputs as the model expects them (moved to the model's device).
    target : int
        The class whose logit is explained.
    baseline : float or Tensor
        The start of the path.
    n_steps : int
        Points on the path: ``k / n_steps`` of the way from the baseline, ``k = 1..n_steps``.

    Returns
    -------
    Tensor
        Attributions of the shape of ``inputs``, detached, on the device of ``inputs``.
    """
    parameter = next(model.parameters(), None)
    device = inputs.device if parameter is None else parameter.device
    if isinstance(baseline, torch.Tensor):
        baseline = baseline.to(device)
    with evaluating(model):
        maps = IntegratedGradients(model).attribute(
            inputs.to(device),
            baselines=baseline,
            target=target,
            n_steps=n_steps,
            method=RIEMANN_RULE,
        )
    return maps.detach().to(inputs.device)


def _probe_ig() -> tuple[nn.Module, torch.Tensor]:
    generator = torch.Generator().manual_seed(4)
    # Smooth and curved along the path, so that every rule and every point gives other numbers.
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 6), nn.Tanh(), nn.Linear(6, 3))
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator))
    inputs = torch.rand(3, 1, 4, 4, generator=generator)
    return model.eval(), inputs


def _mean_gradient(
    model: nn.Module,
    inputs: torch.Tensor,
    alphas: list[float],
    score: Callable[[torch.Tensor], torch.Tensor],
    baseline: float = _PROBE_BASELINE,
) -> torch.Tensor:
    """The mean gradient of ``score(model(point))`` at the path's points ``alphas``."""
    total = torch.zeros_like(inputs)
    for alpha in alphas:
        point = (baseline + alpha * (inputs - baseline)).requires_grad_()
        (gradient,) = torch.autograd.grad(score(model(point)).sum(), point)
        total += gradient
    return total / len(alphas)


def _ig_mistakes(model: nn.Module, inputs: torch.Tensor) -> list[tuple[torch.Tensor, str]]:
    """What the typical slips of Task 4.2 give on the probe, each with its sentence."""
    n = _PROBE_IG_STEPS
    right = [k / n for k in range(1, n + 1)]
    left = [k / n for k in range(n)]
    difference = inputs - _PROBE_BASELINE
    expected = library_integrated_gradients(model, inputs, _PROBE_IG_TARGET, _PROBE_BASELINE, n)

    def target_logit(logits: torch.Tensor) -> torch.Tensor:
        return logits[:, _PROBE_IG_TARGET]

    mean_gradient = _mean_gradient(model, inputs, right, target_logit)
    at_input = _mean_gradient(model, inputs, [1.0], target_logit)
    return [
        (
            mean_gradient,
            "these are the mean gradients along the path, not yet attributions: multiply them "
            "by (inputs - baseline), pixel by pixel.",
        ),
        (
            at_input,
            "this is the gradient at the input only (plain saliency): IG averages the gradient "
            "over the points k / n_steps of the way from the baseline to the input.",
        ),
        (
            at_input * difference,
            "this is the gradient at the input only, times (inputs - baseline) (input x "
            "gradient): IG averages the gradient over the points k / n_steps of the way from "
            "the baseline to the input, not just at the input.",
        ),
        (
            expected * n,
            f"your maps are n_steps = {n} times too large: you summed the gradients along "
            "the path; divide the sum by n_steps (each point stands for 1 / n_steps of it).",
        ),
        (
            expected / n,
            f"your maps are n_steps = {n} times too small: you divided by n_steps twice (a "
            "mean already divides by it).",
        ),
        (
            _mean_gradient(model, inputs, right, lambda logits: logits) * difference,
            "these maps explain the sum of all logits: take the gradient of the target's logit "
            "only, model(point)[:, target].",
        ),
        (
            _mean_gradient(
                model, inputs, right, lambda logits: logits.softmax(dim=1)[:, _PROBE_IG_TARGET]
            )
            * difference,
            "these maps explain the softmax probability of the target: take the gradient of "
            "its logit, model(point)[:, target], before any softmax.",
        ),
        (
            -expected,
            "your maps have the wrong sign: the path runs from the baseline to the input, so "
            "multiply by (inputs - baseline), not (baseline - inputs).",
        ),
        (
            -_mean_gradient(model, inputs, left, target_logit) * difference,
            "your maps have the wrong sign: the path runs from the baseline to the input, so "
            "multiply by (inputs - baseline), not (baseline - inputs).",
        ),
        (
            _mean_gradient(model, inputs, right, target_logit, baseline=0.0) * inputs,
            f"these maps start the path at 0, not at the baseline you were given "
            f"({_PROBE_BASELINE} on the probe): use baseline + k / n_steps * (inputs - "
            "baseline), and multiply by (inputs - baseline).",
        ),
        (
            _mean_gradient(model, inputs, left, target_logit) * difference,
            "you summed the left Riemann rule (k = 0..n_steps-1, starting at the baseline): "
            "this task uses the right one, the points k / n_steps for k = 1..n_steps, "
            "like Captum's method='riemann_right'.",
        ),
        *(
            (
                _mean_gradient(model, inputs, alphas, target_logit) * difference,
                f"you used the {name} rule: a fair one, but this task uses the right Riemann "
                "rule, the points k / n_steps for k = 1..n_steps, so that your maps can be "
                "compared with Captum's method='riemann_right'.",
            )
            for name, alphas in [
                ("midpoint", [(k + 0.5) / n for k in range(n)]),
                ("trapezoid", [k / n for k in range(n)] + [k / n for k in range(1, n + 1)]),
            ]
        ),
        (
            library_integrated_gradients(
                model, inputs, _PROBE_IG_TARGET, _PROBE_BASELINE, _CAPTUM_DEFAULT_STEPS
            ),
            f"your maps use {_CAPTUM_DEFAULT_STEPS} points whatever n_steps says: use the "
            "n_steps you were given.",
        ),
    ]


def _completeness(
    model: nn.Module, inputs: torch.Tensor, maps: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The sum of each map and the change of the target's logit from the baseline to the input."""
    with torch.no_grad():
        logits = model(inputs)[:, _PROBE_IG_TARGET]
        start = model(torch.full_like(inputs, _PROBE_BASELINE))[:, _PROBE_IG_TARGET]
    return torch.as_tensor(maps).detach().flatten(1).sum(dim=1), logits - start


def riemann_integrated_gradients(answer: Any) -> Callable[..., torch.Tensor]:
    """Check Task 4.2, ``integrated_gradients(model, inputs, target, baseline, n_steps)``.

    The student's function runs on a small smooth classifier of 4 x 4 images of its own (the
    notebook's models are not touched); its maps are compared with Captum's
    ``IntegratedGradients`` with the same number of steps and the rule ``riemann_right`` (the
    gradients at ``k / n_steps`` of the way from the baseline, ``k = 1..n_steps``, averaged),
    to 1e-5 + 1e-4 of each value, and with what each typical slip gives.

    Parameters
    ----------
    answer : callable or Ellipsis
        The student's function.

    Returns
    -------
    callable
        ``answer`` if it gives Captum's maps on the probe, else
        :func:`library_integrated_gradients`.
    """
    model, inputs = _probe_ig()
    expected = library_integrated_gradients(
        model, inputs, _PROBE_IG_TARGET, _PROBE_BASELINE, _PROBE_IG_STEPS
    )
    mistakes = _ig_mistakes(model, inputs)

    def diagnose(function: Any) -> str | None:
        probe, probe_inputs = _probe_ig()
        got = feedback.call(
            function, probe, probe_inputs, _PROBE_IG_TARGET, _PROBE_BASELINE, _PROBE_IG_STEPS
        )
        if isinstance(got, torch.Tensor):
            got = got.detach().cpu()
            got = got.to(expected.dtype) if got.is_floating_point() else got
        named = feedback.first_mistake(
            got,
            [
                (lambda a, wrong=wrong: feedback.close(a, wrong, atol=1e-5), sentence)
                for wrong, sentence in mistakes
            ],
        )
        if named is not None:
            return named
        problem = feedback.tensor_mismatch(
            got, expected, "integrated_gradients(...)", **_IG_TOLERANCE
        )
        if problem is None or not isinstance(got, torch.Tensor) or got.shape != expected.shape:
            return problem
        total, change = _completeness(model, inputs, got)
        reference, _ = _completeness(model, inputs, expected)
        return (
            f"{problem} On the first probe image your maps add up to {total[0].item():.4f}, "
            f"Captum's to {reference[0].item():.4f}, and the target's logit rises by "
            f"{change[0].item():.4f} from the baseline to the input (completeness: the "
            "attributions add up to that change, up to the error of the sum)."
        )

    return feedback.check("4.2", answer, diagnose, library_integrated_gradients)


# --- Task 4.3: artifact mass --------------------------------------------------------------------


def _probe_maps() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(2)
    maps = torch.randn(4, 1, 6, 6, generator=generator)
    mask = torch.zeros(6, 6, dtype=torch.bool)
    mask[1:3, 2:5] = True
    return maps, mask


def artifact_mass(answer: Any) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Check Task 4.3, ``artifact_share(maps, mask)``: the share of |attribution| in the mask.

    Parameters
    ----------
    answer : callable or Ellipsis
        The student's function of ``[N, 1, H, W]`` maps and a boolean ``[H, W]`` mask,
        returning ``[N]`` shares.

    Returns
    -------
    callable
        ``answer`` if it gives the library's shares on random signed maps, else
        :func:`failure_modes.explain.attribution.artifact_mass`.
    """
    maps, mask = _probe_maps()
    expected = library_artifact_mass(maps, mask)
    absolute = maps.abs().flatten(1)
    flat_mask = mask.flatten()
    signed = maps.flatten(1)

    def diagnose(function: Any) -> str | None:
        got = feedback.call(function, maps.clone(), mask.clone())
        mistakes = [
            (
                lambda a: feedback.close(a, signed[:, flat_mask].sum(1) / signed.sum(1)),
                "you summed the signed attributions: positive and negative ones cancel; take "
                "absolute values (`maps.abs()`) before summing.",
            ),
            (
                lambda a: feedback.close(a, absolute[:, flat_mask].sum(1)),
                "this is the total |attribution| inside the mask, not a share: divide by the "
                "total |attribution| of the whole image, so that the mass lies in 0..1.",
            ),
            (
                lambda a: feedback.close(a, absolute[:, flat_mask].mean(1)),
                "this is the mean |attribution| over the mask's pixels: the mass is the sum "
                "inside the mask divided by the sum over the whole image.",
            ),
        ]
        return feedback.first_mistake(got, mistakes) or feedback.tensor_mismatch(
            torch.as_tensor(got).detach().cpu(), expected, "artifact_share(...)", atol=_ATOL
        )

    return feedback.check("4.3", answer, diagnose, library_artifact_mass)


# --- Task 5.1: the PSNR -------------------------------------------------------------------------


def _probe_images() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(3)
    clean = torch.rand(4, 1, 5, 5, generator=generator)
    # Each image gets its own noise level, so per-image and whole-batch errors differ.
    levels = torch.tensor([0.05, 0.1, 0.2, 0.3]).view(4, 1, 1, 1)
    noisy = (clean + levels * torch.randn(4, 1, 5, 5, generator=generator)).clamp(0, 1)
    return noisy, clean


def peak_snr(answer: Any) -> Callable[..., torch.Tensor]:
    """Check Task 5.1, ``peak_snr(images, clean)``: PSNR in dB per image, pixels in 0..1.

    Parameters
    ----------
    answer : callable or Ellipsis
        The student's function of two ``[N, 1, H, W]`` batches, returning ``[N]`` values.

    Returns
    -------
    callable
        ``answer`` if it gives :func:`failure_modes.models.denoising.psnr` on the probe, else
        that function.
    """
    noisy, clean = _probe_images()
    expected = library_psnr(noisy, clean)
    mse = (noisy - clean).pow(2).flatten(1).mean(dim=1)

    def diagnose(function: Any) -> str | None:
        got = feedback.call(function, noisy.clone(), clean.clone())
        mistakes = [
            (
                lambda a: feedback.close(a, 10 * torch.log10(255**2 / mse), atol=1e-3),
                f"your values are {20 * math.log10(255):.1f} dB too high: the images are in "
                "0..1, so the peak is 1, not 255.",
            ),
            (
                lambda a: feedback.close(a, 10 * torch.log(1 / mse), atol=1e-3),
                "you used the natural logarithm: decibels are 10 * log10(peak^2 / MSE) "
                "(`torch.log10`).",
            ),
            (
                lambda a: feedback.close(a, torch.log10(1 / mse), atol=1e-3),
                "your values are ten times too small: a decibel is 10 * log10 of the ratio.",
            ),
            (
                lambda a: feedback.close(a, -expected, atol=1e-3),
                "your values have the wrong sign: divide peak^2 by the MSE, not the MSE by "
                "peak^2 (higher PSNR means less error).",
            ),
            (
                lambda a: feedback.close(
                    torch.as_tensor(a).flatten()[0],
                    10 * torch.log10(1 / mse.mean()),
                    atol=1e-3,
                ),
                "you averaged the squared error over the whole batch: the PSNR is one number "
                "per image, so average over each image's pixels only (`.flatten(1).mean(1)`).",
            ),
        ]
        return feedback.first_mistake(got, mistakes) or feedback.tensor_mismatch(
            torch.as_tensor(got).detach().cpu().float(), expected, "peak_snr(...)", atol=1e-3
        )

    return feedback.check("5.1", answer, diagnose, library_psnr)
