"""Figures for the exercises: confusion matrices, loss curves, image grids, attribution
overlays, denoising rows, ROC and risk-coverage curves.

Every function draws with the object-oriented matplotlib API and returns what it drew on (a
``Figure``, or the ``Axes`` when one was given): nothing calls ``plt.show``, so the functions
work under the non-interactive Agg backend (tests, headless runs) exactly as in a notebook,
where the inline backend shows the figure at the end of the cell.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
import torch
from matplotlib.axes import Axes
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from sklearn.metrics import roc_auc_score, roc_curve

from failure_modes.models.evaluation import confusion
from failure_modes.utils.validation import check_positive_int

__all__ = [
    "plot_confusion",
    "plot_confusions",
    "plot_losses",
    "plot_images",
    "plot_attribution",
    "plot_attributions",
    "plot_denoising",
    "plot_roc",
    "plot_roc_from_scores",
    "plot_risk_coverage",
]

ATTRIBUTION_CMAP = "RdBu_r"
"""Diverging colour map for signed attributions: red pushes towards the target, blue away."""


def _to_numpy(value: object, name: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, (list, tuple)):
        return np.asarray(value)
    raise TypeError(f"{name} must be a torch.Tensor or numpy array, got {type(value).__name__}.")


def _as_image(image: object, name: str = "image") -> np.ndarray:
    """Return one single-channel image as a float ``[H, W]`` array (accepts ``[1, H, W]``)."""
    array = _to_numpy(image, name)
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2:
        raise ValueError(
            f"{name} must be a single-channel image [H, W] or [1, H, W], got shape {array.shape}."
        )
    return array.astype(np.float64)


def _as_batch(images: object, name: str = "images") -> np.ndarray:
    """Return a batch of single-channel images as ``[N, H, W]`` (accepts ``[N, 1, H, W]``)."""
    array = _to_numpy(images, name)
    if array.ndim == 4 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3:
        raise ValueError(
            f"{name} must be single-channel images [N, H, W] or [N, 1, H, W], got shape "
            f"{array.shape}."
        )
    return array.astype(np.float64)


def _grid(nrows: int, ncols: int, size: float = 1.6) -> tuple[Figure, np.ndarray]:
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False, layout="constrained"
    )
    for ax in axes.flat:
        ax.set_axis_off()
    return fig, axes


def plot_confusion(
    pred: np.ndarray,
    true: np.ndarray,
    *,
    num_classes: int = 10,
    class_names: Sequence[str] | None = None,
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Draw a confusion matrix with the percentage and the count in every cell.

    Rows are the true labels and columns the predicted ones; percentages are shares of the row
    (so the diagonal is each class's recall). The right-hand axis repeats each class's recall
    and number of images, the per-class numbers the lessons quote.

    Parameters
    ----------
    pred, true : array-like of int, shape (N,)
        Predicted and true labels.
    num_classes : int, default 10
        Number of classes (rows and columns).
    class_names : sequence of str, optional
        Tick labels; default the class indices.
    title : str, optional
        Axes title; the overall accuracy is appended.
    ax : Axes, optional
        Where to draw; a new figure is made when omitted.

    Returns
    -------
    Axes
        The axes holding the heat map.

    Examples
    --------
    >>> ax = plot_confusion(np.array([0, 1, 1]), np.array([0, 1, 0]), num_classes=2)
    >>> ax.texts[0].get_text()
    '50.0%\\n(1)'
    """
    matrix = confusion(_to_numpy(pred, "pred"), _to_numpy(true, "true"), num_classes)
    names = [str(c) for c in range(num_classes)] if class_names is None else list(class_names)
    if len(names) != num_classes:
        raise ValueError(
            f"class_names must have {num_classes} entries (num_classes), got {len(names)}."
        )
    support = matrix.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(support > 0, matrix / support, 0.0)
    annotations = np.array(
        [
            [f"{100 * s:.1f}%\n({n})" for s, n in zip(srow, nrow, strict=True)]
            for srow, nrow in zip(share, matrix, strict=True)
        ]
    )
    if ax is None:
        size = 0.75 * num_classes + 2
        _, ax = plt.subplots(figsize=(size + 1, size), layout="constrained")
    sns.heatmap(
        100 * share,
        annot=annotations,
        fmt="",
        cmap="Blues",
        vmin=0,
        vmax=100,
        cbar=False,
        square=True,
        linewidths=0.5,
        annot_kws={"fontsize": 7},
        xticklabels=names,
        yticklabels=names,
        ax=ax,
    )
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    _annotate_recall(ax, matrix)
    accuracy = np.trace(matrix) / max(matrix.sum(), 1)
    heading = f"accuracy {100 * accuracy:.1f}%"
    ax.set_title(heading if title is None else f"{title}\n{heading}")
    return ax


def _annotate_recall(ax: Axes, matrix: np.ndarray) -> None:
    # Text beside the last column instead of a twin axis: a twin axis fights the square cells.
    num_classes = len(matrix)
    ax.text(num_classes + 0.15, -0.15, "recall", fontsize=8, va="bottom")
    for row, count in enumerate(matrix.sum(axis=1)):
        text = f"{100 * matrix[row, row] / count:.0f}% of {count}" if count else "absent"
        ax.text(num_classes + 0.15, row + 0.5, text, fontsize=7, va="center", clip_on=False)


def plot_confusions(
    results: Mapping[str, tuple[np.ndarray, np.ndarray]],
    *,
    ncols: int = 2,
    num_classes: int = 10,
    class_names: Sequence[str] | None = None,
) -> Figure:
    """Draw several confusion matrices side by side, one per named ``(pred, true)`` pair.

    Parameters
    ----------
    results : mapping of str to (pred, true)
        e.g. ``{"clean model on tainted test": (pred, true), ...}``; the key is the title.
    ncols : int, default 2
        Matrices per row.
    num_classes, class_names
        As in :func:`plot_confusion`.

    Returns
    -------
    Figure
    """
    check_positive_int(ncols, "ncols")
    if not results:
        raise ValueError("results must name at least one (pred, true) pair.")
    nrows = -(-len(results) // ncols)
    size = 0.75 * num_classes + 2
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=((size + 1) * ncols, size * nrows),
        squeeze=False,
        layout="constrained",
    )
    for ax in axes.flat[len(results) :]:
        ax.set_axis_off()
    for ax, (name, (pred, true)) in zip(axes.flat, results.items(), strict=False):
        plot_confusion(
            pred, true, num_classes=num_classes, class_names=class_names, title=name, ax=ax
        )
    return fig


def _smooth(values: np.ndarray, window: int) -> np.ndarray:
    if window <= 1 or len(values) < window:
        return values
    kernel = np.ones(window) / window
    return np.convolve(values, kernel, mode="valid")


def plot_losses(
    histories: Mapping[str, Sequence[float]],
    *,
    smooth: int = 10,
    steps_per_epoch: int | None = None,
    log_scale: bool = False,
) -> Figure:
    """Draw training-loss curves side by side (shared y axis) and overlaid in a last panel.

    Parameters
    ----------
    histories : mapping of str to sequence of float
        Loss per step of each run, e.g. ``{"clean": losses_clean, "tainted": losses_tainted}``.
    smooth : int, default 10
        Width of a running mean drawn over the raw (faint) curve; 1 draws the raw curve only.
    steps_per_epoch : int, optional
        When given, dotted vertical lines mark the epoch boundaries.
    log_scale : bool, default False
        Logarithmic loss axis.

    Returns
    -------
    Figure
    """
    if not histories:
        raise ValueError("histories must hold at least one named loss curve.")
    check_positive_int(smooth, "smooth")
    n = len(histories)
    fig, axes = plt.subplots(
        1, n + 1, figsize=(3.6 * (n + 1), 3.0), sharey=True, squeeze=False, layout="constrained"
    )
    overlay = axes[0, -1]
    for index, (ax, (name, losses)) in enumerate(zip(axes[0], histories.items(), strict=False)):
        values = _to_numpy(list(losses), f"histories[{name!r}]").astype(np.float64)
        colour = f"C{index}"
        steps = np.arange(len(values))
        ax.plot(steps, values, color=colour, alpha=0.3, linewidth=0.8)
        smoothed = _smooth(values, smooth)
        offset = (len(values) - len(smoothed)) // 2
        for target in (ax, overlay):
            target.plot(steps[offset : offset + len(smoothed)], smoothed, color=colour, label=name)
        ax.set_title(name)
        ax.set_xlabel("step")
    overlay.set_title("together (smoothed)")
    overlay.set_xlabel("step")
    overlay.legend()
    axes[0, 0].set_ylabel("training loss")
    for ax in axes[0]:
        if log_scale:
            ax.set_yscale("log")
        if steps_per_epoch:
            longest = max(len(h) for h in histories.values())
            for boundary in range(steps_per_epoch, longest, steps_per_epoch):
                ax.axvline(boundary, color="grey", linestyle=":", linewidth=0.8)
    return fig


def plot_images(
    images: object,
    *,
    titles: Sequence[str] | None = None,
    ncols: int = 8,
    cmap: str = "gray",
    vmin: float | None = None,
    vmax: float | None = None,
    size: float = 1.6,
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

    Returns
    -------
    Figure
    """
    check_positive_int(ncols, "ncols")
    is_uint8 = _to_numpy(images, "images").dtype == np.uint8
    batch = _as_batch(images)
    if titles is not None and len(titles) != len(batch):
        raise ValueError(
            f"titles must have {len(batch)} entries (one per image), got {len(titles)}."
        )
    if is_uint8 and vmin is None and vmax is None:
        vmin, vmax = 0, 255
    ncols = min(ncols, len(batch))
    fig, axes = _grid(-(-len(batch) // ncols), ncols, size)
    for index, (ax, image) in enumerate(zip(axes.flat, batch, strict=False)):
        ax.imshow(image, cmap=cmap, vmin=vmin, vmax=vmax)
        if titles is not None:
            ax.set_title(titles[index], fontsize=8)
    return fig


def plot_attribution(
    image: object,
    attribution: object,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    alpha: float = 0.7,
    limit: float | None = None,
) -> Axes:
    """Overlay a signed attribution map on its grey-scale image.

    Parameters
    ----------
    image : Tensor or ndarray
        ``[H, W]`` or ``[1, H, W]`` (normalised or raw; only its contrast is shown).
    attribution : Tensor or ndarray
        Map of the same shape as ``image``.
    ax : Axes, optional
        Where to draw; a new figure is made when omitted.
    title : str, optional
        Axes title.
    alpha : float, default 0.7
        Opacity of the attribution layer.
    limit : float, optional
        Colour limit ``+-limit``; default the map's largest absolute value, so white is zero.

    Returns
    -------
    Axes
    """
    picture = _as_image(image, "image")
    relevance = _as_image(attribution, "attribution")
    if picture.shape != relevance.shape:
        raise ValueError(
            f"image and attribution must have the same shape, got {picture.shape} and "
            f"{relevance.shape}."
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(2.4, 2.4), layout="constrained")
    scale = float(np.abs(relevance).max()) if limit is None else float(limit)
    scale = scale if scale > 0 else 1.0
    ax.imshow(picture, cmap="gray")
    ax.imshow(relevance, cmap=ATTRIBUTION_CMAP, norm=TwoSlopeNorm(0.0, -scale, scale), alpha=alpha)
    ax.set_axis_off()
    if title is not None:
        ax.set_title(title, fontsize=8)
    return ax


def plot_attributions(
    images: object,
    attributions: Mapping[str, object],
    *,
    titles: Sequence[str] | None = None,
    size: float = 1.8,
) -> Figure:
    """Draw images in the first row and one row of attribution overlays per named map set.

    Parameters
    ----------
    images : Tensor or ndarray
        ``[N, H, W]`` or ``[N, 1, H, W]``.
    attributions : mapping of str to Tensor
        Row label -> maps of the same shape as ``images``, e.g. ``{"clean model": maps_c,
        "tainted model": maps_t}``. Each row shares one colour scale, so rows are comparable
        image by image.
    titles : sequence of str, optional
        One column title per image.
    size : float, default 1.8
        Inches per panel.

    Returns
    -------
    Figure
    """
    batch = _as_batch(images)
    rows = {name: _as_batch(maps, f"attributions[{name!r}]") for name, maps in attributions.items()}
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
    fig, axes = _grid(len(rows) + 1, len(batch), size)
    for column, image in enumerate(batch):
        axes[0, column].imshow(image, cmap="gray")
        if titles is not None:
            axes[0, column].set_title(titles[column], fontsize=8)
    for row, (name, maps) in enumerate(rows.items(), start=1):
        limit = float(np.abs(maps).max()) or 1.0
        for column, (image, relevance) in enumerate(zip(batch, maps, strict=True)):
            plot_attribution(image, relevance, ax=axes[row, column], limit=limit)
        axes[row, 0].set_axis_on()
        axes[row, 0].set_xticks([])
        axes[row, 0].set_yticks([])
        axes[row, 0].set_ylabel(name, fontsize=8)
    return fig


def plot_denoising(
    domains: Mapping[str, tuple[object, object, object]],
    *,
    n: int = 6,
    size: float = 1.4,
) -> Figure:
    """Draw clean, noisy and denoised images, three rows per domain.

    Parameters
    ----------
    domains : mapping of str to (clean, noisy, denoised)
        e.g. ``{"MNIST": (clean, noisy, denoised), "FashionMNIST": (...)}``; each a batch
        ``[N, 1, H, W]`` or ``[N, H, W]`` of images in [0, 1].
    n : int, default 6
        Images shown per domain (the first ``n``).
    size : float, default 1.4
        Inches per image.

    Returns
    -------
    Figure
    """
    check_positive_int(n, "n")
    if not domains:
        raise ValueError("domains must name at least one (clean, noisy, denoised) triple.")
    fig, axes = _grid(3 * len(domains), n, size)
    for block, (name, triple) in enumerate(domains.items()):
        if len(triple) != 3:
            raise ValueError(
                f"domains[{name!r}] must be (clean, noisy, denoised), got {len(triple)} items."
            )
        for offset, (kind, images) in enumerate(
            zip(("clean", "noisy", "denoised"), triple, strict=True)
        ):
            batch = _as_batch(images, f"domains[{name!r}] {kind}")[:n]
            row = 3 * block + offset
            for column, image in enumerate(batch):
                axes[row, column].imshow(image, cmap="gray", vmin=0, vmax=1)
            axes[row, 0].set_axis_on()
            axes[row, 0].set_xticks([])
            axes[row, 0].set_yticks([])
            axes[row, 0].set_ylabel(f"{name}\n{kind}", fontsize=8)
    return fig


def _new_square_axes(ax: Axes | None) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=(3.6, 3.4), layout="constrained")
    return ax


def plot_roc(
    fpr: object,
    tpr: object,
    *,
    label: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Draw a ROC curve (true-positive rate over false-positive rate) and the chance diagonal.

    Parameters
    ----------
    fpr, tpr : array-like, shape (K,)
        Points of the curve, as returned by ``sklearn.metrics.roc_curve``.
    label : str, optional
        Legend entry.
    ax : Axes, optional
        Where to draw (draw several curves on one axes by passing it again).

    Returns
    -------
    Axes
    """
    fpr, tpr = _to_numpy(fpr, "fpr"), _to_numpy(tpr, "tpr")
    if fpr.shape != tpr.shape or fpr.ndim != 1:
        raise ValueError(
            "fpr and tpr must be 1-D arrays of equal length, got shapes "
            f"{fpr.shape} and {tpr.shape}."
        )
    ax = _new_square_axes(ax)
    if not any(line.get_label() == "chance" for line in ax.lines):
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="chance")
    ax.plot(fpr, tpr, label=label)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("false-positive rate")
    ax.set_ylabel("true-positive rate")
    if label is not None:
        ax.legend(loc="lower right", fontsize=8)
    return ax


def plot_roc_from_scores(
    scores: object,
    labels: object,
    *,
    name: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Compute a ROC curve from scores and binary labels, and draw it with its AUROC.

    Parameters
    ----------
    scores : array-like, shape (N,)
        Higher means "more likely positive".
    labels : array-like of {0, 1} or bool, shape (N,)
        The true classes; both must occur.
    name : str, optional
        Legend entry; the AUROC is appended.
    ax : Axes, optional
        Where to draw.

    Returns
    -------
    Axes
    """

    scores, labels = _to_numpy(scores, "scores"), _to_numpy(labels, "labels")
    if scores.shape != labels.shape or scores.ndim != 1:
        raise ValueError(
            f"scores and labels must be 1-D arrays of equal length, got shapes {scores.shape} "
            f"and {labels.shape}."
        )
    if len(np.unique(labels)) != 2:
        raise ValueError(
            f"labels must contain both classes (0 and 1), got values {np.unique(labels).tolist()}."
        )
    fpr, tpr, _ = roc_curve(labels, scores)
    auroc = roc_auc_score(labels, scores)
    label = f"AUROC {auroc:.3f}" if name is None else f"{name} (AUROC {auroc:.3f})"
    return plot_roc(fpr, tpr, label=label, ax=ax)


def plot_risk_coverage(
    coverage: object,
    accuracy: object,
    *,
    label: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Draw accuracy over coverage: how accurate the kept predictions are when some are refused.

    Parameters
    ----------
    coverage : array-like, shape (K,)
        Share of predictions kept, in [0, 1].
    accuracy : array-like, shape (K,)
        Accuracy of the kept predictions at each coverage.
    label : str, optional
        Legend entry.
    ax : Axes, optional
        Where to draw (pass it again to compare several selectors).

    Returns
    -------
    Axes
    """
    coverage, accuracy = _to_numpy(coverage, "coverage"), _to_numpy(accuracy, "accuracy")
    if coverage.shape != accuracy.shape or coverage.ndim != 1:
        raise ValueError(
            "coverage and accuracy must be 1-D arrays of equal length, got shapes "
            f"{coverage.shape} and {accuracy.shape}."
        )
    ax = _new_square_axes(ax)
    ax.plot(coverage, accuracy, marker=".", markersize=3, label=label)
    ax.set_xlim(0, 1.01)
    ax.set_xlabel("coverage (share of predictions kept)")
    ax.set_ylabel("accuracy of kept predictions")
    if label is not None:
        ax.legend(loc="lower left", fontsize=8)
    return ax
