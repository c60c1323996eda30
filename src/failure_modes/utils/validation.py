"""Checks shared by every public function: image batches, masks, labels, datasets.

The one place to import validators from: the array and image-axes checks
(:mod:`~failure_modes.utils.arrays`), the scalar checks (:mod:`~failure_modes.utils.scalars`),
the path and plain-argument checks (:mod:`~failure_modes.utils.arguments`) and the device check
(:func:`~failure_modes.utils.devices.check_device`) are re-exported.

Each helper raises ``TypeError`` for a wrong type and ``ValueError`` for a wrong value, with a
message that names the argument, says what was expected and what came, and how to fix it.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

from failure_modes.utils.arguments import (
    MissingPathError,
    check_binary_stream,
    check_callable,
    check_flag,
    check_instance,
    check_path,
)
from failure_modes.utils.arrays import (
    as_tensor,
    check_image_axes,
    check_image_or_batch,
    check_numbers,
    shape_message,
)
from failure_modes.utils.devices import check_device
from failure_modes.utils.scalars import (
    check_amplitude,
    check_choice,
    check_fraction,
    check_grey_level,
    check_index,
    check_number,
    check_open_unit,
    check_positive,
    check_positive_int,
    check_probability,
    check_seed,
    describe,
)

__all__ = [
    "check_device",
    "MissingPathError",
    "check_path",
    "check_flag",
    "check_instance",
    "check_callable",
    "check_binary_stream",
    "check_uint8_images",
    "check_mask",
    "check_same_shape",
    "check_labels_present",
    "check_targets",
    "check_fraction",
    "check_probability",
    "check_choice",
    "check_positive_int",
    "check_index",
    "check_number",
    "check_seed",
    "check_same_device",
    "check_finite",
    "check_float_batch",
    "check_image_axes",
    "check_image_or_batch",
    "check_numbers",
    "check_unit_interval",
    "check_rates",
    "check_non_empty",
    "check_same_length",
    "check_not_none",
    "check_model",
    "check_open_unit",
    "check_positive",
    "check_grey_level",
    "check_amplitude",
    "check_flags",
    "check_dataset_arrays",
    "as_tensor",
]


def check_uint8_images(images: object, name: str = "images") -> torch.Tensor:
    """Check that ``images`` is a uint8 batch of shape ``[N, H, W]`` and return it as a tensor.

    Raises
    ------
    TypeError
        If ``images`` is not a tensor/array or its dtype is not uint8.
    ValueError
        If ``images`` does not have three dimensions.
    """
    tensor = as_tensor(images, name)
    if tensor.dtype != torch.uint8:
        raise TypeError(
            f"{name} must have dtype uint8 (pixel values 0..255), got {describe(images)}. "
            "Use dataset.data (raw uint8) rather than normalised float tensors."
        )
    if tensor.ndim != 3:
        raise ValueError(
            f"{name} must have shape [N, H, W], got {describe(images)}. "
            "For a single image use images[None]."
        )
    return tensor


def check_mask(
    mask: object, shape: tuple[int, int], name: str = "mask", *, allow_empty: bool = False
) -> torch.Tensor:
    """Check that ``mask`` is a boolean ``[H, W]`` (or ``[N, H, W]``) mask matching ``shape``.

    ``allow_empty=True`` accepts a mask that selects no pixel, for callers that give such an
    image a result of its own (NaN) rather than treat it as a mistake.

    Raises
    ------
    TypeError
        If ``mask`` is not boolean.
    ValueError
        If its last two dimensions differ from ``shape`` or it selects no pixel.
    """
    tensor = as_tensor(mask, name)
    if tensor.dtype != torch.bool:
        raise TypeError(f"{name} must be a boolean mask, got {describe(mask)}.")
    if tensor.ndim not in (2, 3) or tuple(tensor.shape[-2:]) != tuple(shape):
        raise ValueError(
            f"{name} must have shape [H, W] or [N, H, W] with H, W = {tuple(shape)}, "
            f"got {describe(mask)}."
        )
    if not allow_empty and not bool(tensor.any()):
        raise ValueError(f"{name} covers no pixel; an artifact mask must select at least one.")
    return tensor


def check_same_shape(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> None:
    """Raise ``ValueError`` if two tensors differ in shape."""
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(
            f"{name_a} and {name_b} must have the same shape, got {tuple(a.shape)} and "
            f"{tuple(b.shape)}."
        )


def check_targets(
    value: object,
    n: int,
    name: str = "targets",
    *,
    num_classes: int | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Class labels as an int64 tensor ``[n]``: one int for every item, or one label per item.

    Parameters
    ----------
    value : int, sequence, numpy array or tensor
        Integer class labels; a single int (or 0-d tensor) stands for all ``n`` items.
    n : int
        How many items there are.
    name : str
        The argument's name, for messages (``"targets"``, ``"target"``, ...).
    num_classes : int or None
        When given, every label must lie in ``0..num_classes - 1``.
    device : torch.device, str or None
        Where the result lives (the model's device); where ``value`` is when None.

    Raises
    ------
    TypeError
        For bools, floats or complex numbers: ``3.5`` is no class, and truncating it would
        explain the wrong one in silence.
    ValueError
        For a wrong length, or labels out of range (``-1`` is not "the last class" here).
    """
    if isinstance(value, bool) or (
        isinstance(value, (list, tuple)) and any(isinstance(v, bool) for v in value)
    ):
        raise TypeError(f"{name} must hold integer class labels, got {describe(value)}.")
    try:
        labels = value if isinstance(value, torch.Tensor) else torch.as_tensor(np.asarray(value))
    except (TypeError, ValueError, RuntimeError) as error:
        raise TypeError(
            f"{name} must be an int or a sequence of ints, got {describe(value)}."
        ) from error
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise TypeError(
            f"{name} must hold integer class labels, got dtype {labels.dtype}; convert them "
            f"with .long() only if they are whole numbers."
        )
    labels = labels.to(device=device, dtype=torch.int64)
    if labels.ndim == 0:
        labels = labels.expand(n)
    if tuple(labels.shape) != (n,):
        raise ValueError(
            f"{name} must be one int or have shape [{n}] (one label per item), got shape "
            f"{tuple(labels.shape)}."
        )
    if labels.device.type == "meta":  # no values to check (shape-only tensors)
        return labels
    if num_classes is None and n and bool((labels < 0).any()):
        raise ValueError(
            f"{name} must be class indices 0, 1, 2, ..., got negative labels "
            f'{sorted(set(labels[labels < 0].tolist()))}; -1 is not "the last class" here, '
            "write the class's own index."
        )
    if num_classes is not None and n:
        bad = (labels < 0) | (labels >= num_classes)
        if bool(bad.any()):
            raise ValueError(
                f"{name} must lie in 0..{num_classes - 1} (the model has {num_classes} "
                f"outputs), got {sorted(set(labels[bad].tolist()))}."
            )
    return labels


def check_labels_present(
    labels: Iterable[int], targets: torch.Tensor, name: str = "labels"
) -> None:
    """Raise ``ValueError`` if any of ``labels`` never occurs in ``targets``."""
    present = set(torch.as_tensor(targets).unique().tolist())
    missing = sorted(set(int(label) for label in labels) - present)
    if missing:
        raise ValueError(
            f"{name} {missing} are not present in the dataset; its labels are {sorted(present)}."
        )


def check_same_device(model: torch.nn.Module, inputs: torch.Tensor, name: str = "inputs") -> None:
    """Raise ``ValueError`` if ``inputs`` live on another device than ``model``'s parameters."""
    check_model(model)
    parameter = next(model.parameters(), None)
    if parameter is not None and parameter.device != inputs.device:
        raise ValueError(
            f"{name} are on {inputs.device} but the model is on {parameter.device}; "
            f"move them with {name}.to({str(parameter.device)!r})."
        )


def check_model(model: object, name: str = "model") -> torch.nn.Module:
    """Raise ``TypeError`` unless ``model`` is a ``torch.nn.Module``."""
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module (a network), got {describe(model)}.")
    return model


def check_not_none(value: object, name: str, what: str) -> object:
    """Raise ``TypeError`` if ``value`` is None (a default would hide the mistake)."""
    if value is None:
        raise TypeError(f"{name} must be {what}, got None.")
    return value


def check_finite(value: object, name: str) -> torch.Tensor:
    """``value`` as a tensor whose every entry is finite (no NaN, no inf), or ``ValueError``.

    One NaN pixel turns every weight NaN in training, and a NaN attribution map has no
    meaningful score; such inputs are refused where they enter.
    """
    tensor = as_tensor(value, name)
    if (
        (tensor.is_floating_point() or tensor.is_complex())
        and tensor.numel()
        and tensor.device.type != "meta"
    ):
        finite = torch.isfinite(tensor)
        if not bool(finite.all()):
            bad = int((~finite).sum())
            raise ValueError(
                f"{name} must be finite, got {bad} NaN or infinite value(s) in "
                f"{describe(tensor)}; find where they came from (a division by zero, a "
                "log of 0) or drop those items."
            )
    return tensor


def check_non_empty(value: object, name: str) -> object:
    """Raise ``ValueError`` if ``value`` (a tensor, array or sequence) holds no item."""
    try:
        size = len(value)  # type: ignore[arg-type]
    except TypeError:
        return value
    if size == 0:
        raise ValueError(f"{name} is empty; pass at least one item.")
    return value


def check_same_length(a: object, b: object, name_a: str, name_b: str) -> None:
    """Raise ``ValueError`` if ``a`` and ``b`` hold different numbers of items.

    ``TypeError`` if either holds no items at all (None, a number, a 0-d array).
    """
    lengths = []
    for value, name in ((a, name_a), (b, name_b)):
        try:
            lengths.append(len(value))  # type: ignore[arg-type]
        except TypeError as error:
            raise TypeError(
                f"{name} must be a sequence, array or tensor with one entry per item, got "
                f"{describe(value)}."
            ) from error
    if lengths[0] != lengths[1]:
        raise ValueError(
            f"{name_a} and {name_b} must have one entry per item, got {lengths[0]} and "
            f"{lengths[1]}; take both from the same dataset or index them alike."
        )


def check_float_batch(
    value: object, name: str = "inputs", *, ndim: int | tuple[int, ...] | None = 4
) -> torch.Tensor:
    """``value`` as a non-empty, finite float tensor with ``ndim`` dimensions (``[N, C, H, W]``).

    Raises
    ------
    TypeError
        If it is not a tensor/array or not floating point (uint8 pixels need ``/ 255``).
    ValueError
        For another number of dimensions, no item, or NaN/inf values.
    """
    tensor = as_tensor(value, name)
    if not tensor.is_floating_point():
        hint = (
            " (uint8 pixels: divide by 255, or use to_tensors)"
            if tensor.dtype == torch.uint8
            else ""
        )
        raise TypeError(f"{name} must be a float tensor, got {describe(value)}{hint}.")
    dims = (ndim,) if isinstance(ndim, int) else ndim
    if dims is not None and tensor.ndim not in dims:
        raise ValueError(shape_message(tensor, name, dims))
    if tensor.ndim and len(tensor) == 0:
        raise ValueError(f"{name} is empty (shape {tuple(tensor.shape)}); pass at least one item.")
    return check_finite(tensor, name)


def check_unit_interval(value: object, name: str = "images") -> torch.Tensor:
    """``value`` as a float tensor of pixels in [0, 1] (clean images, not normalised inputs).

    Raises
    ------
    TypeError
        For uint8 (0..255) pixels or another non-float dtype.
    ValueError
        For NaN/inf or values outside [0, 1] (normalised inputs are negative).
    """
    tensor = as_tensor(value, name)
    if not tensor.is_floating_point():
        raise TypeError(
            f"{name} must be float pixels in [0, 1], got {describe(value)}; for uint8 images "
            "use images.float() / 255."
        )
    check_finite(tensor, name)
    if tensor.numel():
        low, high = float(tensor.min()), float(tensor.max())
        if low < 0 or high > 1:
            raise ValueError(
                f"{name} must lie in [0, 1] (clean pixels), got values in [{low:.3g}, "
                f"{high:.3g}]; normalised inputs must be mapped back with x * std + mean, "
                "0..255 pixels divided by 255."
            )
    return tensor


def check_rates(value: object, name: str) -> torch.Tensor:
    """``value`` as a tensor of finite rates or shares in [0, 1] (a ROC curve, a coverage).

    Raises
    ------
    TypeError
        If it is not a tensor or array.
    ValueError
        For NaN/inf or values outside [0, 1] (percentages must be divided by 100).
    """
    tensor = check_finite(value, name)
    if tensor.numel():
        low, high = float(tensor.min()), float(tensor.max())
        if low < 0 or high > 1:
            raise ValueError(
                f"{name} must hold rates in [0, 1], got values in [{low:.3g}, {high:.3g}]; "
                "divide percentages by 100, and pass shares, not counts."
            )
    return tensor


def check_flags(value: object, name: str = "is_error", length: int | None = None) -> np.ndarray:
    """``value`` (booleans or 0/1, ``length`` of them if given) as a 1-D bool numpy array."""
    check_not_none(value, name, "a 1-D array of booleans (True for a wrong prediction)")
    flags = np.asarray(value.detach().cpu() if isinstance(value, torch.Tensor) else value)
    if flags.ndim != 1 or len(flags) != (len(flags) if length is None else length):
        raise ValueError(f"{name} must be 1-D, one entry per prediction, got {flags.shape}.")
    if not np.isin(flags, (0, 1)).all():  # scores or probabilities are not cast to bool
        got = np.unique(flags)[:4].tolist()
        raise ValueError(
            f"{name} must hold booleans, got values such as {got}; pass predictions != targets."
        )
    return flags.astype(bool)


def check_dataset_arrays(dataset: object, name: str = "dataset") -> object:
    """Raise unless ``dataset`` has ``.data`` and ``.targets`` of one length (torchvision-like)."""
    if not hasattr(dataset, "data") or not hasattr(dataset, "targets"):
        what = f"{type(dataset).__name__}; pass the dataset, not its tensors"
        raise TypeError(f"{name} must have .data and .targets (torchvision-like), got {what}.")
    check_same_length(dataset.data, dataset.targets, f"{name}.data", f"{name}.targets")
    return dataset
