"""Corruptions that plant a shortcut in uint8 images: pixels, grids, squares, ramps.

A corruption is a small frozen object: calling it on a uint8 batch ``[N, H, W]`` returns a new
uint8 batch carrying the artifact (values clamped into 0..255, never wrapped around), and
``mask(h, w)`` returns the boolean ``[h, w]`` map of the pixels the artifact touches.

Local artifacts: :class:`Pixel`, :class:`Square`. Global ones: :class:`Grid`,
:class:`Gradient` (a lightness ramp from one corner to the opposite one). Rendered text
(:class:`~failure_modes.data.stamps.Text`, :class:`~failure_modes.data.stamps.Watermark`)
lives in :mod:`failure_modes.data.stamps`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from scipy.ndimage import gaussian_filter

from failure_modes.utils.validation import (
    check_amplitude,
    check_choice,
    check_grey_level,
    check_index,
    check_instance,
    check_non_empty,
    check_not_none,
    check_number,
    check_positive_int,
    check_uint8_images,
)

__all__ = ["Corruption", "Pixel", "Grid", "Square", "Gradient", "CORNERS", "check_corruptions"]


class Corruption(ABC):
    """Base class: subclasses implement ``_apply`` on a float copy and ``mask``."""

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """Return a tainted copy of ``images`` (uint8 ``[N, H, W]``); the input is unchanged."""
        images = check_uint8_images(images)
        self._check_fits(*images.shape[-2:])
        tainted = self._apply(images.to(torch.float32).clone())
        return tainted.round().clamp(0, 255).to(torch.uint8)

    @abstractmethod
    def _apply(self, images: torch.Tensor) -> torch.Tensor:
        """Return the artifact applied to float images ``[N, H, W]`` (values may leave 0..255)."""

    @abstractmethod
    def mask(self, h: int, w: int) -> torch.Tensor:
        """Boolean ``[h, w]`` map of the pixels this artifact changes."""

    def _check_fits(self, h: int, w: int) -> None:  # noqa: B027 (optional hook, no-op by default)
        """Raise ``ValueError`` if the artifact does not fit an ``h`` x ``w`` image."""


def check_value(value: int) -> None:
    """Raise unless ``value`` is an integer grey level in 0..255 (see ``check_grey_level``)."""
    check_grey_level(value, "value")


@dataclass(frozen=True)
class Pixel(Corruption):
    """Set one pixel to a fixed value: a *local* artifact.

    Parameters
    ----------
    row, col : int, default 25
        Position of the pixel (the bottom-right corner of a 28x28 image by default, where
        digits rarely have ink).
    value : int, default 255
        The value written there (white).

    Examples
    --------
    >>> Pixel()(torch.zeros(1, 28, 28, dtype=torch.uint8))[0, 25, 25].item()
    255
    """

    row: int = 25
    col: int = 25
    value: int = 255

    def __post_init__(self) -> None:
        check_value(self.value)
        check_index(self.row, "row")
        check_index(self.col, "col")

    def _check_fits(self, h: int, w: int) -> None:
        if self.row >= h or self.col >= w:
            raise ValueError(
                f"Pixel at (row={self.row}, col={self.col}) lies outside a {h}x{w} image; "
                f"choose row < {h} and col < {w}."
            )

    def _apply(self, images: torch.Tensor) -> torch.Tensor:
        images[:, self.row, self.col] = float(self.value)
        return images

    def mask(self, h: int, w: int) -> torch.Tensor:
        self._check_fits(h, w)
        mask = torch.zeros(h, w, dtype=torch.bool)
        mask[self.row, self.col] = True
        return mask


@dataclass(frozen=True)
class Grid(Corruption):
    """Add a faint grid texture over the whole image: a *global* artifact.

    Lines every ``spacing`` pixels in both directions, smoothed by a Gaussian kernel of width
    ``sigma``, scaled to peak at ``amplitude`` and added to the image (then clamped).

    Parameters
    ----------
    spacing : int, default 4
        Distance between grid lines in pixels.
    amplitude : float, default 80
        Brightness added on the lines (0..255 scale).
    sigma : float, default 0.5
        Width of the smoothing kernel, in pixels.
    """

    spacing: int = 4
    amplitude: float = 80.0
    sigma: float = 0.5

    def __post_init__(self) -> None:
        if check_positive_int(self.spacing, "spacing") < 2:
            raise ValueError(f"spacing must be at least 2 pixels, got {self.spacing}.")
        check_amplitude(self.amplitude)
        check_number(self.sigma, "sigma", low=0)

    def texture(self, h: int, w: int) -> torch.Tensor:
        """The float ``[h, w]`` pattern that is added to every image."""
        lines = np.zeros((h, w))
        lines[:: self.spacing, :] = 1.0
        lines[:, :: self.spacing] = 1.0
        smooth = gaussian_filter(lines, sigma=self.sigma) if self.sigma > 0 else lines
        return torch.from_numpy(smooth / smooth.max() * self.amplitude).float()

    def _apply(self, images: torch.Tensor) -> torch.Tensor:
        return images + self.texture(*images.shape[-2:])

    def mask(self, h: int, w: int) -> torch.Tensor:
        # The lines themselves; their smoothed fringe adds only a few grey levels.
        return self.texture(h, w) >= 0.25 * self.amplitude


@dataclass(frozen=True)
class Square(Corruption):
    """Paint a solid square block: an obvious *local* artifact.

    Parameters
    ----------
    row, col : int, default 1
        Top-left corner of the block (the top-left corner of a 28x28 image by default, where
        digits rarely have ink).
    size : int, default 4
        Side length in pixels.
    value : int, default 255
        Grey level of the block (white on MNIST's black background; 0 would be a black block).

    Examples
    --------
    >>> Square(row=0, col=0, size=2)(torch.zeros(1, 4, 4, dtype=torch.uint8))[0]
    tensor([[255, 255,   0,   0],
            [255, 255,   0,   0],
            [  0,   0,   0,   0],
            [  0,   0,   0,   0]], dtype=torch.uint8)
    """

    row: int = 1
    col: int = 1
    size: int = 4
    value: int = 255

    def __post_init__(self) -> None:
        check_value(self.value)
        check_positive_int(self.size, "size")
        check_index(self.row, "row")
        check_index(self.col, "col")

    def _check_fits(self, h: int, w: int) -> None:
        if self.row + self.size > h or self.col + self.size > w:
            raise ValueError(
                f"Square of size {self.size} at (row={self.row}, col={self.col}) reaches outside "
                f"a {h}x{w} image; choose row + size <= {h} and col + size <= {w}."
            )

    def _apply(self, images: torch.Tensor) -> torch.Tensor:
        images[:, self.row : self.row + self.size, self.col : self.col + self.size] = self.value
        return images

    def mask(self, h: int, w: int) -> torch.Tensor:
        self._check_fits(h, w)
        mask = torch.zeros(h, w, dtype=torch.bool)
        mask[self.row : self.row + self.size, self.col : self.col + self.size] = True
        return mask


CORNERS = ("top-left", "top-right", "bottom-left", "bottom-right")
"""The corners a :class:`Gradient` may start from."""


@dataclass(frozen=True)
class Gradient(Corruption):
    """Add a lightness ramp from one corner to the opposite one: a *global* artifact.

    Nothing is added at ``corner``; the brightness added grows linearly along the diagonal and
    reaches ``amplitude`` at the opposite corner (then the image is clamped to 0..255).

    Parameters
    ----------
    amplitude : float, default 60
        Brightness added at the far corner (0..255 scale).
    corner : {"top-left", "top-right", "bottom-left", "bottom-right"}, default "top-left"
        Where the ramp starts.

    Examples
    --------
    >>> ramp = Gradient(amplitude=100)(torch.zeros(1, 28, 28, dtype=torch.uint8))[0]
    >>> ramp[0, 0].item(), ramp[-1, -1].item()
    (0, 100)
    """

    amplitude: float = 60.0
    corner: str = "top-left"

    def __post_init__(self) -> None:
        check_amplitude(self.amplitude)
        check_choice(self.corner, CORNERS, "corner")

    def ramp(self, h: int, w: int) -> torch.Tensor:
        """The float ``[h, w]`` brightness added to every image."""
        rows = torch.linspace(0, 1, h) if h > 1 else torch.zeros(1)
        cols = torch.linspace(0, 1, w) if w > 1 else torch.zeros(1)
        if self.corner.startswith("bottom"):
            rows = rows.flip(0)
        if self.corner.endswith("right"):
            cols = cols.flip(0)
        return self.amplitude * (rows[:, None] + cols[None, :]) / 2

    def _apply(self, images: torch.Tensor) -> torch.Tensor:
        return images + self.ramp(*images.shape[-2:])

    def mask(self, h: int, w: int) -> torch.Tensor:
        # Pixels that gain at least one grey level after rounding.
        return self.ramp(h, w) >= 0.5


def check_corruptions(corruptions: object, name: str = "corruptions") -> Mapping[int, Corruption]:
    """Raise unless ``corruptions`` maps at least one label to a :class:`Corruption`.

    Parameters
    ----------
    corruptions : mapping of int to Corruption
        The artifact planted on each label, e.g. :func:`failure_modes.tracks.clever_hans.zoo.zoo`.
    name : str
        The argument's name, for messages.

    Returns
    -------
    mapping of int to Corruption
        ``corruptions`` itself.

    Raises
    ------
    TypeError
        If it is not a mapping or a value is not a Corruption.
    ValueError
        If it is empty.
    """
    check_not_none(corruptions, name, "a mapping of label to Corruption, e.g. zoo()")
    check_instance(corruptions, Mapping, name, "a mapping of label to Corruption ({1: Square()})")
    check_non_empty(corruptions, name)
    for label, corruption in corruptions.items():
        check_instance(corruption, Corruption, f"{name}[{label!r}]", "a Corruption (Pixel(), ...)")
    return corruptions
