"""The untouched exercises run through nbval, the command a course's CI runs (README, "Tests and
CI"): the harness keeps the outputs nbval saw, passes an exercise whose checkers all say "not
done", and fails, naming the cause, on an error cell or on a checker that says anything else."""

from __future__ import annotations

import subprocess
from dataclasses import asdict
from pathlib import Path

import lesson_harness
import nbformat
import pytest

from failure_modes.course.build import TASK_TAG
from failure_modes.course.checks.feedback import CORRECT, MIME_TYPE, NOT_DONE, Verdict

pytestmark = pytest.mark.notebook

CHECKER = (
    "from failure_modes.course.checks.feedback import check\n"
    "answer = check('1.1', answer, lambda a: None if a == 3 else 'not 3.', 3)\n"
    "assert answer == 3"
)


def _notebook(path: Path, *cells: str, task: str | None = None) -> Path:
    notebook = nbformat.v4.new_notebook()
    if task is not None:
        notebook.cells.append(nbformat.v4.new_code_cell(task, metadata={"tags": [TASK_TAG]}))
    notebook.cells += [nbformat.v4.new_code_cell(source) for source in cells]
    nbformat.write(notebook, path)
    return path


def _ran(stdout: str) -> subprocess.CompletedProcess:
    return subprocess.CompletedProcess(["nbval"], 0, stdout, "")


def test_an_untouched_exercise_passes_and_nbval_keeps_what_each_cell_showed(tmp_path):
    path = _notebook(tmp_path / "exercise.ipynb", CHECKER, "print('the end')", task="answer = ...")
    process, executed = lesson_harness.run_with_nbval(path)
    assert "3 passed" in process.stdout, process.stdout
    assert executed.cells[1].outputs[0]["data"][MIME_TYPE]["status"] == NOT_DONE
    assert executed.cells[2].outputs[0]["text"] == "the end\n"
    lesson_harness.check_untouched(str(path), process, executed)


def test_an_error_cell_fails_with_nbval_s_traceback_and_stops_the_run(tmp_path):
    path = _notebook(tmp_path / "exercise.ipynb", "x = 1", "x / 0", "print('never')")
    process, executed = lesson_harness.run_with_nbval(path)
    assert process.returncode == 1
    assert [len(cell.outputs) for cell in executed.cells] == [0, 1, 0]
    with pytest.raises(AssertionError, match=r"nbval failed(?s:.*)Cell 1(?s:.*)ZeroDivisionError"):
        lesson_harness.check_untouched(str(path), process, executed)


def test_a_checker_that_is_not_not_done_fails(tmp_path):
    executed = nbformat.read(
        _notebook(tmp_path / "exercise.ipynb", CHECKER, task="answer = 3"), as_version=4
    )
    verdict = asdict(Verdict("1.1", CORRECT, "correct."))
    executed.cells[1].outputs = [nbformat.v4.new_output("display_data", {MIME_TYPE: verdict})]
    with pytest.raises(AssertionError, match=r"verdicts other than 'not done'.*'correct'"):
        lesson_harness.check_untouched("exercise.ipynb", _ran("2 passed in 1.00s"), executed)


def test_a_task_without_a_checker_fails(tmp_path):
    executed = nbformat.read(_notebook(tmp_path / "e.ipynb", "x = 1", task="y = ..."), as_version=4)
    with pytest.raises(AssertionError, match="no task checker showed a verdict"):
        lesson_harness.check_untouched("e.ipynb", _ran("2 passed in 1.00s"), executed)


def test_a_cell_nbval_skipped_fails(tmp_path):
    path = _notebook(tmp_path / "exercise.ipynb", CHECKER, "# NBVAL_SKIP", task="answer = ...")
    executed = nbformat.read(path, as_version=4)
    with pytest.raises(AssertionError, match="did not pass each of its 3 code cells"):
        lesson_harness.check_untouched("exercise.ipynb", _ran("2 passed, 1 skipped"), executed)
