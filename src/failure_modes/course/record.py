"""Numbers a notebook's prose relies on, left in its executed outputs for the lesson tests.

``record("tainted_recall_of_4s", recall)`` shows the student nothing new (the notebook prints
the number in its own words). The records of one cell share one display output, with its own
MIME type, which each further ``record`` in the cell updates in place (a ``display_id``), so a
cell that records twelve numbers gains one empty output, not twelve. The lesson tests execute
the notebook with papermill and read these outputs back with :func:`read_records`, so a claim is
asserted on the very number the notebook computed.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import re
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import torch
from IPython import get_ipython
from IPython.display import display, update_display

__all__ = ["MIME_TYPE", "Records", "read_records", "record"]

MIME_TYPE = "application/vnd.failure-modes.record+json"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def _plain(value: Any, name: str) -> Any:
    """``value`` as JSON-ready Python (numbers, strings, lists, dicts of str keys)."""
    if isinstance(value, (torch.Tensor, np.ndarray)):
        value = value.tolist()
    elif isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(
                f"record({name!r}, ...) got {value}: a lesson number must be finite; "
                "check the computation that produced it."
            )
        return value
    if isinstance(value, Mapping):
        return {str(key): _plain(item, name) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item, name) for item in value]
    raise TypeError(
        f"record({name!r}, ...) takes numbers, strings, lists or dicts of them; got "
        f"{type(value).__name__}. Convert it first, e.g. float(x) or x.tolist()."
    )


class _CellRecords:
    """The records of the cell that is running, and the id of the one output that shows them."""

    def __init__(self) -> None:
        self.cell: object = None
        self.display_id = ""
        self.payloads: list[dict[str, Any]] = []

    def add(self, payload: dict[str, Any]) -> None:
        cell = _running_cell()
        same_cell = bool(self.payloads) and cell == self.cell
        if not same_cell:
            self.cell, self.display_id, self.payloads = cell, uuid.uuid4().hex, []
        self.payloads.append(payload)
        # An empty text/plain keeps front-ends from warning about an output they cannot render.
        bundle = {MIME_TYPE: {"records": list(self.payloads)}, "text/plain": ""}
        show = update_display if same_cell else display
        show(bundle, raw=True, display_id=self.display_id)


def _running_cell() -> object:
    """What tells one cell's execution from the next: the kernel's count, or a new object."""
    shell = get_ipython()
    return object() if shell is None else shell.execution_count


_CELL = _CellRecords()


def record(name: str, value: Any) -> Any:
    """Leave ``value`` under ``name`` in the executed notebook, and return it unchanged.

    Parameters
    ----------
    name : str
        Lower-case identifier, e.g. ``"tainted_recall_of_4s"``; unique within a notebook.
    value : number, str, list, dict, numpy or torch value
        What the prose cites. Tensors and arrays are stored as (nested) lists.

    Returns
    -------
    The ``value`` given, so ``x = record("x", compute())`` reads naturally.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            f"record name must be a lower-case identifier such as 'clean_accuracy', got {name!r}."
        )
    _CELL.add({"name": name, "value": _plain(value, name)})
    return value


class Records(Mapping):
    """The numbers one executed notebook recorded, remembering which ones were read.

    A missing name raises ``KeyError`` naming the notebook and the names it does record, so
    a lesson test that asks for a value the notebook does not record fails with the reason.
    """

    def __init__(self, values: Mapping[str, Any], source: str) -> None:
        self._values = dict(values)
        self.source = source
        self.read: set[str] = set()

    def __getitem__(self, name: str) -> Any:
        if name not in self._values:
            raise KeyError(
                f"{self.source} records no value {name!r}; it records {sorted(self._values)}. "
                f"Add record({name!r}, ...) to the notebook source, or fix the name in the test."
            )
        self.read.add(name)
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def unread(self) -> list[str]:
        """Recorded names no test has read yet."""
        return sorted(set(self._values) - self.read)


def read_records(
    notebook: str | os.PathLike | nbformat.NotebookNode, *, source: str | None = None
) -> Records:
    """Read the values :func:`record` left in an executed notebook.

    ``source`` names the run in messages (default: the path, or "notebook" for a node).

    Raises
    ------
    ValueError
        When two cells record the same name: a notebook computes each number once.
    """
    in_memory = isinstance(notebook, nbformat.NotebookNode)
    nb = notebook if in_memory else nbformat.read(Path(notebook), as_version=4)
    source = source or ("notebook" if in_memory else str(notebook))
    values: dict[str, Any] = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            payload = output.get("data", {}).get(MIME_TYPE)
            if payload is None:
                continue
            if isinstance(payload, str):  # some writers store JSON MIME data as text
                payload = json.loads(payload)
            for item in payload.get("records", [payload]):
                if item["name"] in values:
                    raise ValueError(
                        f"{source} records {item['name']!r} twice; a notebook computes each "
                        "number once: record it in one cell."
                    )
                values[item["name"]] = item["value"]
    return Records(values, source)
