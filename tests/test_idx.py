"""IDX reading and writing: round trips, exact header bytes, damaged files, atomic writes."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis.extra import numpy as hnp
from torchvision.datasets.mnist import read_image_file, read_label_file

from failure_modes.data.idx import idx_nbytes, read_idx, read_idx_shape, write_idx

uint8_arrays = hnp.arrays(
    dtype=np.uint8,
    shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5),
)


@settings(max_examples=60, deadline=None)
@given(array=uint8_arrays)
def test_round_trip_any_shape(tmp_path_factory, array):
    path = tmp_path_factory.mktemp("idx") / "a-ubyte"
    write_idx(path, array)
    back = read_idx(path)
    assert back.dtype == np.uint8
    assert back.shape == array.shape
    np.testing.assert_array_equal(back, array)
    assert read_idx_shape(path) == array.shape
    assert path.stat().st_size == idx_nbytes(array.shape)


def test_header_bytes_are_big_endian_uint8_magic(tmp_path):
    array = np.arange(2 * 3 * 260, dtype=np.int64).astype(np.uint8).reshape(2, 3, 260)
    path = write_idx(tmp_path / "x", array)
    raw = path.read_bytes()
    assert raw[:4] == bytes([0, 0, 0x08, 3])
    assert raw[4:16] == bytes([0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 1, 4])
    assert raw[16:] == array.tobytes()


def test_torchvision_reads_what_we_write(tmp_path):
    images = torch.randint(
        0, 256, (7, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    labels = torch.arange(7, dtype=torch.uint8)
    write_idx(tmp_path / "images", images.numpy())
    write_idx(tmp_path / "labels", labels.numpy())
    assert torch.equal(read_image_file(str(tmp_path / "images")), images)
    assert torch.equal(read_label_file(str(tmp_path / "labels")), labels.long())


def test_write_accepts_a_tensor_and_non_contiguous_array(tmp_path):
    array = np.arange(24, dtype=np.uint8).reshape(4, 6).T  # not C-contiguous
    write_idx(tmp_path / "t", torch.from_numpy(np.ascontiguousarray(array)))
    write_idx(tmp_path / "a", array)
    np.testing.assert_array_equal(read_idx(tmp_path / "t"), array)
    np.testing.assert_array_equal(read_idx(tmp_path / "a"), array)


@pytest.mark.parametrize("cut", [1, 100])
def test_truncated_file_is_refused_with_its_name(tmp_path, cut):
    path = write_idx(tmp_path / "short-ubyte", np.ones((3, 8, 8), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:-cut])
    with pytest.raises(ValueError, match="short-ubyte.*damaged"):
        read_idx(path)


def test_padded_file_is_refused(tmp_path):
    path = write_idx(tmp_path / "long-ubyte", np.ones((3, 4), dtype=np.uint8))
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(ValueError, match="long-ubyte"):
        read_idx(path)


def test_file_cut_inside_header_is_refused(tmp_path):
    path = write_idx(tmp_path / "h", np.ones((3, 4), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:6])
    with pytest.raises(ValueError, match="inside its IDX header"):
        read_idx_shape(path)


@pytest.mark.parametrize(
    ("head", "message"),
    [(b"\x01\x00\x08\x01", "bad magic"), (b"\x00\x00\x0d\x01", "only uint8"), (b"", "bad magic")],
)
def test_bad_header_is_refused(tmp_path, head, message):
    path = tmp_path / "bad"
    path.write_bytes(head + b"\x00\x00\x00\x01\x05" if head else b"")
    with pytest.raises(ValueError, match=message):
        read_idx(path)


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.int8])
def test_non_uint8_is_a_type_error(tmp_path, dtype):
    with pytest.raises(TypeError, match="uint8"):
        write_idx(tmp_path / "x", np.zeros((2, 2), dtype=dtype))
    assert not (tmp_path / "x").exists()


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = write_idx(tmp_path / "keep", np.full((2, 2), 7, dtype=np.uint8))

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_idx(path, np.zeros((5, 5), dtype=np.uint8))
    monkeypatch.undo()
    np.testing.assert_array_equal(read_idx(path), np.full((2, 2), 7, dtype=np.uint8))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep"]
