"""Checkers of Part 1: the pixel and grid taints, compared with the library's artifacts on the
notebook's own digits."""

from __future__ import annotations

from typing import Any

import torch

from failure_modes.course.checks import feedback
from failure_modes.data.taint import Grid, Pixel

__all__ = ["grid_taint", "pixel_taint"]

# --- Task 1.1: the pixel taint ------------------------------------------------------------------


def pixel_taint(answer: Any, sevens: torch.Tensor) -> torch.Tensor:
    """Check Task 1.1, ``dotted``: a copy of ``sevens`` with pixel (25, 25) set to 255.

    Parameters
    ----------
    answer : Tensor or Ellipsis
        The student's ``[N, 28, 28]`` uint8 images.
    sevens : Tensor
        The clean images the student started from (not changed here).

    Returns
    -------
    Tensor
        ``answer`` if it equals ``Pixel()(sevens)`` and ``sevens`` is untouched, else
        ``Pixel()(sevens)``.
    """
    pixel = Pixel()
    expected = pixel(sevens)

    def changed_pixels(images: torch.Tensor) -> set[tuple[int, int]]:
        differ = (images.to(torch.int64) != sevens.to(torch.int64)).any(dim=0)
        return {tuple(index) for index in differ.nonzero().tolist()}

    def diagnose(images: Any) -> str | None:
        mistakes = [
            (
                lambda a: a is sevens or a.data_ptr() == sevens.data_ptr(),
                "`dotted` is `sevens` itself, so you changed the original digits too: make a "
                "copy first (`sevens.clone()`), then run the cell that defines `sevens` again.",
            ),
            (
                lambda a: bool((sevens[:, pixel.row, pixel.col] == 255).all()),
                "`sevens` already has the white dot: it was changed in place; run the cell that "
                "defines `sevens` again and change a copy (`sevens.clone()`) instead.",
            ),
            (
                lambda a: changed_pixels(a) and (pixel.row, pixel.col) not in changed_pixels(a),
                "you changed another pixel than row 25, column 25 (the rows and columns "
                "count from 0, and the row comes first: `dotted[:, 25, 25]`).",
            ),
            (
                lambda a: bool((a[:, pixel.row, pixel.col] == 1).all()),
                "the pixel is 1, which in uint8 images (0..255) is almost black: white is 255.",
            ),
            (
                lambda a: a.dtype != torch.uint8,
                f"`dotted` has dtype {getattr(images, 'dtype', None)}: keep the images uint8, "
                "like `sevens` (`sevens.clone()` keeps the dtype).",
            ),
        ]
        return feedback.first_mistake(images, mistakes) or feedback.tensor_mismatch(
            images, expected, "dotted"
        )

    return feedback.check("1.1", answer, diagnose, expected)


# --- Task 1.2: the grid taint -------------------------------------------------------------------


def grid_taint(answer: Any, fours: torch.Tensor, grid: Grid) -> torch.Tensor:
    """Check Task 1.2, ``gridded``: ``fours`` plus the grid's texture, rounded, clamped, uint8.

    Parameters
    ----------
    answer : Tensor or Ellipsis
        The student's ``[N, 28, 28]`` images.
    fours : Tensor
        The clean uint8 images.
    grid : Grid
        The artifact whose texture was added.

    Returns
    -------
    Tensor
        ``answer`` if it equals ``grid(fours)``, else ``grid(fours)``.
    """
    expected = grid(fours)
    summed = fours.float() + grid.texture(*fours.shape[-2:])

    def diagnose(images: Any) -> str | None:
        mistakes = [
            (
                lambda a: a.is_floating_point(),
                "`gridded` is still a float tensor: convert it back with `.to(torch.uint8)` "
                "after rounding and clamping, so that it is an image like `fours`.",
            ),
            *feedback.pixel_arithmetic_mistakes(fours, summed),
        ]
        return feedback.first_mistake(images, mistakes) or feedback.tensor_mismatch(
            images, expected, "gridded"
        )

    return feedback.check("1.2", answer, diagnose, expected)


# --- Task 2.1: the training step ----------------------------------------------------------------
