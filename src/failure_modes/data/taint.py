"""Corruptions that plant a shortcut in images, and a dataset-level ``taint_dataset``.

A corruption is a small frozen object: calling it on a uint8 batch ``[N, H, W]`` returns a new
uint8 batch carrying the artifact (values clamped into 0..255, never wrapped around), and
``mask(h, w)`` returns the boolean ``[h, w]`` map of the pixels the artifact touches.

Local artifacts: :class:`Pixel`, :class:`Square`, :class:`Text` (a stamp such as a time stamp).
Global ones: :class:`Grid`, :class:`Watermark` (faint, alpha-blended), :class:`Gradient` (a
lightness ramp from one corner to the opposite one).
"""

from __future__ import annotations

import copy
import functools
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch
from matplotlib import font_manager
from matplotlib.ft2font import FT2Font
from scipy.ndimage import gaussian_filter

from failure_modes.utils.validation import (
    check_choice,
    check_fraction,
    check_index,
    check_labels_present,
    check_number,
    check_positive_int,
    check_probability,
    check_uint8_images,
)

DatasetT = TypeVar("DatasetT")
"""A dataset with uint8 ``.data`` and ``.targets``; :func:`taint_dataset` returns its type."""

__all__ = [
    "Corruption",
    "Pixel",
    "Grid",
    "Square",
    "Text",
    "Watermark",
    "Gradient",
    "taint_dataset",
    "taint_images",
]


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


def _check_value(value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"value must be an integer in 0..255, got {value!r}.")
    if not 0 <= value <= 255:
        raise ValueError(f"value must be an integer in 0..255, got {value!r}.")


def _check_amplitude(amplitude: float) -> None:
    check_number(amplitude, "amplitude")
    if not 0 < amplitude <= 255:
        raise ValueError(f"amplitude must lie in (0, 255], got {amplitude}.")


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
        _check_value(self.value)
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
        _check_amplitude(self.amplitude)
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
        _check_value(self.value)
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


@functools.lru_cache(maxsize=64)
def _glyph_coverage(text: str, size: int, font: str) -> np.ndarray:
    """Anti-aliased ink coverage in [0, 1] of ``text``, cropped to its ink (read-only array)."""
    # FT2Font is the FreeType wrapper matplotlib renders its own text with: no extra font
    # files or packages, and the same pixels on every machine with the same matplotlib.

    path = font_manager.findfont(
        font_manager.FontProperties(family=font), fallback_to_default=False
    )
    face = FT2Font(path)
    face.set_size(size, 72)  # at 72 dpi one point is one pixel
    face.set_text(text, 0.0)
    face.draw_glyphs_to_bitmap(antialiased=True)
    bitmap = np.asarray(face.get_image(), dtype=np.float32) / 255.0
    rows, cols = np.nonzero(bitmap.any(axis=1))[0], np.nonzero(bitmap.any(axis=0))[0]
    if len(rows) == 0:
        raise ValueError(f"text {text!r} renders no ink; give at least one visible character.")
    coverage = bitmap[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].copy()
    coverage.flags.writeable = False
    return coverage


class _Stamp(Corruption):
    """Shared placement and blending of rendered text (``Text`` and ``Watermark``)."""

    text: str
    size: int
    font: str
    value: int
    row: int | None
    col: int | None

    def _check_stamp(self) -> None:
        if not isinstance(self.text, str) or not self.text.strip():
            raise ValueError(f"text must be a non-empty string, got {self.text!r}.")
        check_positive_int(self.size, "size")
        _check_value(self.value)
        check_index(self.row, "row", optional=True)
        check_index(self.col, "col", optional=True)
        self.coverage()  # fail now, not at the first call, if the text renders no ink

    def coverage(self) -> torch.Tensor:
        """Ink coverage in [0, 1] of the rendered text, cropped to its ink, float ``[h, w]``."""
        return torch.from_numpy(_glyph_coverage(self.text, self.size, self.font).copy())

    def _origin(self, h: int, w: int) -> tuple[int, int]:
        # None means centred along that axis.
        height, width = _glyph_coverage(self.text, self.size, self.font).shape
        row = (h - height) // 2 if self.row is None else self.row
        col = (w - width) // 2 if self.col is None else self.col
        return row, col

    def _check_fits(self, h: int, w: int) -> None:
        height, width = _glyph_coverage(self.text, self.size, self.font).shape
        row, col = self._origin(h, w)
        if row < 0 or col < 0 or row + height > h or col + width > w:
            raise ValueError(
                f"text {self.text!r} at size {self.size} is {height}x{width} pixels and does not "
                f"fit a {h}x{w} image at (row={row}, col={col}); use a smaller size, a shorter "
                "text or another position."
            )

    def _layer(self, h: int, w: int) -> torch.Tensor:
        """Float ``[h, w]`` coverage of the whole image (zero away from the text)."""
        self._check_fits(h, w)
        coverage = self.coverage()
        row, col = self._origin(h, w)
        layer = torch.zeros(h, w)
        layer[row : row + coverage.shape[0], col : col + coverage.shape[1]] = coverage
        return layer

    def _opacity(self) -> float:
        return 1.0

    def _apply(self, images: torch.Tensor) -> torch.Tensor:
        # Alpha compositing: each pixel moves towards `value` by its share of ink (times alpha).
        weight = self._opacity() * self._layer(*images.shape[-2:])
        return images * (1 - weight) + self.value * weight

    def mask(self, h: int, w: int) -> torch.Tensor:
        return self._layer(h, w) > 0


@dataclass(frozen=True)
class Text(_Stamp):
    """Stamp a short text such as a time stamp: a *local* artifact.

    The text is rendered anti-aliased from a font that ships with matplotlib (DejaVu Sans by
    default) and painted over the image with grey level ``value``.

    Parameters
    ----------
    text : str, default "12:07"
        What to write.
    row, col : int or None, default 22 and 1
        Top-left corner of the text's ink; None centres it along that axis.
    size : int, default 6
        Font size in pixels (the height of a capital letter is about 3/4 of it).
    value : int, default 255
        Grey level of the ink.
    font : str, default "DejaVu Sans"
        A font family known to matplotlib's font manager.

    Raises
    ------
    ValueError
        If the text is empty, or does not fit the image at that position and size (on call).

    Examples
    --------
    >>> stamp = Text("12:07", row=22, col=1, size=6)
    >>> stamp(torch.zeros(2, 28, 28, dtype=torch.uint8)).shape
    torch.Size([2, 28, 28])
    """

    text: str = "12:07"
    row: int | None = 22
    col: int | None = 1
    size: int = 6
    value: int = 255
    font: str = "DejaVu Sans"

    def __post_init__(self) -> None:
        self._check_stamp()


@dataclass(frozen=True)
class Watermark(_Stamp):
    """Blend a faint text or symbol over the image: an artifact a person may barely see.

    Each pixel becomes ``(1 - alpha * c) * pixel + alpha * c * value`` where ``c`` is the ink
    coverage of the rendered text; ``alpha=0`` changes nothing, ``alpha=1`` is an opaque stamp.

    Parameters
    ----------
    alpha : float in [0, 1], default 0.2
        Opacity of the watermark.
    text : str, default "©"
        The mark; large and centred by default, so it covers much of the image.
    size : int, default 26
        Font size in pixels.
    row, col : int or None, default None
        Top-left corner of the mark's ink; None centres it.
    value : int, default 255
        Grey level the mark blends towards.
    font : str, default "DejaVu Sans"
        A font family known to matplotlib's font manager.

    Raises
    ------
    ValueError
        If ``alpha`` lies outside [0, 1], or the mark does not fit the image (on call).
    """

    alpha: float = 0.2
    text: str = "\N{COPYRIGHT SIGN}"
    size: int = 26
    row: int | None = None
    col: int | None = None
    value: int = 255
    font: str = "DejaVu Sans"

    def __post_init__(self) -> None:
        check_probability(self.alpha, "alpha")
        self._check_stamp()

    def _opacity(self) -> float:
        return float(self.alpha)


_CORNERS = ("top-left", "top-right", "bottom-left", "bottom-right")


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
        _check_amplitude(self.amplitude)
        check_choice(self.corner, _CORNERS, "corner")

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


def taint_images(
    images: torch.Tensor,
    labels: torch.Tensor,
    corruptions: Mapping[int, Corruption],
    *,
    fraction: float = 1.0,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return tainted copies of ``images`` and a boolean ``[N]`` marking the images stamped.

    Parameters
    ----------
    images : Tensor
        uint8 ``[N, H, W]``.
    labels : Tensor
        ``[N]`` labels of the images.
    corruptions : mapping of int to Corruption
        Which artifact goes on the images of each label.
    fraction : float in (0, 1], default 1.0
        Share of each chosen class that gets its artifact (< 1 makes the shortcut imperfect).
    seed : int, default 0
        Chooses *which* images get the artifact when ``fraction < 1``.
    """
    images = check_uint8_images(images)
    labels = torch.as_tensor(labels)
    if labels.shape != images.shape[:1]:
        raise ValueError(
            f"labels must have shape [{len(images)}] to match images, got {tuple(labels.shape)}."
        )
    fraction = check_fraction(fraction, "fraction")
    for label, corruption in corruptions.items():
        if not isinstance(corruption, Corruption):
            raise TypeError(
                f"corruptions[{label}] must be a Corruption (e.g. Pixel(), Grid()), "
                f"got {type(corruption).__name__}."
            )
    check_labels_present(corruptions.keys(), labels, name="corruptions labels")
    generator = torch.Generator().manual_seed(seed)
    tainted = images.clone()
    stamped = torch.zeros(len(images), dtype=torch.bool)
    for label, corruption in sorted(corruptions.items()):
        index = torch.nonzero(labels == label).flatten()
        keep = round(fraction * len(index))
        index = index[torch.randperm(len(index), generator=generator)[:keep]].sort().values
        tainted[index] = corruption(images[index])
        stamped[index] = True
    return tainted, stamped


def taint_dataset(
    dataset: DatasetT,
    corruptions: Mapping[int, Corruption],
    *,
    fraction: float = 1.0,
    seed: int = 0,
) -> DatasetT:
    """Return a deep copy of ``dataset`` whose images of the given labels carry an artifact.

    The dataset given is never changed. The copy keeps the dataset's class and transform, so it
    loads like the original; it also gets ``.tainted``, a boolean ``[N]`` marking the images
    that received their label's artifact (all of those labels, or ``fraction`` of them). An
    artifact can leave an image's bytes as they were (a white pixel where there was already
    white ink), so compare ``.data`` to find the images whose pixels differ.

    Parameters
    ----------
    dataset : torchvision dataset
        With uint8 ``.data`` ``[N, H, W]`` and ``.targets`` ``[N]``.
    corruptions : mapping of int to Corruption
        e.g. ``{7: Pixel(), 4: Grid()}``.
    fraction, seed
        As in :func:`taint_images`.

    Examples
    --------
    >>> tainted = taint_dataset(mnist_train, {7: Pixel(), 4: Grid()})  # doctest: +SKIP
    """
    if not hasattr(dataset, "data") or not hasattr(dataset, "targets"):
        raise TypeError(
            "dataset must have .data (uint8 [N, H, W]) and .targets, like torchvision's MNIST; "
            f"got {type(dataset).__name__}."
        )
    images, stamped = taint_images(
        dataset.data, torch.as_tensor(dataset.targets), corruptions, fraction=fraction, seed=seed
    )
    tainted = copy.deepcopy(dataset)
    tainted.data = images
    tainted.tainted = stamped
    return tainted
