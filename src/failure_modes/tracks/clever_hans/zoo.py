"""The Clever Hans zoo: which artifact goes on which class, and the models trained on it.

:func:`zoo` plants one artifact per class, :func:`sweep_watermark` is the fading mark of the
visibility sweep, and :func:`train_dense` trains a :class:`~failure_modes.models.DenseModel`
from weights fixed by a seed, so that models trained on clean, tainted and augmented data
differ only by their data. :func:`tainted_index` and :func:`check_aligned` find the tainted
images of a class and check that a tainted dataset is a clean one with artifacts added.
"""

from __future__ import annotations

import torch
from torch import nn

from failure_modes.data.taint import Corruption, Gradient, Square, Text, Watermark
from failure_modes.models.nets import DenseModel
from failure_modes.models.training import train_classifier
from failure_modes.tracks.clever_hans.cues import RemoveRamp
from failure_modes.utils.seeding import seeded
from failure_modes.utils.validation import (
    check_dataset_arrays,
    check_index,
    check_number,
    check_probability,
    check_same_length,
)

__all__ = [
    "check_aligned",
    "sweep_watermark",
    "tainted_index",
    "train_dense",
    "zoo",
]


def zoo() -> dict[int, Corruption]:
    """The Clever Hans zoo: one artifact per tainted class (a new dict on every call).

    Returns
    -------
    dict of int to Corruption
        ``1``: a white square in the top-left corner (obvious, local); ``3``: a time stamp in
        the top-right corner (obvious, local); ``5``: a faint centred copyright sign (alpha
        0.3, global); ``8``: a lightness ramp from the top-left to the bottom-right corner
        (global).
    """
    return {
        1: Square(row=1, col=1, size=4),
        3: Text("12:07", row=1, col=11, size=6),
        5: Watermark(alpha=0.3),
        8: Gradient(amplitude=60.0, corner="top-left"),
    }


def sweep_watermark(alpha: float) -> Watermark:
    """The watermark of the visibility sweep: a copyright sign in the bottom-right corner.

    Smaller than the zoo's centred one, so it is a *local* artifact and its mask says
    something (it covers about a tenth of the image).

    Parameters
    ----------
    alpha : float
        Opacity in [0, 1].

    Returns
    -------
    Watermark
        The corruption, ready for :func:`~failure_modes.data.taint.taint_dataset`.
    """
    return Watermark(alpha=check_probability(alpha, "alpha"), size=12, row=16, col=16)


def train_dense(
    dataset: object,
    *,
    seed: int,
    epochs: int = 5,
    weight_decay: float = 0.0,
    remove_ramp: bool = False,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> nn.Module:
    """Build a :class:`DenseModel` with weights fixed by ``seed`` and train it.

    Two calls with the same ``seed`` start from identical weights and see the same batches, so
    models trained on clean, tainted and augmented data differ only by their data. The
    caller's random state is left as it was (:func:`~failure_modes.utils.seeding.seeded`).

    Parameters
    ----------
    dataset : Dataset or tuple of tensors
        As accepted by :func:`~failure_modes.models.training.train_classifier`.
    seed : int
        Seeds the initial weights and the batch order.
    epochs : int, default 5
        Passes over the data (the notebook sets its own in its ``parameters`` cell).
    weight_decay : float, default 0.0
        L2 penalty on the weights (a regulariser).
    remove_ramp : bool, default False
        Put :class:`RemoveRamp` in front of the network (the model then takes raw inputs
        and removes brightness and lightness ramps itself).
    device : str or torch.device, optional
        Where to train.
    progress : bool, default True
        Show a progress bar.

    Returns
    -------
    nn.Module
        The trained :class:`DenseModel` (or ``nn.Sequential(RemoveRamp(), DenseModel())``), in
        eval mode.
    """
    check_number(weight_decay, "weight_decay", low=0.0)
    with seeded(seed):
        model = DenseModel()
    if remove_ramp:
        model = nn.Sequential(RemoveRamp(*model.input_shape), model)
    train_classifier(
        model,
        dataset,
        epochs=epochs,
        seed=seed,
        weight_decay=weight_decay,
        device=device,
        progress=progress,
    )
    return model.eval()


def tainted_index(clean: object, tainted: object, label: int) -> torch.Tensor:
    """Positions of the images of ``label`` that carry an artifact in ``tainted``.

    Parameters
    ----------
    clean : torchvision dataset
        Gives the labels (``.targets``).
    tainted : torchvision dataset
        Its ``.tainted`` flags mark the changed images; without them, every image of ``label``
        counts.
    label : int
        The class.

    Returns
    -------
    Tensor
        int64 ``[K]`` indices, ascending.
    """
    check_dataset_arrays(clean, "clean")
    check_dataset_arrays(tainted, "tainted")
    check_same_length(clean.targets, tainted.targets, "clean.targets", "tainted.targets")
    label = check_index(label, "label")
    chosen = torch.as_tensor(clean.targets) == label
    changed = getattr(tainted, "tainted", None)
    if changed is not None:
        chosen &= torch.as_tensor(changed)
    return torch.nonzero(chosen).flatten()


def check_aligned(clean: object, tainted: object) -> None:
    """Raise unless ``tainted`` is ``clean`` with artifacts added (same images, same order).

    Parameters
    ----------
    clean, tainted : torchvision dataset
        Datasets with ``.data`` and ``.targets``.

    Raises
    ------
    TypeError
        If either lacks ``.data`` or ``.targets``.
    ValueError
        If their shapes or labels differ.
    """
    for name, dataset in (("clean_test", clean), ("tainted_test", tainted)):
        check_dataset_arrays(dataset, name)
    if clean.data.shape != tainted.data.shape or not torch.equal(
        torch.as_tensor(clean.targets), torch.as_tensor(tainted.targets)
    ):
        raise ValueError(
            "tainted_test must be clean_test with artifacts added (same images in the same "
            "order, e.g. taint_dataset(clean_test, corruptions)); their shapes or labels differ."
        )
