"""Training loops for classifiers and denoisers, with seeds that make runs repeatable.

Both loops work on whole tensors in memory (the datasets here are small) and draw mini-batches
by index: no per-image ``__getitem__``, no worker processes. A ``seed`` fixes the data order, so
two models trained with the same seed see the same batches in the same order.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from .validation import check_positive_int

__all__ = [
    "seed_everything",
    "pick_device",
    "device_of",
    "model_on",
    "classification_tensors",
    "image_tensors",
    "train_classifier",
    "train_denoiser",
]


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and PyTorch, and return a ``torch.Generator`` seeded the same way.

    Build two models right after the same ``seed_everything(seed)`` call and they start from
    identical weights.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__} {seed!r}.")
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - seeding the global state is the point
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(int(seed))


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """Return ``device`` if given, else the best available: CUDA, then Apple MPS, then CPU."""
    if device is not None:
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def device_of(model: nn.Module) -> torch.device:
    """The device of ``model``'s parameters (the CPU for a model without parameters)."""
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def model_on(model: nn.Module, device: str | torch.device | None) -> nn.Module:
    """Return ``model`` in eval mode on ``device`` without moving the model given.

    ``device=None`` keeps the model where it is. Another device gets a copy, so evaluating on
    the GPU never leaves a CPU model there (nor the other way round).
    """
    if device is None or torch.device(device) == device_of(model):
        return model.eval()
    return copy.deepcopy(model).to(device).eval()


def classification_tensors(dataset: object) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(inputs float [N, C, H, W], targets int64 [N])`` for a dataset or a tensor pair.

    A dataset goes through :func:`failure_modes.data.to_tensors` (its own normalisation); a
    tuple ``(x, y)`` of tensors is checked and returned as it is.
    """
    if isinstance(dataset, (tuple, list)):
        if len(dataset) != 2 or not all(isinstance(t, torch.Tensor) for t in dataset):
            raise TypeError("dataset given as a tuple must be (inputs, targets), two tensors.")
        inputs, targets = dataset
    else:
        from .data import to_tensors

        inputs, targets = to_tensors(dataset)
    if not inputs.is_floating_point():
        raise TypeError(f"inputs must be a float tensor, got dtype {inputs.dtype}.")
    if targets.ndim != 1 or len(targets) != len(inputs):
        raise ValueError(
            f"targets must have shape [N] with N = {len(inputs)} (the number of inputs), "
            f"got {tuple(targets.shape)}."
        )
    return inputs, targets.long()


def image_tensors(dataset: object) -> torch.Tensor:
    """Return clean images as float ``[N, 1, H, W]`` in [0, 1] from a dataset or a tensor.

    Datasets are read from their raw ``.data`` (uint8), so the result does not depend on the
    dataset's normalisation; ``Subset`` and ``ConcatDataset`` are followed.
    """
    if isinstance(dataset, torch.Tensor):
        if dataset.ndim != 4 or not dataset.is_floating_point():
            raise ValueError(
                f"images must be float [N, C, H, W] in [0, 1], got dtype {dataset.dtype} and "
                f"shape {tuple(dataset.shape)}."
            )
        return dataset
    if isinstance(dataset, torch.utils.data.ConcatDataset):
        return torch.cat([image_tensors(part) for part in dataset.datasets])
    if isinstance(dataset, torch.utils.data.Subset):
        return image_tensors(dataset.dataset)[torch.as_tensor(dataset.indices)]
    data = getattr(dataset, "data", None)
    if not isinstance(data, torch.Tensor) or data.dtype != torch.uint8 or data.ndim != 3:
        raise TypeError(
            "dataset must be a tensor or a dataset with a uint8 .data of shape [N, H, W], "
            f"got {type(dataset).__name__}."
        )
    return data.float().div(255).unsqueeze(1)


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
    check_positive_int(epochs, "epochs")
    check_positive_int(batch_size, "batch_size")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr}.")
    if not weight_decay >= 0:
        raise ValueError(f"weight_decay must be non-negative, got {weight_decay}.")
    device = pick_device(device)
    generator = torch.Generator().manual_seed(
        int(seed) if seed is not None else int(torch.randint(2**62, (1,)))
    )
    model.to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    losses: list[float] = []
    n_batches = -(-len(inputs) // batch_size)
    with tqdm(total=epochs * n_batches, desc=desc, disable=not progress, leave=False) as bar:
        for _ in range(epochs):
            for index in _batches(len(inputs), batch_size, shuffle, generator):
                x, y = make_batch(index, generator)
                optimizer.zero_grad()
                loss = loss_fn(model(x.to(device)), y.to(device))
                loss.backward()
                optimizer.step()
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
        Fixes the order of the mini-batches; same seed, same order.
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
        :data:`failure_modes.denoising.NOISE_STD`. Fresh noise is drawn for every batch from a
        generator seeded by ``seed``.
    epochs, batch_size, lr, seed, device, shuffle, progress
        As in :func:`train_classifier`.

    Returns
    -------
    list of float
        Training loss after each step.
    """
    from .denoising import NOISE_STD, add_noise

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
