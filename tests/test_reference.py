"""The reference FashionMNIST model: its splits, its shipped checkpoint, and safe loading."""

from __future__ import annotations

import json
import pickle
import shutil

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import Subset

from failure_modes import models
from failure_modes.models import reference
from failure_modes.models.evaluation import accuracy, predict
from failure_modes.utils.files import sha256_file

# --- splits -----------------------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=0, max_size=60), st.integers(1, 7))
def test_split_is_a_stratified_partition(labels, every):
    targets = torch.tensor(labels, dtype=torch.int64)
    parts = reference.split_indices(targets, every=every)
    train, validation = parts["train"].tolist(), parts["validation"].tolist()
    assert sorted(train + validation) == list(range(len(labels)))
    for label in set(labels):
        count = labels.count(label)
        held = sum(1 for k in validation if labels[k] == label)
        assert held == count // every
        # Within a class, the held-out images are its every-th ones, in index order.
        positions = [k for k in range(len(labels)) if labels[k] == label]
        assert [positions[j] for j in range(every - 1, count, every)] == [
            k for k in validation if labels[k] == label
        ]


def test_split_does_not_depend_on_the_global_random_state():
    targets = torch.arange(100) % 10
    torch.manual_seed(1)
    first = reference.split_indices(targets)
    torch.manual_seed(2)
    second = reference.split_indices(targets)
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_split_rejects_bad_input():
    with pytest.raises(ValueError, match=r"shape \[N\]"):
        reference.split_indices(torch.zeros(3, 2, dtype=torch.int64))
    with pytest.raises(ValueError, match="every"):
        reference.split_indices(torch.zeros(3, dtype=torch.int64), every=0)


@pytest.fixture(scope="module")
def splits():
    return reference.reference_splits()


def test_reference_splits_have_the_stated_sizes_and_do_not_overlap(splits):
    assert {name: len(data) for name, data in splits.items()} == {
        "train": 50_000,
        "validation": 10_000,
        "test": 10_000,
    }
    train, validation = splits["train"], splits["validation"]
    assert isinstance(train, Subset) and train.dataset is validation.dataset
    assert not set(train.indices) & set(validation.indices)
    counts = torch.bincount(validation.dataset.targets[validation.indices], minlength=10)
    assert counts.tolist() == [1000] * 10
    assert splits["test"].train is False


# --- the shipped checkpoint -------------------------------------------------------------------


def test_shipped_checkpoint_matches_its_record(splits):
    record = reference.reference_metadata()
    assert record["sha256"] == sha256_file(reference.CHECKPOINT)
    model = models.load_reference_model(retrain_if_missing=False)
    assert isinstance(model, models.SmallCNN) and not model.training
    # The recorded accuracy is the model's, and the model really makes mistakes.
    measured = accuracy(*predict(model, splits["test"]))
    assert measured == pytest.approx(record["accuracy"]["test"], abs=1e-4)
    assert 0.88 <= measured <= 0.93
    assert record["split_sizes"] == {"train": 50_000, "validation": 10_000, "test": 10_000}


# --- refusing damaged files -------------------------------------------------------------------


@pytest.fixture
def copied(tmp_path):
    path = tmp_path / "model.pt"
    shutil.copy(reference.CHECKPOINT, path)
    shutil.copy(reference.metadata_path(reference.CHECKPOINT), reference.metadata_path(path))
    return path


def test_copy_with_its_record_loads(copied):
    model = reference.load_reference_model(copied, retrain_if_missing=False)
    original = models.load_reference_model(retrain_if_missing=False)
    theirs = original.state_dict()
    assert all(torch.equal(value, theirs[name]) for name, value in model.state_dict().items())


def test_damaged_checkpoint_is_refused_with_the_rebuild_command(copied):
    data = bytearray(copied.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copied.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="python -m failure_modes train-reference") as error:
        reference.load_reference_model(copied, retrain_if_missing=False)
    assert "SHA-256" in str(error.value)


def test_checkpoint_without_record_is_refused(copied):
    reference.metadata_path(copied).unlink()
    with pytest.raises(ValueError, match="train-reference"):
        reference.load_reference_model(copied)


def test_missing_checkpoint_without_retraining_says_how_to_build_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-reference"):
        reference.load_reference_model(tmp_path / "absent.pt", retrain_if_missing=False)


class _NotWeights:
    """An object that a weights-only unpickler must refuse."""


def test_loading_never_unpickles_arbitrary_objects(tmp_path):
    # A file whose hash is on record but which holds more than tensors: hash checks alone would
    # let it through; weights_only=True must not.
    path = tmp_path / "evil.pt"
    torch.save({"conv1.weight": _NotWeights()}, path)
    record = {"sha256": sha256_file(path)}
    reference.metadata_path(path).write_text(json.dumps(record))
    with pytest.raises(pickle.UnpicklingError):
        reference.load_reference_model(path, retrain_if_missing=False)


def test_load_passes_weights_only(copied, monkeypatch):
    seen = {}
    real_load = torch.load

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    reference.load_reference_model(copied, retrain_if_missing=False)
    assert seen.get("weights_only") is True


# --- training and atomic writes, on a tiny split ----------------------------------------------


@pytest.fixture
def tiny_splits(monkeypatch, make_dataset):
    # Synthetic stand-ins (see conftest): the training path is the real one, only smaller.
    def fake(root=None):
        full = make_dataset(n_per_class=12)
        return {
            "train": Subset(full, list(range(0, 120, 2))),
            "validation": Subset(full, list(range(1, 120, 2))),
            "test": make_dataset(n_per_class=3, seed=1),
        }

    monkeypatch.setattr(reference, "reference_splits", fake)


_TRAIN_REFERENCE = reference.train_reference


def _fast(path, **kwargs):
    return _TRAIN_REFERENCE(path, epochs=1, batch_size=64, progress=False, **kwargs)


def test_missing_checkpoint_is_retrained_and_loaded(tiny_splits, tmp_path, monkeypatch):
    # Only the training settings are made tiny; the decision to retrain is the real one.
    monkeypatch.setattr(reference, "train_reference", _fast)
    path = tmp_path / "sub" / "model.pt"
    model = reference.load_reference_model(path)
    assert path.exists() and reference.metadata_path(path).exists()
    assert isinstance(model, models.SmallCNN) and not model.training
    record = json.loads(reference.metadata_path(path).read_text())
    assert record["sha256"] == sha256_file(path)
    assert record["epochs"] == 1 and record["seed"] == 0
    assert set(record["accuracy"]) == {"train", "validation", "test"}
    assert record["torch_version"] == torch.__version__


def test_training_is_repeatable_and_leaves_global_random_state_alone(tiny_splits, tmp_path):
    torch.manual_seed(123)
    state = torch.get_rng_state()
    first = reference.load_reference_model(_fast(tmp_path / "a.pt", seed=3))
    assert torch.equal(torch.get_rng_state(), state)
    second = reference.load_reference_model(_fast(tmp_path / "b.pt", seed=3))
    other = reference.load_reference_model(_fast(tmp_path / "c.pt", seed=4))
    weights = [m.state_dict()["conv1.weight"] for m in (first, second, other)]
    assert torch.equal(weights[0], weights[1]) and not torch.equal(weights[0], weights[2])


def test_failed_save_keeps_the_old_checkpoint_and_leaves_no_temporary(
    tiny_splits, tmp_path, monkeypatch
):
    path = _fast(tmp_path / "model.pt")
    before = path.read_bytes()
    record_before = reference.metadata_path(path).read_text()

    def broken_save(obj, target):
        with open(target, "wb") as handle:
            handle.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        _fast(path, seed=1)
    assert path.read_bytes() == before
    assert reference.metadata_path(path).read_text() == record_before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json", "model.pt"]
    reference.load_reference_model(path, retrain_if_missing=False)
