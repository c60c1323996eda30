"""The reference FashionMNIST classifier shared by the advanced tracks, and its data splits.

A ``SmallCNN`` trained on a fixed 50,000-image part of FashionMNIST's training set makes real
mistakes (shirt, T-shirt, pullover and coat get confused), which the contrastive and the
error-detection notebooks study. The package trains it itself (``python -m failure_modes
train-reference``) and ships the checkpoint, so every student starts from the same model.

Splits (all deterministic, no random numbers involved):

* ``train``: 50,000 images of FashionMNIST's training set, 5,000 per class;
* ``validation``: the other 10,000 of the training set, 1,000 per class: within each class, in
  index order, every sixth image (positions 5, 11, 17, ...);
* ``test``: FashionMNIST's own test set (10,000).

The checkpoint is written atomically (temporary file, then ``os.replace``); a JSON file beside
it records the SHA-256 of its bytes and how it was made. Loading checks the hash before
``torch.load(..., weights_only=True)``, so a damaged or foreign file is refused, not unpickled.
"""

from __future__ import annotations

import datetime
import json
import os
import time
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset, Subset

from failure_modes.data.sources import load_fashion_mnist
from failure_modes.models.evaluation import accuracy, predict
from failure_modes.models.nets import SmallCNN
from failure_modes.models.training import train_classifier
from failure_modes.utils.files import atomic_write, sha256_file, write_text_atomic
from failure_modes.utils.seeding import seeded
from failure_modes.utils.validation import (
    MissingPathError,
    check_flag,
    check_not_none,
    check_number,
    check_path,
    check_positive_int,
    check_targets,
)

__all__ = [
    "CHECKPOINT",
    "VALIDATION_EVERY",
    "REBUILD_COMMAND",
    "split_indices",
    "reference_splits",
    "train_reference",
    "load_reference_model",
    "metadata_path",
    "reference_metadata",
]

CHECKPOINT = Path(__file__).resolve().parent / "checkpoints" / "reference_smallcnn.pt"
"""Default location of the shipped reference checkpoint."""

VALIDATION_EVERY = 6
"""Within each class, every ``VALIDATION_EVERY``-th training image goes to validation."""

REBUILD_COMMAND = "python -m failure_modes train-reference"

# Settings of the shipped checkpoint: about 90 % test accuracy, about a minute on 2 free cores.
DEFAULT_EPOCHS = 4
DEFAULT_BATCH_SIZE = 128
DEFAULT_LR = 2e-3


def split_indices(targets: torch.Tensor, every: int = VALIDATION_EVERY) -> dict[str, torch.Tensor]:
    """Split indices into ``train`` and ``validation``, stratified by class, without randomness.

    Within each class, taken in index order, the images at positions ``every - 1``,
    ``2 * every - 1``, ... go to validation and the rest to train.

    Parameters
    ----------
    targets : Tensor
        Integer labels ``[N]``.
    every : int, default :data:`VALIDATION_EVERY`
        One image in ``every`` of each class is held out.

    Returns
    -------
    dict
        ``{"train": LongTensor, "validation": LongTensor}``, each sorted ascending.
    """
    check_positive_int(every, "every")
    targets = torch.as_tensor(check_not_none(targets, "targets", "a tensor of [N] class labels"))
    if targets.ndim != 1:
        raise ValueError(f"targets must have shape [N], got {tuple(targets.shape)}.")
    targets = check_targets(targets, len(targets))
    order = torch.argsort(targets * len(targets) + torch.arange(len(targets)))
    sorted_targets = targets[order]
    # Position of each image within its own class (0, 1, 2, ... in index order).
    starts = torch.searchsorted(sorted_targets, sorted_targets, right=False)
    rank = torch.arange(len(targets)) - starts
    held_out = torch.zeros(len(targets), dtype=torch.bool)
    held_out[order] = rank % every == every - 1
    return {
        "train": torch.nonzero(~held_out).flatten(),
        "validation": torch.nonzero(held_out).flatten(),
    }


def reference_splits(root: str | os.PathLike | None = None) -> dict[str, Dataset]:
    """The reference model's data: ``train``, ``validation`` and ``test`` FashionMNIST datasets.

    Parameters
    ----------
    root : path, optional
        Data folder, passed to :func:`failure_modes.data.load_fashion_mnist`.

    Returns
    -------
    dict of str to Dataset
        ``train`` (50,000) and ``validation`` (10,000) are ``Subset`` objects of FashionMNIST's
        training set (see :func:`split_indices`); ``test`` is its test set (10,000).
    """
    full = load_fashion_mnist(train=True, root=root)
    parts = split_indices(full.targets)
    return {
        "train": Subset(full, parts["train"].tolist()),
        "validation": Subset(full, parts["validation"].tolist()),
        "test": load_fashion_mnist(train=False, root=root),
    }


def metadata_path(path: str | os.PathLike) -> Path:
    """The JSON file that records a checkpoint's hash and provenance (same name, ``.json``)."""
    return check_path(path, "path").with_suffix(".json")


def _accuracy(model: torch.nn.Module, dataset: object) -> float:
    predictions, targets = predict(model, dataset)
    return accuracy(predictions, targets)


def train_reference(
    path: str | os.PathLike | None = None,
    *,
    seed: int = 0,
    epochs: int = DEFAULT_EPOCHS,
    batch_size: int = DEFAULT_BATCH_SIZE,
    lr: float = DEFAULT_LR,
    root: str | os.PathLike | None = None,
    device: str | torch.device | None = "cpu",
    progress: bool = True,
) -> Path:
    """Train the reference ``SmallCNN`` on the ``train`` split and save it with its metadata.

    Parameters
    ----------
    path : path, optional
        Where to write the checkpoint (default :data:`CHECKPOINT`); the metadata goes to
        :func:`metadata_path` of it.
    seed : int, default 0
        Fixes the initial weights and the order of the mini-batches. The global random state
        is left as it was.
    epochs : int, default 4
        Passes over the 50,000 training images.
    batch_size : int, default 128
        Images per optimisation step.
    lr : float, default 2e-3
        Adam's learning rate.
    root : path, optional
        Data folder (see :func:`reference_splits`).
    device : str or torch.device or None, default "cpu"
        Where to train; the CPU by default (about a minute on two free cores), ``None`` for
        :func:`failure_modes.models.training.pick_device`. The checkpoint is saved from the CPU.
    progress : bool, default True
        Show a progress bar.

    Returns
    -------
    Path
        The checkpoint written. The JSON beside it holds ``sha256``, ``seed``, ``epochs``,
        ``accuracy`` per split, the torch version and the date.
    """
    path = check_path(path, "path") if path is not None else CHECKPOINT
    check_positive_int(epochs, "epochs")
    check_positive_int(batch_size, "batch_size")
    check_number(lr, "lr")
    check_flag(progress, "progress")
    splits = reference_splits(root)
    with seeded(seed):
        model = SmallCNN()
    started = time.perf_counter()
    train_classifier(
        model,
        splits["train"],
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        device=device,
        progress=progress,
    )
    seconds = time.perf_counter() - started
    model = model.cpu().eval()
    state = {name: tensor.detach().cpu().clone() for name, tensor in model.state_dict().items()}
    atomic_write(path, lambda temporary: torch.save(state, temporary))
    metadata = {
        "file": path.name,
        "sha256": sha256_file(path),
        "architecture": "failure_modes.models.SmallCNN()",
        "seed": seed,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "train_seconds": round(seconds, 1),
        "accuracy": {name: round(_accuracy(model, data), 4) for name, data in splits.items()},
        "split_sizes": {name: len(data) for name, data in splits.items()},
        "split_rule": (
            f"validation = every {VALIDATION_EVERY}th training image of each class in index "
            "order; train = the rest; test = FashionMNIST test set"
        ),
        "torch_version": torch.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "rebuild": REBUILD_COMMAND,
    }
    text = json.dumps(metadata, indent=2) + "\n"
    write_text_atomic(metadata_path(path), text)
    return path


def load_reference_model(
    path: str | os.PathLike | None = None, *, retrain_if_missing: bool = True
) -> SmallCNN:
    """Load the reference ``SmallCNN`` (eval mode, CPU), checking the file against its hash.

    Parameters
    ----------
    path : path, optional
        Checkpoint to load (default :data:`CHECKPOINT`, shipped with the package).
    retrain_if_missing : bool, default True
        If the checkpoint does not exist, train it with :func:`train_reference` (under a
        minute on a laptop CPU) instead of failing.

    Returns
    -------
    SmallCNN
        The trained model in eval mode.

    Raises
    ------
    TypeError
        If ``path`` is not a path or ``retrain_if_missing`` not a bool.
    FileNotFoundError
        If the checkpoint is missing and ``retrain_if_missing`` is false
        (:class:`~failure_modes.utils.arguments.MissingPathError`, also a ``ValueError``).
    ValueError
        If the metadata is missing or the file's SHA-256 differs from the recorded one; the
        message names the command that rebuilds it.
    """
    path = check_path(path, "path") if path is not None else CHECKPOINT
    retrain_if_missing = check_flag(retrain_if_missing, "retrain_if_missing")
    if not path.exists():
        if not retrain_if_missing:
            raise MissingPathError(
                f"path: reference checkpoint {path} not found. Build it with: {REBUILD_COMMAND}"
            )
        train_reference(path)
    record_file = metadata_path(path)
    try:
        expected = json.loads(record_file.read_text())["sha256"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(
            f"Cannot read the recorded hash of {path} from {record_file} ({error}); refusing to "
            f"load an unverified checkpoint. Rebuild it with: {REBUILD_COMMAND}"
        ) from error
    actual = sha256_file(path)
    if actual != expected:
        raise ValueError(
            f"Checkpoint {path} is damaged or not the recorded one: its SHA-256 is {actual}, "
            f"{record_file.name} records {expected}. Rebuild it with: {REBUILD_COMMAND}"
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    # Building the model draws initial weights (then overwritten); keep that from moving the
    # caller's random state.
    with seeded(0):
        model = SmallCNN()
    model.load_state_dict(state)
    return model.eval()


def reference_metadata(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """The recorded metadata of a reference checkpoint (seed, epochs, accuracies, hash...).

    Parameters
    ----------
    path : path, optional
        The checkpoint (default :data:`CHECKPOINT`); its metadata is :func:`metadata_path`.

    Returns
    -------
    dict
        The JSON record written by :func:`train_reference`.

    Raises
    ------
    MissingPathError
        If there is no metadata file beside ``path`` (a ``FileNotFoundError`` and a
        ``ValueError``); the message names the command that rebuilds it.
    """
    path = check_path(path, "path") if path is not None else CHECKPOINT
    record_file = metadata_path(path)
    if not record_file.is_file():
        raise MissingPathError(
            f"path {str(path)!r} has no metadata: {record_file} does not exist. Rebuild the "
            f"checkpoint and its record with: {REBUILD_COMMAND}"
        )
    return json.loads(record_file.read_text())
