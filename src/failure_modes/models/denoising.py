"""The noise model, PSNR, and evaluation of one denoiser across image domains."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from failure_modes.data.tensors import image_tensors
from failure_modes.utils.devices import device_of, evaluating
from failure_modes.utils.validation import (
    as_tensor,
    check_finite,
    check_float_batch,
    check_image_axes,
    check_instance,
    check_non_empty,
    check_number,
    check_positive_int,
    check_same_shape,
    check_seed,
    check_unit_interval,
)

__all__ = ["NOISE_STD", "add_noise", "psnr", "denoise", "evaluate_denoiser"]

NOISE_STD = 0.3
"""Standard deviation of the default Gaussian noise, for images in [0, 1]."""


def add_noise(
    images: torch.Tensor, *, std: float = NOISE_STD, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Return a noisy copy of ``images``: additive Gaussian noise, clamped to [0, 1].

    Parameters
    ----------
    images : Tensor
        Float images in [0, 1], any shape.
    std : float, default NOISE_STD
        Standard deviation of the noise.
    generator : torch.Generator, optional
        Source of randomness, for repeatable noise.
    """
    images = check_unit_interval(images, "images")
    std = check_number(std, "std", low=0.0)
    noise = torch.randn(images.shape, generator=generator, dtype=images.dtype)
    return (images + std * noise.to(images.device)).clamp(0.0, 1.0)


def psnr(images: torch.Tensor, clean: torch.Tensor, *, data_range: float = 1.0) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB of each image: ``10 log10(range^2 / MSE)``.

    Parameters
    ----------
    images : Tensor
        ``[N, C, H, W]`` images to score (noisy or denoised), float. A single ``[H, W]``
        image or an ``[N, H, W]`` batch is refused with the axes to add: ``[H, W]`` would
        otherwise be scored as H one-row images.
    clean : Tensor
        The clean originals, of the same shape.
    data_range : float, default 1.0
        Difference between the largest and smallest possible pixel value.

    Returns
    -------
    Tensor
        ``[N]`` PSNR per image (``inf`` where the images are identical).
    """
    images, clean = as_tensor(images, "images"), as_tensor(clean, "clean")
    for value, name in ((images, "images"), (clean, "clean")):
        if not value.is_floating_point():
            raise TypeError(
                f"{name} must be float images (in [0, data_range]), got dtype {value.dtype}; "
                "for uint8 images use images.float() / 255."
            )
        check_image_axes(value, name)
        check_finite(value, name)
    check_same_shape(images, clean, "images", "clean")
    data_range = check_number(data_range, "data_range", low=1e-12)
    if clean.numel() and (float(clean.min()) < 0 or float(clean.max()) > data_range):
        raise ValueError(
            f"clean must lie in [0, data_range] = [0, {data_range:g}], got values in "
            f"[{float(clean.min()):.3g}, {float(clean.max()):.3g}]; pass clean 0..1 images "
            "(image_tensors), not normalised inputs, or set data_range."
        )
    mse = (images.float() - clean.float()).pow(2).flatten(1).mean(dim=1)
    return 10 * torch.log10(data_range**2 / mse)


@torch.no_grad()
def denoise(
    model: nn.Module,
    images: torch.Tensor,
    *,
    batch_size: int = 1000,
) -> torch.Tensor:
    """Apply ``model`` to ``images`` in batches (eval mode) and return the outputs on the CPU.

    Computed where the model is; the model given is never moved.
    """
    check_positive_int(batch_size, "batch_size")
    images = check_float_batch(images, "images", ndim=4)
    device = device_of(model)
    with evaluating(model) as net:
        outputs = [net(batch.to(device)).cpu() for batch in images.split(batch_size)]
    return torch.cat(outputs)


def evaluate_denoiser(
    model: nn.Module,
    datasets: Mapping[str, object],
    *,
    std: float = NOISE_STD,
    seed: int = 0,
    batch_size: int = 1000,
) -> dict[str, dict[str, float]]:
    """Mean PSNR of noisy inputs and of the denoised outputs, for each named dataset.

    The same seed gives the same noise, so two denoisers evaluated with the same ``seed`` are
    compared on identical noisy inputs.

    Parameters
    ----------
    model : nn.Module
        The denoiser (images in, images out).
    datasets : mapping of str to dataset or Tensor
        At least one named dataset (or float ``[N, 1, H, W]`` clean images in [0, 1]), as
        :func:`~failure_modes.data.tensors.image_tensors` reads them.
    std : float, default NOISE_STD
        Standard deviation of the Gaussian noise added.
    seed : int, default 0
        Seeds the noise.
    batch_size : int, default 1000
        Images per forward pass.

    Returns
    -------
    dict
        ``{name: {"noisy": dB, "denoised": dB}}``.
    """
    check_instance(datasets, Mapping, "datasets", "a mapping {name: dataset or clean images}")
    check_non_empty(datasets, "datasets")
    check_seed(seed)
    results = {}
    for name, dataset in datasets.items():
        clean = image_tensors(dataset)
        noisy = add_noise(clean, std=std, generator=torch.Generator().manual_seed(seed))
        denoised = denoise(model, noisy, batch_size=batch_size)
        results[name] = {
            "noisy": psnr(noisy, clean).mean().item(),
            "denoised": psnr(denoised, clean).mean().item(),
        }
    return results
