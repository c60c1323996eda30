"""A pytest plugin that saves what nbval executed, so a test can read the cells' outputs.

nbval runs a notebook cell by cell as pytest items and fails on an error cell, but keeps the
outputs it saw only on its items. With ``-p nbval_capture --nbval-capture=OUT.ipynb`` this
plugin writes them, at the end of the session, as an executed copy of the notebook: each code
cell with the outputs nbval collected (none for a cell that did not run). The lesson harness
reads the task checkers' verdicts from it (:func:`lesson_harness.run_with_nbval`).
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import pytest
from nbval.plugin import IPyNbCell

OPTION = "--nbval-capture"
_ITEMS = pytest.StashKey[list]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("nbval").addoption(
        OPTION,
        dest="nbval_capture",
        default=None,
        metavar="PATH",
        help="write the notebook nbval executed, with the outputs it saw, to PATH",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    config.stash[_ITEMS] = [item for item in items if isinstance(item, IPyNbCell)]


def pytest_sessionfinish(session: pytest.Session) -> None:
    target = session.config.getoption("nbval_capture")
    cells = session.config.stash.get(_ITEMS, [])
    if target is None or not cells:
        return
    files = {cell.parent.path for cell in cells}
    if len(files) != 1:
        raise pytest.UsageError(f"{OPTION} saves one notebook; nbval ran {sorted(files)}")
    notebook = nbformat.read(cells[0].parent.path, as_version=4)
    executed = {cell.cell_num: cell.test_outputs for cell in cells}
    code_cells = [c for c in notebook.cells if c.cell_type == "code"]
    for number, cell in enumerate(code_cells):
        outputs = executed.get(number)
        cell.outputs = [copy.deepcopy(output) for output in outputs] if outputs else []
    nbformat.write(notebook, Path(target))
