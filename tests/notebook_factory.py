"""Small notebooks written on the fly for the runner and harness tests."""

from __future__ import annotations

from pathlib import Path

import nbformat

RECORD_IMPORT = "from failure_modes.course.record import record\n"


def write_notebook(path: Path, parameters: str, *cells: str) -> Path:
    """Write a notebook whose first cell, tagged ``parameters``, is ``parameters``."""
    nb = nbformat.v4.new_notebook()
    first = nbformat.v4.new_code_cell(parameters)
    first.metadata["tags"] = ["parameters"]
    nb.cells = [first, *(nbformat.v4.new_code_cell(source) for source in cells)]
    nbformat.write(nb, path)
    return path
