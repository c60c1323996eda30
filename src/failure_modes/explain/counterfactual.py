"""Counterfactual inputs: the smallest change to an image that makes a classifier say ``target``.

The change ``delta`` lives in pixel units (the image as a person sees it, values in [0, 1]),
whatever normalisation the model expects, so its L1 / L2 size and the share of pixels it
touches mean the same thing for every model. Each step lowers, for every image at once,

    hinge(max_{k != target} logit_k - logit_target + margin) + weight * distance(delta)
        [+ smoothness * total_variation(delta)]

with ``torch.optim.Adam``, then projects ``delta`` back so that ``image + delta`` stays a valid picture
(pixels in [0, 1]). For ``distance="l1"`` the penalty is applied as a soft-threshold step (the
proximal operator of the L1 norm, with Adam's per-pixel step size), which sets small changes
exactly to zero: a pixel moves only while the gradient of the hinge at it exceeds ``weight``,
and the counterfactual is sparse. For ``"l2"`` the penalty is the squared L2 norm (smooth, so
plain Adam handles it).

Stopping, per image: an image already predicted as ``target`` is returned unchanged at step 0.
Otherwise an iterate *reaches* the target when the target logit beats every other by
``margin``; from the first such step the search goes on for ``patience`` more steps (the penalty
now shrinks the change while the hinge holds it at the margin) and returns the smallest change
that reached the target. An image that never reaches it within ``steps`` steps returns its last
change, and ``success`` says whether the model predicts ``target`` for it. Finished images
leave the forward pass, so later steps cost less; one Adam instance holds the change of the
whole batch, finished rows get a zero gradient and are put back after each step, so every image
still being searched has been updated at every step (Adam's bias correction stays per image).

The search starts from ``delta = 0`` and draws no random numbers: the same inputs give the same
counterfactuals, in a batch or one at a time (up to rounding).

The yardsticks for a change (distance to the nearest real image of a class, the outline band,
total variation) live in :mod:`failure_modes.explain.proximity` and are re-exported here.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import torch
from torch import nn

from failure_modes.explain.proximity import (
    DISTANCES,
    l1_size,
    nearest_distance,
    nearest_in_class,
    outline_mask,
    total_variation,
)
from failure_modes.utils.devices import evaluating
from failure_modes.utils.validation import (
    check_choice,
    check_float_batch,
    check_image_or_batch,
    check_index,
    check_model,
    check_number,
    check_positive_int,
    check_same_device,
    check_targets,
)

__all__ = [
    "DISTANCES",
    "CHANGE_THRESHOLD",
    "CounterfactualResult",
    "counterfactual",
    "l1_size",
    "nearest_distance",
    "nearest_in_class",
    "outline_mask",
    "PRESETS",
    "total_variation",
]

# Bounds for the number checks: finite, and for step sizes and scales strictly positive.
_LARGEST = sys.float_info.max
_SMALLEST_STEP = 1e-12

PRESETS: dict[str, dict[str, float | str]] = {
    "sparse": {"distance": "l1", "weight": 0.2, "margin": 2.0},
    "noise": {"distance": "l2", "weight": 0.05, "margin": 0.5},
    "too strong": {"distance": "l1", "weight": 1.0, "margin": 2.0},
}
"""Named settings for FashionMNIST-sized inputs: a sparse change (the default), a small
spread-out one that reads as noise, and a penalty so strong that many images never reach their
target. The contrastive notebook starts from these in its parameters cell, where an instructor
turns them (and the step budget)."""
CHANGE_THRESHOLD = 0.5 / 255
"""A pixel counts as changed when its change would alter its 8-bit grey value."""


@dataclass(frozen=True)
class CounterfactualResult:
    """Counterfactuals for a batch of images and how they were found.

    Attributes
    ----------
    images : Tensor
        ``[N, C, H, W]`` changed inputs, in the model's input space (normalised like the
        originals).
    change : Tensor
        ``[N, C, H, W]`` the change in pixel units (``[0, 1]`` scale): counterfactual minus
        original as a person would see it.
    original_prediction, prediction, target : Tensor
        ``[N]`` labels: before, after, and asked for.
    success : Tensor
        ``[N]`` bool, whether ``prediction == target``.
    steps : Tensor
        ``[N]`` optimisation steps taken by each image (0 when it needed no change).
    loss_history : Tensor
        ``[T, N]`` the objective of each image at each step, NaN once the image has stopped.
    seconds : float
        Wall-clock time of the whole call.
    """

    images: torch.Tensor
    change: torch.Tensor
    original_prediction: torch.Tensor
    prediction: torch.Tensor
    target: torch.Tensor
    success: torch.Tensor
    steps: torch.Tensor
    loss_history: torch.Tensor
    seconds: float

    def __len__(self) -> int:
        return len(self.images)

    @property
    def l1(self) -> torch.Tensor:
        """``[N]`` L1 norm of each change (sum of absolute pixel changes, pixel units)."""
        return l1_size(self.change)

    @property
    def l2(self) -> torch.Tensor:
        """``[N]`` L2 norm of each change (pixel units)."""
        return self.change.flatten(1).norm(dim=1)

    @property
    def changed(self) -> torch.Tensor:
        """``[N, H, W]`` bool, pixels whose 8-bit value the change alters (any channel)."""
        return (self.change.abs() > CHANGE_THRESHOLD).any(dim=1)

    @property
    def changed_share(self) -> torch.Tensor:
        """``[N]`` share of pixels changed (the L0 proximity, as a fraction of the image)."""
        return self.changed.flatten(1).float().mean(dim=1)

    def summary(self) -> dict[str, float]:
        """Validity, median L1 / L2 / share of pixels changed, and seconds per image."""
        ok = self.success
        pick = ok if bool(ok.any()) else torch.ones_like(ok)
        return {
            "images": len(self),
            "validity": float(ok.float().mean()),
            "median_l1": float(self.l1[pick].median()),
            "median_l2": float(self.l2[pick].median()),
            "median_changed_share": float(self.changed_share[pick].median()),
            "mean_steps": float(self.steps.float().mean()),
            "seconds_per_image": self.seconds / max(len(self), 1),
        }

    def __repr__(self) -> str:
        parts = ", ".join(
            f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}"
            for key, value in self.summary().items()
        )
        return f"CounterfactualResult({parts})"


def _check_inputs(model: nn.Module, inputs: object) -> torch.Tensor:
    # one image [C, H, W] becomes a batch; an [N, H, W] batch is refused with the fix
    return check_float_batch(check_image_or_batch(model, inputs, "inputs"), "inputs", ndim=4)


def _pixel_space(
    images: torch.Tensor, normalization: tuple[float, float] | None
) -> tuple[torch.Tensor, float, float]:
    if normalization is None:
        mean, std = 0.0, 1.0
    else:
        try:
            mean, std = (float(v) for v in normalization)
        except (TypeError, ValueError) as error:
            raise TypeError(f"normalization must be (mean, std), got {normalization!r}.") from error
        check_number(std, "normalization std", low=_SMALLEST_STEP, high=_LARGEST)
    pixels = images * std + mean
    # Inputs outside the valid range mean the normalisation given does not match the images;
    # clamping them silently would hide that.
    slack = 1e-4
    if bool((pixels < -slack).any() or (pixels > 1 + slack).any()):
        raise ValueError(
            f"input values map to pixels in [{float(pixels.min()):.3f}, {float(pixels.max()):.3f}]"
            f" with normalization (mean, std) = ({mean}, {std}), outside [0, 1]. Pass the "
            "normalisation the images were made with, e.g. "
            "normalization=failure_modes.data.normalization(dataset)."
        )
    return pixels.clamp(0, 1), mean, std


def _margin(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    # Largest other logit minus the target logit: negative once the target wins.
    target_logit = logits.gather(1, targets[:, None]).squeeze(1)
    others = logits.scatter(1, targets[:, None], float("-inf"))
    return others.max(dim=1).values - target_logit


def _penalty(delta: torch.Tensor, distance: str) -> torch.Tensor:
    flat = delta.flatten(1)
    return flat.abs().sum(dim=1) if distance == "l1" else flat.pow(2).sum(dim=1)


def counterfactual(
    model: nn.Module,
    inputs: torch.Tensor,
    target: int | torch.Tensor,
    *,
    distance: str = "l1",
    weight: float = 0.2,
    steps: int = 200,
    lr: float = 0.02,
    margin: float = 2.0,
    patience: int = 20,
    smoothness: float = 0.0,
    normalization: tuple[float, float] | None = None,
) -> CounterfactualResult:
    """The smallest change, found by penalised optimisation, that makes ``model`` say ``target``.

    Parameters
    ----------
    model : nn.Module
        A classifier returning logits; used in eval mode and never changed.
    inputs : Tensor
        ``[C, H, W]`` one image or ``[N, C, H, W]`` a batch, prepared as the model expects.
    target : int or Tensor
        The class each image should be given: one for all, or ``[N]``.
    distance : {"l1", "l2"}, default "l1"
        Size of the change that is penalised: L1 (sparse changes, exact zeros) or squared L2
        (small changes spread out).
    weight : float, default 0.2
        Penalty per unit of distance (pixel units). Larger: smaller, sparser changes, and more
        images that fail to reach the target; smaller: larger, noisier changes. With ``"l1"``
        a pixel moves only while the gradient of the target's margin at it exceeds ``weight``.
    steps : int, default 200
        Most optimisation steps per image.
    lr : float, default 0.02
        Adam's step size, in pixel units.
    margin : float, default 2.0
        Logit margin by which the target should win (2.0: probability above about 0.88 against
        the runner-up); an iterate counts as reaching the target only with this margin, and the
        hinge stops pushing beyond it.
    patience : int, default 20
        Steps an image keeps shrinking its change after it first reaches the target (0: stop
        at the first valid step).
    smoothness : float, default 0.0
        Penalty per unit of total variation of the change (summed absolute differences
        between neighbouring pixels): larger values make neighbouring pixels change together.
    normalization : (float, float), optional
        ``(mean, std)`` with which the images were normalised (``pixel = x * std + mean``), e.g.
        :func:`failure_modes.data.normalization` of the dataset; default: inputs are pixels in
        [0, 1]. Defines the valid range and the units of the change.

    Returns
    -------
    CounterfactualResult
        Changed images, changes, predictions, success flags, steps, loss history, time.

    Raises
    ------
    ValueError
        For inputs of the wrong shape, a target out of range or of the wrong length, an
        unknown distance, a non-positive step count or learning rate, a negative weight,
        margin, smoothness or patience, or input values outside the valid pixel range for
        ``normalization``.
    TypeError
        For integer inputs, or a target that is not integer class labels.

    Examples
    --------
    >>> result = counterfactual(model, x[:8], y[:8], normalization=(0.286, 0.353))  # doctest: +SKIP
    >>> result.success.float().mean(), result.l1.median()  # doctest: +SKIP
    """
    started = time.perf_counter()
    check_model(model)
    check_choice(distance, DISTANCES, "distance")
    weight = check_number(weight, "weight", low=0.0, high=_LARGEST)
    lr = check_number(lr, "lr", low=_SMALLEST_STEP, high=_LARGEST)
    margin = check_number(margin, "margin", low=0.0, high=_LARGEST)
    smoothness = check_number(smoothness, "smoothness", low=0.0, high=_LARGEST)
    steps = check_positive_int(steps, "steps")
    patience = check_index(patience, "patience")
    images = _check_inputs(model, inputs)
    check_same_device(model, images, "inputs")
    with evaluating(model):
        with torch.no_grad():
            logits = model(images)
        targets = check_targets(
            target, len(images), "target", num_classes=logits.shape[1], device=images.device
        )
        pixels, mean, std = _pixel_space(images.detach(), normalization)
        delta, history, taken = _optimise(
            model, pixels, targets, logits.argmax(dim=1), mean, std,
            distance=distance, weight=weight, steps=steps, lr=lr, margin=margin,
            patience=patience, smoothness=smoothness,
        )  # fmt: skip
        # Added in input space, so an unchanged image comes back bit for bit.
        changed_images = images + delta / std
        with torch.no_grad():
            prediction = model(changed_images).argmax(dim=1)
    return CounterfactualResult(
        images=changed_images.detach(),
        change=delta.detach(),
        original_prediction=logits.argmax(dim=1),
        prediction=prediction,
        target=targets,
        success=prediction == targets,
        steps=taken,
        loss_history=history,
        seconds=time.perf_counter() - started,
    )


def _optimise(
    model: nn.Module,
    pixels: torch.Tensor,
    targets: torch.Tensor,
    predicted: torch.Tensor,
    mean: float,
    std: float,
    *,
    distance: str,
    weight: float,
    steps: int,
    lr: float,
    margin: float,
    patience: int,
    smoothness: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    n = len(pixels)
    delta = torch.zeros_like(pixels, requires_grad=True)
    optimiser = torch.optim.Adam([delta], lr=lr)
    best = torch.zeros_like(pixels)
    best_size = torch.full((n,), float("inf"), device=pixels.device)
    first_valid = torch.full((n,), -1, dtype=torch.long, device=pixels.device)
    taken = torch.zeros(n, dtype=torch.long, device=pixels.device)
    history = torch.full((steps, n), float("nan"))
    active = torch.nonzero(predicted != targets).flatten()
    low, high = -pixels, 1 - pixels
    for step in range(steps):
        if len(active) == 0:
            break
        # Only the active images go through the model; indexing the whole ``delta`` gives the
        # finished ones a zero gradient.
        current = delta[active]
        logits = model((pixels[active] + current - mean) / std)
        gap = _margin(logits, targets[active])
        size = _penalty(current, distance)
        hinge = (gap + margin).clamp_min(0)
        rough = total_variation(current) if smoothness else torch.zeros_like(size)
        # The L1 term is handled by the proximal step below, not by its gradient.
        objective = hinge + smoothness * rough + (weight * size if distance == "l2" else 0)
        # autograd.grad, not backward(): the model's own parameters must not collect gradients.
        (delta.grad,) = torch.autograd.grad(objective.sum(), delta)
        history[step, active.cpu()] = (hinge + weight * size + smoothness * rough).detach().cpu()
        taken[active] += 1
        with torch.no_grad():
            # Bookkeeping on the iterate just evaluated (before this step's update).
            # Reached: the target wins, by ``margin`` when one is asked for.
            evaluated = current.detach()
            valid = (gap < 0) & (gap <= -margin)
            improved = valid & (size < best_size[active])
            best_size[active[improved]] = size[improved]
            best[active[improved]] = evaluated[improved]
            newly = valid & (first_valid[active] < 0)
            first_valid[active[newly]] = step
            finished = torch.ones(n, dtype=torch.bool, device=pixels.device)
            finished[active] = False
            frozen = delta[finished]
            optimiser.step()
            # Adam's momentum would keep moving the finished rows: put them back.
            delta[finished] = frozen
            update = delta[active]
            if distance == "l1":
                # Proximal step of weight * |delta|_1 with Adam's own per-pixel step size:
                # shrink towards zero, exact zeros below, so a pixel moves only while its
                # (averaged) gradient is larger than ``weight``.
                step_size = _adam_step_size(optimiser, delta, active)
                update = update.sign() * (update.abs() - step_size * weight).clamp_min(0)
            delta[active] = torch.maximum(torch.minimum(update, high[active]), low[active])
            started = first_valid[active]
            done = (started >= 0) & (step - started >= patience)
            active = active[~done]
    # Images that never became valid keep their last change.
    never = torch.isinf(best_size)
    best[never] = delta.detach()[never]
    return best, history[: int(taken.max()) if n else 0], taken


def _adam_step_size(
    optimiser: torch.optim.Adam, parameter: torch.Tensor, rows: torch.Tensor
) -> torch.Tensor:
    # The factor by which Adam has just multiplied its first moment, per pixel of ``rows``:
    # lr / (1 - beta1^t) / (sqrt(v / (1 - beta2^t)) + eps), as torch.optim.Adam computes it.
    group = optimiser.param_groups[0]
    state = optimiser.state[parameter]
    t = float(state["step"])
    beta1, beta2 = group["betas"]
    denominator = (state["exp_avg_sq"][rows] / (1 - beta2**t)).sqrt() + group["eps"]
    return (group["lr"] / (1 - beta1**t)) / denominator
