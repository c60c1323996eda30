"""Rendered text as an artifact: a stamp such as a time stamp, or a faint watermark.

Both draw their text with matplotlib's own FreeType renderer and blend it into the image by
its anti-aliased ink coverage; :class:`Text` paints it opaque (a *local* artifact),
:class:`Watermark` large and faint across the image (a *global* one).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib import font_manager
from matplotlib.ft2font import FT2Font

from failure_modes.data.corruptions import Corruption, check_value
from failure_modes.utils.validation import (
    check_index,
    check_positive_int,
    check_probability,
)

__all__ = ["Text", "Watermark"]


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
        check_value(self.value)
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
