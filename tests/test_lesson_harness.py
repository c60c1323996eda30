"""The lesson harness on a two-cell notebook: parameters reach it, records come back, and a
recorded number no test reads is reported."""

from __future__ import annotations

from pathlib import Path

import lesson_harness
import pytest
from notebook_factory import RECORD_IMPORT, write_notebook

pytestmark = pytest.mark.notebook


@pytest.fixture(scope="module")
def notebook(tmp_path_factory) -> Path:
    return write_notebook(
        tmp_path_factory.mktemp("lesson") / "solution.ipynb",
        "SEED = 0\nSIZE = 10",
        RECORD_IMPORT + "record('seed', SEED)\nrecord('size', SIZE)",
    )


def test_each_seed_runs_once_with_its_parameters(notebook):
    first = lesson_harness.run_lesson(str(notebook), (("SEED", 2), ("SIZE", 5)))
    assert (first["seed"], first["size"]) == (2, 5)
    assert lesson_harness.run_lesson(str(notebook), (("SEED", 2), ("SIZE", 5))) is first


def test_the_closing_test_names_the_unread_number(notebook, request):
    records = lesson_harness.run_lesson(str(notebook), (("SEED", 1),))
    records["seed"]
    closing = lesson_harness.every_record_asserted(str(notebook))
    with pytest.raises(AssertionError, match="size"):
        closing(request)
