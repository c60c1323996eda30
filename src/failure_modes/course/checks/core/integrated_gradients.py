"""Checkers of Part 4's Integrated Gradients: Captum's maps (Task 4.1) and the Riemann sum the
student writes (Task 4.2), compared with Captum's and by completeness."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from captum.attr import IntegratedGradients
from torch import nn

from failure_modes.course.checks import feedback
from failure_modes.course.checks.core._shared import _ATOL, _CAPTUM_DEFAULT_STEPS
from failure_modes.explain.attribution import attribute
from failure_modes.utils.devices import evaluating

__all__ = [
    "RIEMANN_RULE",
    "integrated_gradients",
    "library_integrated_gradients",
    "riemann_integrated_gradients",
]

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
