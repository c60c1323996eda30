"""Tensors from what callers pass: arrays wrapped, numbers read, and image-batch axes checked.

Re-exported by :mod:`failure_modes.utils.validation`, the one place to import validators from.
The axes checks only look at the number of axes (no pass over the values), so a network's
``forward`` can afford them on every batch; their messages say how to add a missing axis.
"""

from __future__ import annotations

import numpy as np
import torch

from failure_modes.utils.scalars import describe

__all__ = [
    "as_tensor",
    "check_image_axes",
    "check_image_or_batch",
    "check_numbers",
    "shape_message",
]


def as_tensor(value: object, name: str) -> torch.Tensor:
    """Return ``value`` as a tensor (numpy arrays are wrapped, not copied).

    Raises
    ------
    TypeError
        If ``value`` is neither a tensor nor a numpy array.
    """
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, np.ndarray):
        try:
            return torch.from_numpy(value)
        except (TypeError, ValueError) as error:  # strings, objects, big-endian bytes
            raise TypeError(
                f"{name} must be a numpy array of numbers or booleans in native byte order, "
                f"got {describe(value)}; convert it with np.asarray({name}, dtype=np.float32) "
                "(or the integer dtype it holds)."
            ) from error
    raise TypeError(f"{name} must be a torch.Tensor or numpy array, got {describe(value)}.")


def shape_message(tensor: torch.Tensor, name: str, dims: tuple[int, ...]) -> str:
    """Which shape was expected (``dims`` axes), which came, and how to add the missing axis."""
    shape = {2: "[N, D]", 3: "[N, H, W]", 4: "[N, C, H, W]"}
    expected = " or ".join(shape.get(d, f"{d}-D") for d in dims)
    got = f"{name} must have shape {expected}, got shape {tuple(tensor.shape)}"
    if 4 in dims and tensor.ndim == 3:
        return (
            f"{got}: an [N, H, W] batch of one-channel images needs its channel axis, "
            f"{name}[:, None] (or {name}.unsqueeze(1)); a single [C, H, W] image needs the "
            f"batch axis, {name}[None]."
        )
    if 4 in dims and tensor.ndim == 2:
        return f"{got}: a single [H, W] image needs a batch and a channel axis, {name}[None, None]."
    if tensor.ndim < min(dims):
        return f"{got}; a single item needs a batch axis ({name}[None])."
    return f"{got}."


def check_image_axes(
    x: torch.Tensor, name: str = "inputs", *, features: bool = False
) -> torch.Tensor:
    """Raise ``ValueError`` unless ``x`` has the four axes ``[N, C, H, W]`` of an image batch.

    ``features=True`` accepts feature rows ``[N, D]`` as well (a linear probe's inputs). Only
    the number of axes is looked at (no pass over the values), so a network's ``forward`` can
    afford it on every batch; the message says how to add a missing axis.
    """
    dims = (2, 4) if features else (4,)
    if x.dim() not in dims:
        raise ValueError(shape_message(x, name, dims))
    return x


def check_image_or_batch(
    model: torch.nn.Module, inputs: object, name: str = "inputs"
) -> torch.Tensor:
    """``inputs`` as an ``[N, C, H, W]`` batch: a single ``[C, H, W]`` image becomes a batch of 1.

    A 3-D tensor is either one image or an ``[N, H, W]`` batch without its channel axis; the
    model's first layer tells them apart (a convolution's ``in_channels``, a linear layer's
    ``in_features``), so the batch is refused with the fix instead of failing in the model.
    Only the axes are checked here, not the dtype or values.
    """
    tensor = as_tensor(inputs, name)
    if tensor.ndim != 3:
        return tensor
    first = next(
        (m for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))), None
    )
    fits = (
        first is None
        or (isinstance(first, torch.nn.Conv2d) and tensor.shape[0] == first.in_channels)
        or (isinstance(first, torch.nn.Linear) and tensor.numel() == first.in_features)
    )
    if not fits:
        raise ValueError(
            f"{name} of shape {tuple(tensor.shape)} is not a [C, H, W] image this model takes "
            f"(its first layer is {first}); an [N, H, W] batch of one-channel images needs its "
            f"channel axis, {name}[:, None] (or {name}.unsqueeze(1))."
        )
    return tensor.unsqueeze(0)


def check_numbers(value: object, name: str, what: str = "real numbers") -> np.ndarray:
    """``value`` (a sequence, array or tensor of real numbers) as a float64 numpy array.

    NaN and inf pass (callers that refuse them say so with :func:`check_finite`).

    Raises
    ------
    TypeError
        For None, text, booleans or anything else that is not real numbers.
    """
    if value is None:
        raise TypeError(f"{name} must hold {what}, got None.")
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as error:  # ragged nesting
        raise TypeError(f"{name} must hold {what}, got {describe(value)}.") from error
    if array.dtype.kind not in "iuf":
        raise TypeError(
            f"{name} must hold {what}, got {describe(value)}; convert text with float(...)."
        )
    return array.astype(np.float64)
