"""``record`` leaves lesson numbers in a notebook's outputs; ``read_records`` reads them back."""

from __future__ import annotations

import math

import nbformat
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from failure_modes.course import record as rec


def _notebook(*payloads: dict) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    for payload in payloads:
        cell = nbformat.v4.new_code_cell("record(...)")
        cell.outputs = [
            nbformat.v4.new_output("display_data", data={rec.MIME_TYPE: payload, "text/plain": ""})
        ]
        nb.cells.append(cell)
    return nb


def _capture(monkeypatch, cells: list | None = None) -> list[tuple[str, dict, str]]:
    """Record calls to display and update_display as (verb, bundle, display_id)."""
    shown: list[tuple[str, dict, str]] = []
    for verb in ("display", "update_display"):
        monkeypatch.setattr(
            rec,
            verb,
            lambda data, raw, display_id, verb=verb: shown.append((verb, data, display_id)),
        )
    if cells is not None:
        monkeypatch.setattr(rec, "_running_cell", lambda: cells[0])
    monkeypatch.setattr(rec, "_CELL", rec._CellRecords())
    return shown


def test_record_displays_the_value_under_its_own_mime_type(monkeypatch):
    shown = _capture(monkeypatch, cells=[1])
    value = torch.tensor(0.25)
    assert rec.record("tainted_recall", value) is value
    [(verb, bundle, _)] = shown
    assert verb == "display"
    assert bundle == {
        rec.MIME_TYPE: {"records": [{"name": "tainted_recall", "value": 0.25}]},
        "text/plain": "",
    }


def test_the_records_of_one_cell_share_one_output_and_the_next_cell_gets_its_own(monkeypatch):
    cells = [1]
    shown = _capture(monkeypatch, cells)
    rec.record("a", 1)
    rec.record("b", 2)
    cells[0] = 2
    rec.record("c", 3)
    assert [verb for verb, _, _ in shown] == ["display", "update_display", "display"]
    assert shown[0][2] == shown[1][2] != shown[2][2]
    assert shown[1][1][rec.MIME_TYPE]["records"] == [
        {"name": "a", "value": 1},
        {"name": "b", "value": 2},
    ]
    assert shown[2][1][rec.MIME_TYPE]["records"] == [{"name": "c", "value": 3}]


def test_one_output_holding_several_records_reads_back():
    nb = _notebook({"records": [{"name": "a", "value": 1}, {"name": "b", "value": [2, 3]}]})
    assert dict(rec.read_records(nb)) == {"a": 1, "b": [2, 3]}


@pytest.mark.parametrize(
    ("value", "plain"),
    [
        (np.float32(0.5), 0.5),
        (np.int64(3), 3),
        (torch.tensor([1, 2]), [1, 2]),
        ({"a": np.float64(1.5)}, {"a": 1.5}),
        ((1, 2.5), [1, 2.5]),
        (True, True),
        ("Square", "Square"),
    ],
)
def test_values_become_plain_json(monkeypatch, value, plain):
    shown = _capture(monkeypatch, cells=[1])
    rec.record("x", value)
    assert shown[0][1][rec.MIME_TYPE]["records"] == [{"name": "x", "value": plain}]


@pytest.mark.parametrize("value", [math.nan, math.inf, [1.0, math.nan]])
def test_non_finite_numbers_are_refused(value):
    with pytest.raises(ValueError, match="finite"):
        rec.record("x", value)


@pytest.mark.parametrize("name", ["", "Upper", "with space", "1st", 3])
def test_bad_names_are_refused(name):
    with pytest.raises(ValueError, match="lower-case identifier"):
        rec.record(name, 1.0)


def test_objects_are_refused_with_the_fix():
    with pytest.raises(TypeError, match="float"):
        rec.record("x", object())


@given(
    st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True),
        st.floats(allow_nan=False, allow_infinity=False),
        max_size=6,
    )
)
def test_read_records_returns_what_was_recorded(values):
    nb = _notebook(*({"name": k, "value": v} for k, v in values.items()))
    records = rec.read_records(nb)
    assert records.unread() == sorted(values)
    assert dict(records) == values
    assert records.unread() == []


def test_reading_marks_names_and_missing_names_say_what_exists():
    records = rec.read_records(_notebook({"name": "a", "value": 1}, {"name": "b", "value": 2}))
    assert records["a"] == 1
    assert records.unread() == ["b"]
    with pytest.raises(KeyError, match=r"records no value 'c'.*\['a', 'b'\]"):
        records["c"]


def test_a_name_recorded_twice_is_an_error():
    with pytest.raises(ValueError, match="twice"):
        rec.read_records(_notebook({"name": "a", "value": 1}, {"name": "a", "value": 2}))
