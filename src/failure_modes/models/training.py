"""Training loops for classifiers and denoisers, with seeds that make runs repeatable.

Both loops work on whole tensors in memory (the datasets here are small) and draw mini-batches
by index: no per-image ``__getitem__``, no worker processes. A ``seed`` fixes the data order, so
two models trained with the same seed see the same batches in the same order.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from tqdm.auto import tqdm

from failure_modes.data.tensors import classification_tensors, image_tensors
from failure_modes.models.denoising import NOISE_STD, add_noise
from failure_modes.utils.devices import device_of, pick_device
from failure_modes.utils.seeding import seed_everything
from failure_modes.utils.validation import (
    check_callable,
    check_finite,
    check_float_batch,
    check_instance,
    check_model,
    check_non_empty,
    check_not_none,
    check_number,
    check_positive,
    check_positive_int,
    check_same_device,
    check_same_length,
    check_seed,
    check_targets,
)

__all__ = [
    "seed_everything",
    "pick_device",
    "device_of",
    "classification_tensors",
    "image_tensors",
    "train_classifier",
    "train_denoiser",
    "training_step",
]


def training_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_function: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
) -> torch.Tensor:
    """One optimisation step on the batch ``(x, y)``: reset, loss, backward, update.

    Parameters
    ----------
    model : nn.Module
        Trained in place.
    optimizer : torch.optim.Optimizer
        Built on ``model``'s parameters.
    loss_function : callable
        ``loss_function(model(x), y)`` gives the batch's loss.
    x : Tensor
        ``[B, C, H, W]`` images or ``[B, D]`` feature rows, finite floats on the model's
        device; an ``[B, H, W]`` batch is refused with the fix (``x[:, None]`` adds the
        channel axis), as in :func:`train_classifier`.
    y : Tensor
        ``[B]`` targets: integer class labels (in range of the model's outputs when those are
        ``[B, num_classes]``) or finite float targets of the output's shape (a denoiser's
        clean images, class probabilities).

    Returns
    -------
    Tensor
        The batch's loss before the update (a scalar).

    Raises
    ------
    TypeError
        For a model, optimiser or loss that is none, non-float inputs or float labels.
    ValueError
        For NaN/inf, an empty batch, one target per item missing, labels out of range.
    """
    check_model(model)
    check_instance(
        optimizer, torch.optim.Optimizer, "optimizer", "a torch.optim.Optimizer (e.g. Adam)"
    )
    check_callable(loss_function, "loss_function", "callable (e.g. nn.CrossEntropyLoss())")
    x = check_float_batch(x, "x", ndim=(2, 4))
    check_same_device(model, x, "x")
    y = check_finite(check_not_none(y, "y", "a tensor of targets, one per input"), "y")
    check_same_length(x, y, "x", "y")
    return _step(model, optimizer, loss_function, x, y)


def _step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_function: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
) -> torch.Tensor:
    # The step itself. The fit loop calls it directly: its data were checked once, whole, so
    # re-checking every batch for NaN would only cost time (~150 us of a ~3 ms step). What
    # depends on the model's output (the labels' range, the targets' shape) is checked here.
    optimizer.zero_grad()
    output = model(x)
    if not y.is_floating_point() and output.ndim == 2:
        check_targets(y, len(x), "y", num_classes=output.shape[1])
    elif y.is_floating_point() and tuple(y.shape) != tuple(output.shape):
        raise TypeError(
            f"y must hold integer class labels or float targets of the model's output shape "
            f"{tuple(output.shape)}, got dtype {y.dtype} and shape {tuple(y.shape)}; for "
            "classes, pass y.long() only if they are whole numbers."
        )
    loss = loss_function(output, y)
    loss.backward()
    optimizer.step()
    return loss


def _batches(
    n: int, batch_size: int, shuffle: bool, generator: torch.Generator
) -> list[torch.Tensor]:
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    return list(order.split(batch_size))


def _fit(
    model: nn.Module,
    inputs: torch.Tensor,
    make_batch: Callable[[torch.Tensor, torch.Generator], tuple[torch.Tensor, torch.Tensor]],
    loss_fn: nn.Module,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int | None,
    device: str | torch.device | None,
    shuffle: bool,
    progress: bool,
    desc: str,
    weight_decay: float = 0.0,
) -> list[float]:
    check_model(model)
    check_positive_int(epochs, "epochs")
    check_positive_int(batch_size, "batch_size")
    check_non_empty(inputs, "dataset")
    check_positive(lr, "lr")
    check_number(weight_decay, "weight_decay", low=0.0)
    device = pick_device(device)
    generator = torch.Generator().manual_seed(
        check_seed(seed) if seed is not None else int(torch.randint(2**62, (1,)))
    )
    model.to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    losses: list[float] = []
    n_batches = -(-len(inputs) // batch_size)
    with tqdm(total=epochs * n_batches, desc=desc, disable=not progress, leave=False) as bar:
        for _ in range(epochs):
            for index in _batches(len(inputs), batch_size, shuffle, generator):
                x, y = make_batch(index, generator)
                loss = _step(model, optimizer, loss_fn, x.to(device), y.to(device))
                losses.append(loss.item())
                bar.update()
                bar.set_postfix(loss=f"{losses[-1]:.3f}", refresh=False)
    model.eval()
    return losses


def train_classifier(
    model: nn.Module,
    dataset: object,
    *,
    epochs: int = 1,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int | None = None,
    device: str | torch.device | None = None,
    shuffle: bool = True,
    progress: bool = True,
    weight_decay: float = 0.0,
) -> list[float]:
    """Train ``model`` in place with Adam and cross-entropy; return the loss of every step.

    Parameters
    ----------
    model : nn.Module
        Maps float images ``[B, C, H, W]`` to logits ``[B, num_classes]``.
    dataset : Dataset or tuple of tensors
        A dataset with ``.data``/``.targets`` (normalised as its transform says) or ``(x, y)``.
    epochs : int, default 1
        Passes over the data.
    batch_size : int, default 64
        Images per optimisation step.
    lr : float, default 1e-3
        Adam's learning rate.
    seed : int, optional
        Fixes the order of the mini-batches; same seed, same order. None (the default, on
        purpose) draws a fresh order every call; a seed must be an int in torch's 64-bit range.
    device : str or torch.device, optional
        Where to train; default :func:`pick_device`.
    shuffle : bool, default True
        Draw batches in random order (else in dataset order).
    progress : bool, default True
        Show a tqdm progress bar.
    weight_decay : float, default 0.0
        L2 penalty on the weights (Adam's ``weight_decay``), a classic regulariser.

    Returns
    -------
    list of float
        Training loss after each step, ``epochs * ceil(N / batch_size)`` values.
    """
    inputs, targets = classification_tensors(dataset)
    return _fit(
        model,
        inputs,
        lambda index, _: (inputs[index], targets[index]),
        nn.CrossEntropyLoss(),
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        device=device,
        shuffle=shuffle,
        progress=progress,
        desc="train classifier",
        weight_decay=weight_decay,
    )


def train_denoiser(
    model: nn.Module,
    dataset: object,
    *,
    epochs: int = 1,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int | None = None,
    device: str | torch.device | None = None,
    shuffle: bool = True,
    progress: bool = True,
    noise_std: float | None = None,
) -> list[float]:
    """Train ``model`` in place to map noisy images to clean ones (MSE); return step losses.

    Parameters
    ----------
    model : nn.Module
        Maps ``[B, 1, H, W]`` images to images of the same shape.
    dataset : Dataset or Tensor
        Clean images: a dataset with uint8 ``.data`` (also ``Subset``/``ConcatDataset``), or a
        float tensor ``[N, 1, H, W]`` in [0, 1] (see :func:`image_tensors`).
    noise_std : float, optional
        Standard deviation of the Gaussian noise; default
        :data:`failure_modes.models.denoising.NOISE_STD`. Fresh noise is drawn for every batch from a
        generator seeded by ``seed``.
    epochs, batch_size, lr, seed, device, shuffle, progress
        As in :func:`train_classifier`.

    Returns
    -------
    list of float
        Training loss after each step.
    """
    clean = image_tensors(dataset)
    std = NOISE_STD if noise_std is None else noise_std

    def make_batch(index: torch.Tensor, generator: torch.Generator):
        target = clean[index]
        return add_noise(target, std=std, generator=generator), target

    return _fit(
        model,
        clean,
        make_batch,
        nn.MSELoss(),
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        device=device,
        shuffle=shuffle,
        progress=progress,
        desc="train denoiser",
    )
