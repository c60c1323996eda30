"""Images: grids of pictures, attribution overlays, denoising rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.patches import Circle

from failure_modes.plotting._arrays import as_batch, as_image, grid, to_numpy
from failure_modes.utils.validation import (
    check_mask,
    check_non_empty,
    check_not_none,
    check_positive,
    check_positive_int,
    check_probability,
    check_same_shape,
)

__all__ = [
    "ATTRIBUTION_CMAP",
    "attribution_limit",
    "plot_images",
    "plot_attribution",
    "plot_attributions",
    "plot_denoising",
]

ATTRIBUTION_CMAP = "RdBu_r"
"""Diverging colour map for signed attributions: red pushes towards the target, blue away."""


def plot_images(
    images: object,
    *,
    titles: Sequence[str] | None = None,
    ncols: int = 8,
    cmap: str = "gray",
    vmin: float | None = None,
    vmax: float | None = None,
    size: float = 1.6,
    title: str | None = None,
) -> Figure:
    """Draw a grid of single-channel images.

    Parameters
    ----------
    images : Tensor or ndarray
        ``[N, H, W]``, ``[N, 1, H, W]`` or one ``[H, W]`` image (uint8 or float).
    titles : sequence of str, optional
        One title per image.
    ncols : int, default 8
        Images per row.
    cmap : str, default "gray"
        Colour map.
    vmin, vmax : float, optional
        Colour limits shared by all images; default 0..255 for uint8 input, else each image's
        own range.
    size : float, default 1.6
        Inches per image.
    title : str, optional
        The figure's title; without one (and without ``titles``) the figure is titled with
        the number of images, so say what they are.

    Returns
    -------
    Figure
    """
    check_positive_int(ncols, "ncols")
    is_uint8 = to_numpy(images, "images").dtype == np.uint8
    batch = as_batch(images)
    if len(batch) == 0:
        raise ValueError(f"images is empty (shape {batch.shape}); pass at least one image.")
    if titles is not None and len(titles) != len(batch):
        raise ValueError(
            f"titles must have {len(batch)} entries (one per image), got {len(titles)}."
        )
    if is_uint8 and vmin is None and vmax is None:
        vmin, vmax = 0, 255
    ncols = min(ncols, len(batch))
    fig, axes = grid(-(-len(batch) // ncols), ncols, size)
    for index, (ax, image) in enumerate(zip(axes.flat, batch, strict=False)):
        ax.imshow(image, cmap=cmap, vmin=vmin, vmax=vmax)
        if titles is not None:
            ax.set_title(titles[index], fontsize=8)
    if title is not None or titles is None:
        fig.suptitle(f"{len(batch)} images" if title is None else title, fontsize=10)
    return fig


# Colour limits at this quantile of |attribution|, not its maximum: a single extreme pixel
# would otherwise stretch the scale until every other pixel is drawn in near-white.
LIMIT_QUANTILE = 0.99
COLORBAR_LABEL = "red: for the class\nblue: against"
MARK_COLOUR = "tab:green"
"""The colour of the circle around an artifact: neither red nor blue, seen on white and grey."""


def attribution_limit(attributions: object, quantile: float = LIMIT_QUANTILE) -> float:
    """The symmetric colour limit for ``attributions``: a high quantile of their magnitude.

    Parameters
    ----------
    attributions : Tensor or ndarray
        One map or a batch of maps.
    quantile : float, default 0.99
        Which quantile of ``|attributions|`` the colour scale ends at; brighter pixels saturate.

    Returns
    -------
    float
        A positive limit (1.0 for an all-zero map).
    """
    check_probability(quantile, "quantile")
    magnitude = np.abs(to_numpy(attributions, "attributions")).ravel()
    if magnitude.size == 0 or not np.isfinite(magnitude).all():
        raise ValueError(
            "attributions must be a non-empty map of finite values; got "
            f"{magnitude.size} values, {int((~np.isfinite(magnitude)).sum())} not finite."
        )
    limit = float(np.quantile(magnitude, quantile))
    return limit if limit > 0 else float(magnitude.max()) or 1.0


def plot_attribution(
    image: object,
    attribution: object,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    limit: float | None = None,
    mark: object | None = None,
) -> AxesImage:
    """Draw a signed attribution map, with the outline of its image drawn over it.

    The map is drawn in a diverging colour map whose limits are symmetric around zero (white
    is zero, red pushes towards the class explained, blue away from it); the image is shown
    as a contour at half its contrast, so the map is never washed out by a grey background.

    Parameters
    ----------
    image : Tensor or ndarray
        ``[H, W]`` or ``[1, H, W]`` (normalised or raw; only its contrast is used).
    attribution : Tensor or ndarray
        Map of the same shape as ``image``.
    ax : Axes, optional
        Where to draw; a new figure is made (and titled) when omitted.
    title : str, optional
        Axes title; on a new figure default "attribution (red: for, blue: against)".
    limit : float, optional
        Colour limit ``+-limit``, positive; default :func:`attribution_limit` of the map.
    mark : bool Tensor or ndarray ``[H, W]``, optional
        The pixels of an artifact (a corruption's ``mask(h, w)``): a circle is drawn around
        them, so that a one-pixel artifact is seen, not searched for.

    Returns
    -------
    AxesImage
        The drawn map, to pass to ``Figure.colorbar``.
    """
    picture = as_image(image, "image")
    relevance = as_image(attribution, "attribution")
    check_same_shape(picture, relevance, "image", "attribution")
    scale = attribution_limit(relevance) if limit is None else check_positive(limit, "limit")
    pixels = None if mark is None else check_mask(mark, picture.shape, "mark").numpy()
    if ax is None:
        _, ax = plt.subplots(figsize=(2.4, 2.4), layout="constrained")
        title = "attribution (red: for, blue: against)" if title is None else title
    drawn = ax.imshow(relevance, cmap=ATTRIBUTION_CMAP, norm=TwoSlopeNorm(0.0, -scale, scale))
    low, high = float(picture.min()), float(picture.max())
    if high > low:
        ax.contour(picture, levels=[(low + high) / 2], colors="black", linewidths=0.6)
    if pixels is not None:
        _circle_pixels(ax, pixels)
    ax.set_axis_off()
    if title is not None:
        ax.set_title(title, fontsize=8)
    return drawn


def _circle_pixels(ax: Axes, mask: np.ndarray) -> Circle:
    """Draw a circle around the pixels of a boolean ``[H, W]`` mask (at least 3 pixels wide).

    Meant for small artifacts (a dot, a stamp): a large mask's circle encloses the image.
    """
    rows, cols = np.nonzero(mask)
    centre = ((cols.min() + cols.max()) / 2, (rows.min() + rows.max()) / 2)
    radius = max(cols.max() - cols.min(), rows.max() - rows.min()) / 2 + 2.0
    circle = Circle(centre, radius, fill=False, edgecolor=MARK_COLOUR, linewidth=1.5)
    ax.add_patch(circle)
    return circle


def plot_attributions(
    images: object,
    attributions: Mapping[str, object],
    *,
    titles: Sequence[str] | None = None,
    title: str | None = None,
    size: float = 1.8,
    mark: object | None = None,
) -> Figure:
    """Draw images in the first row and one row of attribution maps per named map set.

    Parameters
    ----------
    images : Tensor or ndarray
        ``[N, H, W]`` or ``[N, 1, H, W]``.
    attributions : mapping of str to Tensor
        Row label -> maps of the same shape as ``images``, e.g. ``{"clean model": maps_c,
        "tainted model": maps_t}``. Each row shares one symmetric colour scale
        (:func:`attribution_limit`) and has its own colour bar, so a row's maps are comparable
        image by image.
    titles : sequence of str, optional
        One column title per image.
    title : str, optional
        The figure's title: say what the maps show (default "attribution maps").
    size : float, default 1.8
        Inches per panel.
    mark : bool Tensor or ndarray ``[H, W]``, optional
        The pixels of an artifact (a corruption's ``mask(h, w)``), circled on every panel;
        see :func:`plot_attribution`.

    Returns
    -------
    Figure
    """
    check_not_none(attributions, "attributions", "a dict {method name: [N, H, W] maps}")
    check_non_empty(attributions, "attributions")
    batch = as_batch(images)
    rows = {name: as_batch(maps, f"attributions[{name!r}]") for name, maps in attributions.items()}
    for name, maps in rows.items():
        if maps.shape != batch.shape:
            raise ValueError(
                f"attributions[{name!r}] must have the shape of images {batch.shape}, got "
                f"{maps.shape}."
            )
    if titles is not None and len(titles) != len(batch):
        raise ValueError(
            f"titles must have {len(batch)} entries (one per image), got {len(titles)}."
        )
    pixels = None if mark is None else check_mask(mark, batch.shape[1:], "mark").numpy()
    fig, axes = grid(len(rows) + 1, len(batch), size)
    for column, image in enumerate(batch):
        axes[0, column].imshow(image, cmap="gray")
        if pixels is not None:
            _circle_pixels(axes[0, column], pixels)
        if titles is not None:
            axes[0, column].set_title(titles[column], fontsize=8)
    for row, (name, maps) in enumerate(rows.items(), start=1):
        limit = attribution_limit(maps)
        for column, (image, relevance) in enumerate(zip(batch, maps, strict=True)):
            drawn = plot_attribution(
                image, relevance, ax=axes[row, column], limit=limit, mark=pixels
            )
        colorbar = fig.colorbar(drawn, ax=axes[row, :].tolist(), shrink=0.95, pad=0.01)
        colorbar.ax.tick_params(labelsize=8)
        colorbar.set_label(COLORBAR_LABEL, fontsize=8)
        axes[row, 0].set_axis_on()
        axes[row, 0].set_xticks([])
        axes[row, 0].set_yticks([])
        axes[row, 0].set_ylabel(name, fontsize=8)
    fig.suptitle("attribution maps" if title is None else title, fontsize=10)
    return fig


KINDS = ("clean", "noisy", "denoised")
"""The three rows of a domain in :func:`plot_denoising`."""


def plot_denoising(
    domains: Mapping[str, tuple[object, object, object]],
    *,
    n: int = 6,
    size: float = 1.4,
    title: str | None = None,
) -> Figure:
    """Draw clean, noisy and denoised images, three labelled rows per domain.

    Parameters
    ----------
    domains : mapping of str to (clean, noisy, denoised)
        e.g. ``{"MNIST": (clean, noisy, denoised), "FashionMNIST": (...)}``; each a batch
        ``[N, 1, H, W]`` or ``[N, H, W]`` of images in [0, 1], the three of one domain of the
        same shape (the same images, image by image).
    n : int, default 6
        Images shown per domain (the first ``n``).
    size : float, default 1.4
        Inches per image.
    title : str, optional
        The figure's title: name the denoiser and its score (default "clean, noisy and
        denoised images").

    Returns
    -------
    Figure
    """
    check_positive_int(n, "n")
    check_not_none(domains, "domains", "a dict {domain: (clean, noisy, denoised)}")
    if not domains:
        raise ValueError("domains must name at least one (clean, noisy, denoised) triple.")
    blocks = {}
    for name, triple in domains.items():
        if len(triple) != 3:
            raise ValueError(
                f"domains[{name!r}] must be (clean, noisy, denoised), got {len(triple)} items."
            )
        batches = [
            as_batch(images, f"domains[{name!r}] {kind}")
            for kind, images in zip(KINDS, triple, strict=True)
        ]
        for kind, batch in zip(KINDS[1:], batches[1:], strict=True):
            check_same_shape(
                batches[0], batch, f"domains[{name!r}] clean", f"domains[{name!r}] {kind}"
            )
        if len(batches[0]) == 0:
            raise ValueError(f"domains[{name!r}] holds no image; pass at least one.")
        blocks[name] = batches
    fig, axes = grid(3 * len(blocks), n, size)
    for block, (name, batches) in enumerate(blocks.items()):
        for offset, (kind, batch) in enumerate(zip(KINDS, batches, strict=True)):
            row = 3 * block + offset
            for column, image in enumerate(batch[:n]):
                axes[row, column].imshow(image, cmap="gray", vmin=0, vmax=1)
            axes[row, 0].set_axis_on()
            axes[row, 0].set_xticks([])
            axes[row, 0].set_yticks([])
            axes[row, 0].set_ylabel(f"{name}\n{kind}", fontsize=8)
    fig.suptitle("clean, noisy and denoised images" if title is None else title, fontsize=10)
    return fig
