"""Lesson tests run the solution notebook itself, over seeds, and assert on what it recorded.

A lesson test module needs two lines::

    lesson = lesson_fixture("solution.ipynb")          # papermill, seeds 0, 1, 2
    test_every_recorded_number_is_asserted = every_record_asserted("solution.ipynb")
    test_the_exercise_runs_untouched = exercise_runs_untouched("exercise.ipynb")

then ``def test_claim(lesson): assert lesson["tainted_accuracy"] > ...``. The fixture executes
the notebook once per seed (``SEED`` and any other knobs injected into its ``parameters``
cell) and returns its :class:`~failure_modes.course.record.Records`. Asking for a name the
notebook does not record fails with the names it does; the last test of the module fails when
the notebook records a number that no test of the module read. Every task checker of the
solution must say "correct" (a solution whose answer a checker rejects fails every test of
that run); :func:`exercise_runs_untouched` executes the student notebook as a student first
meets it, through nbval (the command a course's CI and an instructor run, see the README), and
fails on an error cell or a checker that does not report "not done".
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import nbformat
import pytest

from failure_modes.course.build import TASK_TAG
from failure_modes.course.checks.feedback import CORRECT, NOT_DONE, read_verdicts
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
        source = f"{notebook} with {dict(parameters)}"
        rejected = [str(v) for v in read_verdicts(executed) if v.status != CORRECT]
        assert not rejected, f"{source}: task checkers reject the model answers: {rejected}"
        _RUNS[key] = read_records(executed, source=source)
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


def _task_code_cells(notebook: nbformat.NotebookNode) -> int:
    return sum(
        cell.cell_type == "code" and TASK_TAG in cell.metadata.get("tags", [])
        for cell in notebook.cells
    )


# The command a course's CI runs on every built notebook (README, .github/workflows/), here on
# this interpreter's kernel. The subprocess reads the project's pytest configuration whatever the
# notebook's folder, less its addopts (xdist workers, durations).
NBVAL_COMMAND = ("-m", "pytest", "--nbval-lax", "--nbval-current-env")


def run_with_nbval(
    notebook: str | Path, *, timeout: int = CELL_TIMEOUT
) -> tuple[subprocess.CompletedProcess, nbformat.NotebookNode]:
    """Run ``python -m pytest --nbval-lax --nbval-current-env NOTEBOOK`` in a subprocess,
    stopping at the first cell that fails.

    Returns the finished process (its ``stdout`` is nbval's report, which names a failing cell
    and shows its traceback) and the notebook as nbval executed it, each code cell with the
    outputs nbval saw (written by the plugin ``tests/nbval_capture.py``).
    """
    path = (ROOT / notebook).resolve()
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PYTEST_XDIST", "PYTEST_CURRENT_TEST"))
    }
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(__file__).resolve().parent), *filter(None, [env.get("PYTHONPATH")])]
    )
    with tempfile.TemporaryDirectory() as folder:
        captured = Path(folder) / path.name
        process = subprocess.run(
            [
                sys.executable,
                *NBVAL_COMMAND,
                f"--nbval-cell-timeout={timeout}",
                "-p",
                "nbval_capture",
                f"--nbval-capture={captured}",
                "-p",
                "no:cacheprovider",
                "-c",
                str(ROOT / "pyproject.toml"),
                f"--rootdir={ROOT}",
                "-o",
                "addopts=",
                "-q",
                "--exitfirst",  # nbval goes on after an error cell; the first error is the one
                str(path),
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        executed = nbformat.read(captured, as_version=4) if captured.is_file() else None
    if executed is None:
        raise AssertionError(
            f"nbval saved no executed copy of {notebook} (exit status {process.returncode}):\n"
            f"{process.stdout[-4000:]}{process.stderr[-4000:]}"
        )
    return process, executed


def check_untouched(
    notebook: str, process: subprocess.CompletedProcess, executed: nbformat.NotebookNode
) -> None:
    """Fail unless nbval ran and passed every cell of ``notebook`` and every coding task's
    checker said "not done" (what :func:`run_with_nbval` returned for the untouched student notebook)."""
    assert process.returncode == 0, (
        f"nbval failed on {notebook} (exit status {process.returncode}):\n"
        f"{process.stdout[-6000:]}{process.stderr[-2000:]}"
    )
    cells = sum(cell.cell_type == "code" for cell in executed.cells)
    passed = re.search(r"(\d+) passed", process.stdout)
    assert passed and int(passed.group(1)) == cells, (
        f"nbval ran {notebook} but did not pass each of its {cells} code cells (a cell tagged "
        f"nbval-skip, say): {process.stdout[-2000:]}"
    )
    verdicts = read_verdicts(executed)
    statuses = {v.task: v.status for v in verdicts}
    assert verdicts, f"{notebook}: no task checker showed a verdict"
    assert set(statuses.values()) == {NOT_DONE}, (
        f"{notebook}, untouched, got verdicts other than {NOT_DONE!r}: {statuses}"
    )
    assert len(verdicts) == _task_code_cells(executed), (
        f"{notebook}: {_task_code_cells(executed)} task code cells but {len(verdicts)} "
        f"verdicts ({sorted(statuses)}): every coding task needs a checker cell after it"
    )


def exercise_runs_untouched(notebook: str) -> Callable:
    """The test that runs the student notebook with no task solved, through nbval: no cell may
    fail, and every coding task's checker says "not done" and goes on with the reference
    answer."""

    def test_the_exercise_runs_untouched() -> None:
        check_untouched(notebook, *run_with_nbval(notebook))

    return test_the_exercise_runs_untouched
