"""Lesson tests run the solution notebook itself, over seeds, and assert on what it recorded.

A lesson test module needs two lines::

    lesson = lesson_fixture("solution.ipynb")          # papermill, seeds 0, 1, 2
    test_every_recorded_number_is_asserted = every_record_asserted("solution.ipynb")

then ``def test_claim(lesson): assert lesson["tainted_accuracy"] > ...``. The fixture executes
the notebook once per seed (``SEED`` and any other knobs injected into its ``parameters``
cell) and returns its :class:`~failure_modes.course.record.Records`. Asking for a name the
notebook does not record fails with the names it does; the last test of the module fails when
the notebook records a number that no test of the module read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from failure_modes.course.record import Records, read_records
from failure_modes.course.runner import execute

ROOT = Path(__file__).resolve().parents[1]
SEEDS = (0, 1, 2)
# Seconds one cell may run: generous, a whole core notebook takes about 80 s on one thread.
CELL_TIMEOUT = 1800
# Files some of whose tests were deselected (-k, -m): filled by tests/conftest.py.
DESELECTED_PATHS = pytest.StashKey[set]()


_RUNS: dict[tuple[str, tuple[tuple[str, Any], ...]], Records] = {}


def run_lesson(notebook: str, parameters: tuple[tuple[str, Any], ...]) -> Records:
    """Execute ``notebook`` (relative to the repository) once per parameter set per process."""
    key = (notebook, parameters)
    if key not in _RUNS:
        executed = execute(ROOT / notebook, parameters=dict(parameters), timeout=CELL_TIMEOUT)
        _RUNS[key] = read_records(executed, source=f"{notebook} with {dict(parameters)}")
    return _RUNS[key]


def _parameters(seed: int, extra: Mapping[int, Mapping[str, Any]] | None) -> dict[str, Any]:
    return {"SEED": seed, **dict((extra or {}).get(seed, {}))}


def lesson_fixture(
    notebook: str,
    *,
    seeds: tuple[int, ...] = SEEDS,
    parameters: Mapping[int, Mapping[str, Any]] | None = None,
) -> Callable:
    """A module-scoped fixture, parametrised over ``seeds``, giving one run's records.

    ``parameters`` maps a seed to more values for the ``parameters`` cell (smaller sizes for
    the extra seeds, say); every seed gets ``SEED``.
    """

    @pytest.fixture(scope="module", params=seeds, ids=[f"seed{s}" for s in seeds])
    def lesson(request) -> Records:
        params = _parameters(request.param, parameters)
        return run_lesson(notebook, tuple(sorted(params.items())))

    return lesson


def every_record_asserted(notebook: str) -> Callable:
    """The test that closes a lesson module: every number the notebook records was read."""

    def test_every_recorded_number_is_asserted(request) -> None:
        if request.node.path in request.config.stash.get(DESELECTED_PATHS, set()):
            pytest.skip("some lesson tests of this module were deselected")
        runs = [records for (name, _), records in _RUNS.items() if name == notebook]
        assert runs, f"no lesson test of this module executed {notebook}"
        unread = {records.source: records.unread() for records in runs if records.unread()}
        assert not unread, (
            f"{notebook} records numbers that no lesson test asserts: {unread}. Assert them "
            "in this module, or stop recording them."
        )

    return test_every_recorded_number_is_asserted
