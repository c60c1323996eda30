"""Checkers of the measures the student writes: the artifact share of a map (Task 4.3) and the
denoiser's PSNR (Task 5.1)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from failure_modes.course.checks import feedback
from failure_modes.course.checks.core._shared import _ATOL
from failure_modes.explain.attribution import artifact_mass as library_artifact_mass
from failure_modes.models.denoising import psnr as library_psnr

__all__ = ["artifact_mass", "peak_snr"]


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
