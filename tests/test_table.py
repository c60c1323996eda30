"""Table: the small tidy table the experiments return."""

from __future__ import annotations

import math

import numpy as np
import pytest

from failure_modes.utils.table import Table

ROWS = [
    {"method": "ig", "image": 0, "mass": 0.5, "hit": True},
    {"method": "ig", "image": 1, "mass": 0.25, "hit": False},
    {"method": "saliency", "image": 0, "mass": 0.125, "hit": True},
]


def test_columns_rows_and_selection():
    table = Table(ROWS)
    assert table.columns == ["method", "image", "mass", "hit"]
    assert len(table) == 3
    np.testing.assert_array_equal(table.column("mass"), [0.5, 0.25, 0.125])
    assert len(table.where(method="ig")) == 2
    assert len(table.where(lambda row: row["mass"] > 0.2)) == 2
    assert table.row(method="saliency")["mass"] == 0.125
    assert table.select("mass", "method").columns == ["mass", "method"]


def test_the_table_is_a_copy_of_its_rows():
    rows = [dict(row) for row in ROWS]
    table = Table(rows)
    rows[0]["mass"] = 99.0
    assert table.rows[0]["mass"] == 0.5


def test_mean_by_averages_numbers_and_turns_booleans_into_shares():
    means = Table(ROWS).mean_by("method")
    assert means.columns == ["method", "image", "mass", "hit"]
    ig = means.row(method="ig")
    assert ig["mass"] == pytest.approx(0.375) and ig["hit"] == pytest.approx(0.5)
    assert Table(ROWS).mean_by("method", ["mass"]).columns == ["method", "mass"]


def test_pivot_makes_one_column_per_value_and_fills_gaps_with_nan():
    wide = Table(ROWS).pivot("image", "method", "mass")
    assert wide.columns == ["image", "ig", "saliency"]
    assert wide.rows[0] == {"image": 0, "ig": 0.5, "saliency": 0.125}
    assert wide.rows[1]["ig"] == 0.25 and math.isnan(wide.rows[1]["saliency"])
    assert wide.to_text().splitlines()[2].split() == ["1", "0.250", "-"]


def test_text_is_aligned_and_formats_values():
    text = Table(
        [{"name": "a", "value": 1 / 3, "ok": True, "none": None, "nan": math.nan}]
    ).to_text()
    header, line = text.splitlines()
    assert header.split() == ["name", "value", "ok", "none", "nan"]
    assert line.split() == ["a", "0.333", "yes", "None", "-"]
    assert str(Table(ROWS)) == repr(Table(ROWS)) == Table(ROWS).to_text()
    assert Table([]).to_text() == "(empty table)"


def test_errors_name_the_missing_column():
    table = Table(ROWS)
    for call in (
        lambda: table.column("size"),
        lambda: table.where(size=1),
        lambda: table.select("size"),
        lambda: table.pivot("image", "size", "mass"),
    ):
        with pytest.raises(KeyError, match="size.*method"):
            call()
    with pytest.raises(KeyError, match="expected one row"):
        table.row(method="ig")
    with pytest.raises(ValueError, match="same keys"):
        Table([{"a": 1}, {"b": 2}])
