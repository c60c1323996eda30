"""Checker of Part 2: the training step, run on a small probe where each typical mistake gives
another loss or other weights."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from failure_modes.course.checks import feedback
from failure_modes.models.training import training_step as library_training_step

__all__ = ["training_step"]

_PROBE_LR = 0.1


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
