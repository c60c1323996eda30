"""Probe recipes for the data callables: valid arguments and the role of each parameter.

``ROLES`` adds bad values for roles the kit lacks; ``RECIPES`` maps a callable's home
(``module.name``) to (valid arguments, {parameter: role}), as in test_probe; ``SKIPS`` maps a
callable that cannot have a recipe to the reason (and where else it is tested).

The loaders and the reference model read a tiny prepared data folder (``_root``: 60 train and
10 test images per dataset, with their provenance) built once in the kit's TMP folder; the
reference checkpoint is a copy of the shipped one beside it. Nothing here reads or writes the
real data folder or the shipped checkpoint: no recipe passes ``root=None`` or ``path=None``.
"""

from __future__ import annotations

import io
import shutil

import numpy as np
import torch
from probe_kit import TMP, _idx_file, _lazy

ROLES: dict = {
    # A destination: a missing folder is made, so only the type and the empty string are wrong.
    "output_path": {"none": lambda: None, "wrong_type": lambda: 3.5, "empty": lambda: ""},
    # None means the default (the shipped checkpoint, which no probe may overwrite); a missing
    # folder is made.
    "output_or_default": {"wrong_type": lambda: 3.5, "empty": lambda: ""},
    # None means the default (the shipped checkpoint, the current folder); a missing path is
    # the mistake.
    "path_or_default": {
        "missing": lambda: str(TMP / "missing" / "file"),
        "wrong_type": lambda: 3.5,
        "empty": lambda: "",
    },
    # None means the default data folder; a missing folder is made and filled (a download).
    "root": {"wrong_type": lambda: 3.5, "empty": lambda: ""},
    # A folder whose absence is itself the answer (a problem in words, or no record).
    "folder": {"none": lambda: None, "wrong_type": lambda: 3.5, "empty": lambda: ""},
    "flag": {"none": lambda: None, "text": lambda: "no", "number": lambda: 1},
    "text": {"none": lambda: None, "bytes": lambda: b"text"},
    "spec": {"none": lambda: None, "name": lambda: "MNIST"},
    "dataset_names": {"unknown": lambda: ["CIFAR"], "wrong_type": lambda: 3, "empty": lambda: []},
    "writer": {"none": lambda: None, "not_callable": lambda: "contents"},
    "stream": {
        "none": lambda: None,
        "bytes": lambda: b"contents",
        "text": lambda: io.StringIO("contents"),
    },
    "json_record": {"tensor": lambda: {"a": torch.ones(2)}, "object": lambda: object()},
    "tried": {"none": lambda: None, "text": lambda: "download: failed"},
}

_RAW = {"train": 60, "test": 10}  # 6 per class: every 6th is the validation split


def _write_raw(raw, seed):
    files = _lazy("failure_modes.data.provenance.RAW_FILES")()
    write_idx = _lazy("failure_modes.data.idx.write_idx")()
    rng = np.random.default_rng(seed)
    for split, (images, labels) in files.items():
        n = _RAW[split]
        write_idx(raw / images, rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(raw / labels, (np.arange(n) % 10).astype(np.uint8))


def _root() -> str:
    """A prepared data folder with tiny MNIST and FashionMNIST (and their provenance)."""
    root = TMP / "data"
    if not (root / "FashionMNIST" / "provenance.json").exists():
        make_record = _lazy("failure_modes.data.provenance.make_record")()
        write_json = _lazy("failure_modes.utils.files.write_json_atomic")()
        for seed, name in enumerate(("MNIST", "FashionMNIST")):
            _write_raw(root / name / "raw", seed)
            record = make_record(name, root / name, "probe", "tiny synthetic files", [])
            write_json(root / name / "provenance.json", record)
    return str(root)


def _mnist() -> str:
    """The tiny MNIST's folder (``raw/`` and ``provenance.json``)."""
    _root()
    return str(TMP / "data" / "MNIST")


def _raw() -> str:
    _root()
    return str(TMP / "data" / "MNIST" / "raw")


def _checkpoint() -> str:
    """A copy of the shipped checkpoint and its record, in TMP."""
    reference = _lazy("failure_modes.models.reference.CHECKPOINT")()
    metadata = _lazy("failure_modes.models.reference.metadata_path")()
    path = TMP / "reference" / "model.pt"
    if not path.exists():
        path.parent.mkdir(exist_ok=True)
        shutil.copy(reference, path)
        shutil.copy(metadata(reference), metadata(path))
    return str(path)


def _record() -> dict:
    return _lazy("failure_modes.data.provenance.read_provenance")()(_mnist())


def _spec():
    return _lazy("failure_modes.data.fetchers.DATASETS")()["MNIST"]


def _mnist_record() -> dict:
    return dict(name="MNIST", folder=_mnist(), source="probe", detail="tiny", tried=[])


_P, _S, _F, _R, _U = (
    "failure_modes.data.provenance.",
    "failure_modes.data.sources.",
    "failure_modes.utils.files.",
    "failure_modes.models.reference.",
    "failure_modes.utils.arguments.",
)

RECIPES: dict = {
    "failure_modes.data.fetchers.fetchers": (lambda: dict(spec=_spec()), {"spec": "spec"}),
    _P + "labels_problem": (lambda: dict(raw=_raw()), {"raw": "path"}),
    _P + "layout_problem": (lambda: dict(raw=_raw()), {"raw": "folder"}),
    _P + "make_record": (
        _mnist_record,
        {"folder": "path", "name": "text", "source": "text", "detail": "text", "tried": "tried"},
    ),
    # Any object is diagnosed (None, a list, a dict lacking entries): the answer is the reason
    # in words, so no value of record is a mistake here.
    _P + "malformed_problem": (lambda: dict(record=_record()), {}),
    _P + "provenance_problem": (
        lambda: dict(raw=_raw(), record=_record(), hashes=True),
        {"raw": "path", "hashes": "flag"},  # a malformed record is answered, as above
    ),
    _P + "read_provenance": (
        lambda: dict(folder=_mnist()),
        {"folder": "folder"},
    ),
    _P + "valid_record": (
        lambda: dict(folder=_mnist(), hashes=True),
        {"folder": "folder", "hashes": "flag"},
    ),
    _S + "data_root": (lambda: dict(root=_root()), {"root": "root"}),
    _S + "load_mnist": (
        lambda: dict(train=False, root=_root()),
        {"train": "flag", "root": "root", "raw": "flag", "report": "flag"},
    ),
    _S + "load_fashion_mnist": (
        lambda: dict(train=True, root=_root()),
        {"train": "flag", "root": "root", "raw": "flag", "report": "flag"},
    ),
    _S + "prepare": (
        lambda: dict(root=_root(), download=False, names=["MNIST"]),
        {"root": "root", "download": "flag", "names": "dataset_names"},
    ),
    _R + "load_reference_model": (
        lambda: dict(path=_checkpoint(), retrain_if_missing=False),
        {"path": "path_or_default", "retrain_if_missing": "flag"},
    ),
    _R + "reference_metadata": (lambda: dict(path=_checkpoint()), {"path": "path_or_default"}),
    _R + "reference_splits": (lambda: dict(root=_root()), {"root": "root"}),
    _R + "train_reference": (
        lambda: dict(
            path=str(TMP / "trained" / "model.pt"),
            epochs=1,
            batch_size=8,
            root=_root(),
            device="cpu",
            progress=False,
        ),
        {
            "path": "output_or_default",
            "seed": "seed",
            "epochs": "count",
            "batch_size": "count",
            "lr": "factor",
            "root": "root",
            "device": "device",
            "progress": "flag",
        },
    ),
    _F + "atomic_write": (
        lambda: dict(path=str(TMP / "atomic" / "a.txt"), write=lambda p: p.write_text("a")),
        {"path": "output_path", "write": "writer"},
    ),
    _F + "copy_atomic": (
        lambda: dict(source=io.BytesIO(b"contents"), path=str(TMP / "atomic" / "copy.bin")),
        {"source": "stream", "path": "output_path"},
    ),
    _F + "write_json_atomic": (
        lambda: dict(path=str(TMP / "atomic" / "a.json"), record={"a": [1, 2.5, None]}),
        {"path": "output_path", "record": "json_record"},
    ),
    _F + "write_text_atomic": (
        lambda: dict(path=str(TMP / "atomic" / "b.txt"), text="contents\n"),
        {"path": "output_path", "text": "text"},
    ),
    "failure_modes.utils.paths.checkout_root": (lambda: dict(), {}),  # takes no argument
    "failure_modes.utils.paths.find_root": (
        lambda: dict(start=str(_lazy("failure_modes.utils.paths.PACKAGE_DIR")())),
        {"start": "path_or_default"},
    ),
    # The shared checks of failure_modes.utils.arguments (property-tested in test_checks).
    _U + "check_path": (lambda: dict(path=_idx_file(), exists=True), {"path": "path"}),
    _U + "check_flag": (lambda: dict(value=True, name="value"), {"value": "flag"}),
    _U + "check_instance": (
        lambda: dict(value="a", kind=str, name="value", what="a str"),
        {"value": "anything"},
    ),
    _U + "check_callable": (
        lambda: dict(value=len, name="value", what="a function"),
        {"value": "anything"},
    ),
    _U + "check_binary_stream": (
        lambda: dict(value=io.BytesIO(b"x"), name="value"),
        {"value": "stream"},
    ),
}
SKIPS: dict[str, str] = {
    _U + "MissingPathError": "an exception class",
}
