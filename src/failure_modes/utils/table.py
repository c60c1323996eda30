"""A tidy table small enough to need no pandas: rows of plain values, printed as text.

Results that have one row per image x method (or per label, per alpha, ...) come back as a
:class:`Table`. It selects rows, pulls a column out as a NumPy array, averages groups, and
prints itself as an aligned text table (also when it is the last value of a notebook cell).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Table"]


def _format(value: Any, precision: int) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (float, np.floating)):
        return "-" if math.isnan(value) else f"{value:.{precision}f}"
    return str(value)


@dataclass(frozen=True)
class Table:
    """Rows of named values; every row has the same keys, in the same order.

    Parameters
    ----------
    rows : sequence of mapping
        One mapping per row. Values should be plain Python or NumPy scalars.

    Examples
    --------
    >>> table = Table([{"method": "saliency", "mass": 0.5}, {"method": "occlusion", "mass": 0.25}])
    >>> table.column("mass")
    array([0.5 , 0.25])
    >>> print(table)
    method     mass
    saliency   0.500
    occlusion  0.250
    """

    rows: Sequence[Mapping[str, Any]]

    def __post_init__(self) -> None:
        rows = tuple(dict(row) for row in self.rows)
        if rows and any(list(row) != list(rows[0]) for row in rows):
            raise ValueError("every row of a Table must have the same keys in the same order.")
        object.__setattr__(self, "rows", rows)

    @property
    def columns(self) -> list[str]:
        """Names of the columns (empty for an empty table)."""
        return list(self.rows[0]) if self.rows else []

    def __len__(self) -> int:
        return len(self.rows)

    def column(self, name: str) -> np.ndarray:
        """Return the values of one column as a NumPy array."""
        if self.rows and name not in self.rows[0]:
            raise KeyError(f"no column {name!r}; the columns are {self.columns}.")
        return np.array([row[name] for row in self.rows])

    def where(
        self, predicate: Callable[[Mapping[str, Any]], bool] | None = None, **equals: Any
    ) -> Table:
        """Return the rows whose columns equal ``equals`` (and satisfy ``predicate``)."""
        for name in equals:
            if self.rows and name not in self.rows[0]:
                raise KeyError(f"no column {name!r}; the columns are {self.columns}.")
        return Table(
            [
                row
                for row in self.rows
                if all(row[k] == v for k, v in equals.items())
                and (predicate is None or predicate(row))
            ]
        )

    def row(self, **equals: Any) -> Mapping[str, Any]:
        """Return the single row whose columns equal ``equals`` (KeyError unless exactly one)."""
        found = self.where(**equals).rows
        if len(found) != 1:
            raise KeyError(f"expected one row with {equals}, found {len(found)}.")
        return found[0]

    def select(self, *names: str) -> Table:
        """Return a table with only the columns ``names``, in that order."""
        missing = [name for name in names if self.rows and name not in self.rows[0]]
        if missing:
            raise KeyError(f"no column {missing[0]!r}; the columns are {self.columns}.")
        return Table([{name: row[name] for name in names} for row in self.rows])

    def pivot(self, index: str, columns: str, values: str) -> Table:
        """Return a wide table: one row per value of ``index``, one column per value of ``columns``.

        Combinations that do not occur are NaN (printed as ``-``).

        Examples
        --------
        >>> long = Table([{"a": 1, "m": "x", "v": 0.5}, {"a": 1, "m": "y", "v": 0.25}])
        >>> print(long.pivot("a", "m", "v"))
        a  x      y
        1  0.500  0.250
        """
        for name in (index, columns, values):
            if self.rows and name not in self.rows[0]:
                raise KeyError(f"no column {name!r}; the columns are {self.columns}.")
        names = list(dict.fromkeys(str(row[columns]) for row in self.rows))
        wide: dict[Any, dict[str, Any]] = {}
        for row in self.rows:
            cells = wide.setdefault(
                row[index], {index: row[index], **dict.fromkeys(names, math.nan)}
            )
            cells[str(row[columns])] = row[values]
        return Table(list(wide.values()))

    def mean_by(self, keys: str | Iterable[str], values: Iterable[str] | None = None) -> Table:
        """Average numeric columns within each group of equal ``keys`` (groups in first-seen order).

        Parameters
        ----------
        keys : str or iterable of str
            Column(s) that define a group.
        values : iterable of str, optional
            Columns to average; default every numeric column not in ``keys`` (booleans become
            shares).
        """
        keys = [keys] if isinstance(keys, str) else list(keys)
        if values is None:
            values = [
                name
                for name in self.columns
                if name not in keys
                and isinstance(self.rows[0][name], (int, float, np.number, np.bool_))
            ]
        groups: dict[tuple, list[Mapping[str, Any]]] = {}
        for row in self.rows:
            groups.setdefault(tuple(row[k] for k in keys), []).append(row)
        return Table(
            [
                {
                    **dict(zip(keys, group, strict=True)),
                    **{v: float(np.mean([float(r[v]) for r in members])) for v in values},
                }
                for group, members in groups.items()
            ]
        )

    def to_text(self, precision: int = 3) -> str:
        """Return the table as aligned text, floats with ``precision`` decimals."""
        if not self.rows:
            return "(empty table)"
        cells = [self.columns] + [
            [_format(v, precision) for v in row.values()] for row in self.rows
        ]
        widths = [max(len(line[i]) for line in cells) for i in range(len(cells[0]))]
        return "\n".join(
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
            for line in cells
        )

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return self.to_text()
