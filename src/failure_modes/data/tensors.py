"""Datasets as model-ready tensors: normalisation read off a dataset's transform, all images
and labels at once (no per-item ``__getitem__``), clean 0..1 images for the denoiser."""

from __future__ import annotations

import warnings

import torch
from torch.utils.data import ConcatDataset, Dataset, Subset
from torchvision import transforms

from failure_modes.utils.validation import (
    check_finite,
    check_image_axes,
    check_same_length,
    check_targets,
    check_unit_interval,
)

__all__ = [
    "black_baseline",
    "classification_tensors",
    "image_tensors",
    "normalization",
    "to_tensors",
]


_NO_OP = (transforms.ToTensor, transforms.PILToTensor, transforms.ConvertImageDtype)


def _flatten(transform) -> list:
    if transform is None:
        return []
    if isinstance(transform, transforms.Compose):
        return [t for inner in transform.transforms for t in _flatten(inner)]
    return [transform]


def _scalar(value, what: str) -> float:
    values = torch.as_tensor(value, dtype=torch.float64).flatten()
    if values.numel() != 1:
        raise ValueError(f"Normalize {what} must have one channel, got {value!r}.")
    return float(values[0])


def normalization(dataset: Dataset) -> tuple[float, float]:
    """The ``(mean, std)`` of the ``Normalize`` in a dataset's transform.

    Parameters
    ----------
    dataset : torch.utils.data.Dataset
        A dataset with a ``transform`` attribute (a ``Normalize``, possibly inside a
        ``Compose``), or a ``Subset`` / ``ConcatDataset`` of such datasets.

    Returns
    -------
    tuple of float
        ``(mean, std)`` such that the transform maps a pixel ``p`` in [0, 1] to
        ``(p - mean) / std``; ``(0.0, 1.0)`` when there is no ``Normalize``.

    Raises
    ------
    ValueError
        If the parts of a ``ConcatDataset`` are normalised differently.
    """
    if dataset is None or isinstance(dataset, (torch.Tensor, tuple, list)):
        raise TypeError(
            f"dataset must be a Dataset with a transform (the one the inputs came from), got "
            f"{type(dataset).__name__}; a default of (0, 1) would hide a normalised dataset."
        )
    if isinstance(dataset, Subset):
        return normalization(dataset.dataset)
    if isinstance(dataset, ConcatDataset):
        found = {normalization(part) for part in dataset.datasets}
        if len(found) > 1:
            raise ValueError(
                f"the parts of this ConcatDataset are normalised differently: {found}."
            )
        return found.pop() if found else (0.0, 1.0)
    mean, std = 0.0, 1.0
    for step in _flatten(getattr(dataset, "transform", None)):
        if isinstance(step, transforms.Normalize):
            # Two Normalize steps compose into one: ((p - m1)/s1 - m2)/s2.
            m, s = _scalar(step.mean, "mean"), _scalar(step.std, "std")
            mean, std = mean + m * std, std * s
    return mean, std


def black_baseline(dataset: Dataset) -> float:
    """The model-input value of a black pixel: ``(0 - mean) / std`` of the dataset's transform.

    A zero tensor is *not* a black image once inputs are normalised (it is the mean grey);
    baselines for Integrated Gradients, DeepLift, GradientShap and occlusion that mean "no
    ink" should be this value. It is computed with the same float32 operations as
    :func:`to_tensors`, so a black input pixel equals it bit for bit and gets exactly zero
    Integrated Gradients attribution.
    """
    mean, std = normalization(dataset)
    return torch.zeros(()).sub(mean).div(std).item()


def _warn_unapplied(dataset: Dataset) -> None:
    others = [
        type(t).__name__
        for t in _flatten(getattr(dataset, "transform", None))
        if not isinstance(t, (*_NO_OP, transforms.Normalize))
    ]
    if others:
        warnings.warn(
            f"to_tensors applies only the normalisation; {', '.join(others)} in the dataset's "
            "transform are not applied.",
            stacklevel=3,
        )


def _plain_tensors(dataset: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    data = getattr(dataset, "data", None)
    targets = getattr(dataset, "targets", None)
    if not isinstance(data, torch.Tensor) or data.dtype != torch.uint8 or data.ndim != 3:
        raise TypeError(
            "to_tensors needs a dataset with .data, a uint8 tensor [N, H, W] (like torchvision's "
            f"MNIST), a Subset or a ConcatDataset of such; got {type(dataset).__name__} with "
            f".data {type(data).__name__}"
            + (f" {data.dtype} {tuple(data.shape)}" if isinstance(data, torch.Tensor) else "")
            + "."
        )
    if targets is None:
        raise TypeError(
            f"to_tensors needs .targets on the dataset; {type(dataset).__name__} has none."
        )
    check_same_length(data, targets, "dataset.data", "dataset.targets")
    _warn_unapplied(dataset)
    mean, std = normalization(dataset)
    x = data.float().div(255).sub(mean).div(std).unsqueeze(1)
    # as_tensor + clone: a list of labels works too, and the result never aliases the dataset.
    y = torch.as_tensor(targets).to(torch.int64).clone()
    return x, y


def to_tensors(dataset: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """All images and labels of a dataset as two tensors, normalised like its transform.

    Vectorised: reads ``.data`` / ``.targets`` instead of calling ``__getitem__`` per item.

    Parameters
    ----------
    dataset : torch.utils.data.Dataset
        A torchvision MNIST-like dataset (uint8 ``.data`` ``[N, H, W]``, ``.targets``), a deep
        copy of one, or a ``Subset`` / ``ConcatDataset`` of such datasets.

    Returns
    -------
    x : torch.Tensor
        float32 ``[N, 1, H, W]``, ``(data / 255 - mean) / std`` with ``(mean, std)`` from
        :func:`normalization` (for a ``raw=True`` dataset: pixels scaled to [0, 1]).
    y : torch.Tensor
        int64 ``[N]`` labels, a fresh copy.

    Raises
    ------
    TypeError
        If the dataset is none of the kinds above.
    """
    if isinstance(dataset, Subset):
        x, y = to_tensors(dataset.dataset)
        index = torch.as_tensor(list(dataset.indices), dtype=torch.int64)
        return x[index], y[index]
    if isinstance(dataset, ConcatDataset):
        parts = [to_tensors(part) for part in dataset.datasets]
        if not parts:
            raise ValueError("to_tensors got an empty ConcatDataset.")
        return torch.cat([x for x, _ in parts]), torch.cat([y for _, y in parts])
    return _plain_tensors(dataset)


def classification_tensors(dataset: object) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(inputs float [N, C, H, W], targets int64 [N])`` for a dataset or a tensor pair.

    A dataset goes through :func:`to_tensors` (its own normalisation); a
    tuple ``(x, y)`` of tensors is checked and returned as it is. Feature rows ``[N, D]`` (a
    linear probe's inputs) are accepted too; an ``[N, H, W]`` batch is refused with the fix
    (``x[:, None]`` adds the channel axis).
    """
    if isinstance(dataset, (tuple, list)):
        if len(dataset) != 2 or not all(isinstance(t, torch.Tensor) for t in dataset):
            raise TypeError("dataset given as a tuple must be (inputs, targets), two tensors.")
        inputs, targets = dataset
    else:
        inputs, targets = to_tensors(dataset)
    if not inputs.is_floating_point():
        raise TypeError(
            f"inputs must be a float tensor, got dtype {inputs.dtype}"
            + ("; uint8 pixels: use to_tensors(dataset)." if inputs.dtype == torch.uint8 else ".")
        )
    check_image_axes(inputs, "inputs", features=True)  # [N, H, W] lacks its channel axis
    check_finite(inputs, "inputs")
    if targets.ndim != 1 or len(targets) != len(inputs):
        raise ValueError(
            f"targets must have shape [N] with N = {len(inputs)} (the number of inputs), "
            f"got {tuple(targets.shape)}."
        )
    # Float labels are refused, never truncated: 3.5 is no class.
    return inputs, check_targets(targets, len(inputs), "targets")


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
        return check_unit_interval(dataset, "images")
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
