"""The raw layout of a prepared dataset, its checks, and the provenance record beside it.

A dataset is ready when its four raw files (:data:`RAW_FILES`) form N 28x28 images with N
labels each split, their sizes match the IDX headers, and ``provenance.json`` records the
same sizes (and, on a full check, the same sha256 sums). Each ``*_problem`` function says in
words why not (or returns None), so that the reason reaches the user.
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

from failure_modes.data.idx import idx_nbytes, read_idx, read_idx_shape
from failure_modes.utils.files import sha256_file

__all__ = [
    "PROVENANCE",
    "RAW_FILES",
    "layout_problem",
    "labels_problem",
    "provenance_problem",
    "read_provenance",
    "valid_record",
    "make_record",
]

PROVENANCE = "provenance.json"
"""File name of the provenance record, beside the ``raw/`` folder."""

RAW_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
"""torchvision's raw file names (images, labels); the split of each pair is its key."""


def layout_problem(raw: Path) -> str | None:
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


def provenance_problem(raw: Path, record: dict, *, hashes: bool) -> str | None:
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


def read_provenance(folder: Path) -> dict | None:
    try:
        record = json.loads((folder / PROVENANCE).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def valid_record(folder: Path, *, hashes: bool) -> tuple[dict | None, str | None]:
    """The provenance record if the files are intact, else ``(None, why)``."""
    raw = folder / "raw"
    problem = layout_problem(raw)
    if problem is not None:
        return None, problem
    record = read_provenance(folder)
    if record is None:
        return None, f"{folder / PROVENANCE} is missing or unreadable"
    problem = provenance_problem(raw, record, hashes=hashes)
    return (record, None) if problem is None else (None, problem)


def make_record(name: str, folder: Path, source: str, detail: str, tried: list[str]) -> dict:
    raw = folder / "raw"
    files = {
        name: {"bytes": (raw / name).stat().st_size, "sha256": sha256_file(raw / name)}
        for names in RAW_FILES.values()
        for name in names
    }
    sizes = {split: read_idx_shape(raw / labels)[0] for split, (_, labels) in RAW_FILES.items()}
    return {
        "dataset": name,
        "source": source,
        "detail": detail,
        "sizes": sizes,
        "files": files,
        "prepared": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "tried": tried,
    }


def labels_problem(raw: Path) -> str | None:
    for _, labels in RAW_FILES.values():
        values = read_idx(raw / labels)
        if values.size and values.max() > 9:
            return f"{raw / labels} holds label {values.max()}, expected 0..9"
    return None
