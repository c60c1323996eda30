"""Tests of the headless notebook runner; one tiny notebook is really executed."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from notebook_factory import RECORD_IMPORT, write_notebook
from papermill import PapermillExecutionError

from failure_modes.course import build, cli, runner
from failure_modes.course.record import read_records

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (tmp_path / "notebooks").mkdir()
    shutil.copy(FIXTURES / "tiny_run.py", tmp_path / "notebooks" / "tiny_run.py")
    build.build_all(tmp_path)
    return tmp_path


def _stdout(nb: nbformat.NotebookNode) -> str:
    return "".join(
        output.get("text", "")
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )


@pytest.mark.notebook
def test_run_writes_executed_notebook_and_html(repo: Path, capfd):
    notebook = repo / "advanced" / "tiny_run" / "solution.ipynb"
    before = notebook.read_bytes()
    executed = runner.run_notebook(notebook, timeout=60)
    assert executed == repo / "reports" / "advanced" / "tiny_run" / "solution.ipynb"
    text = _stdout(nbformat.read(executed, as_version=4))
    assert "sum: 10" in text
    assert "cwd: tiny_run" in text  # the kernel runs in the notebook's own folder
    html = executed.with_suffix(".html").read_text(encoding="utf-8")
    assert "sum: 10" in html and "<html" in html
    assert notebook.read_bytes() == before
    printed = capfd.readouterr()
    assert "executed" in printed.out
    assert "without encryption" not in printed.err  # the kernel's start-up notice stays quiet


@pytest.mark.notebook
def test_failing_cell_still_writes_reports(tmp_path: Path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("raise RuntimeError('planted failure')")]
    path = tmp_path / "broken.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(PapermillExecutionError, match="planted failure"):
        runner.run_notebook(path, out_dir=tmp_path / "out", timeout=60)
    assert "planted failure" in (tmp_path / "out" / "broken.html").read_text(encoding="utf-8")


def test_missing_notebook_says_how_to_build(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="failure_modes build"):
        runner.run_notebook(tmp_path / "solution.ipynb")


@pytest.mark.parametrize("timeout", [0, -5])
def test_bad_timeout_is_rejected(repo: Path, timeout: int):
    with pytest.raises(ValueError, match="timeout"):
        runner.run_notebook(repo / "advanced" / "tiny_run" / "solution.ipynb", timeout=timeout)


def test_report_paths_mirror_the_repository(tmp_path: Path):
    notebook = tmp_path / "advanced" / "clever_hans" / "solution.ipynb"
    executed, html = runner.report_paths(notebook, tmp_path / "reports", tmp_path)
    assert executed == tmp_path / "reports" / "advanced" / "clever_hans" / "solution.ipynb"
    assert html == executed.with_suffix(".html")
    outside, _ = runner.report_paths(Path("/elsewhere/x.ipynb"), tmp_path / "reports", tmp_path)
    assert outside == tmp_path / "reports" / "x.ipynb"


def test_pick_kernel_is_bound_to_this_interpreter(monkeypatch):
    # A user-wide failure-modes kernel may point at another checkout's Python: never used.
    name = runner.pick_kernel()
    assert name.startswith("failure-modes-") and name == runner.interpreter_kernel()
    with runner._interpreter_kernels():
        spec = KernelSpecManager().get_kernel_spec(name)
    assert spec.argv[:3] == [sys.executable, "-m", "ipykernel_launcher"]


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (KeyboardInterrupt(), "INTERRUPTED"),
        (TimeoutError("cell timed out"), "TIMED OUT"),
        (RuntimeError("kernel died"), "FAILED"),
    ],
)
def test_a_failed_timed_out_or_interrupted_run_says_so_at_the_top_of_its_report(
    tmp_path, monkeypatch, error, status
):
    path = write_notebook(tmp_path / "nb.ipynb", "SEED = 0", "print(1)")
    out = tmp_path / "out"
    out.mkdir()
    (out / "nb.html").write_text("an old, complete report")

    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(runner, "execute", fail)
    with pytest.raises(type(error)):
        runner.run_notebook(path, out_dir=out, timeout=5)
    first = nbformat.read(out / "nb.ipynb", as_version=4).cells[0]
    assert first.cell_type == "markdown" and f"This run {status}" in first.source
    assert f"This run {status}" in (out / "nb.html").read_text(encoding="utf-8")


def test_cli_missing_notebook_is_one_line_exit_1_and_prepares_nothing(
    tmp_path, monkeypatch, capsys
):
    def must_not_prepare(*args, **kwargs):
        raise AssertionError("data were prepared before the arguments were checked")

    monkeypatch.setattr(cli.data, "prepare", must_not_prepare)
    code = cli.main(["run", str(tmp_path / "missing.ipynb")])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and "missing.ipynb does not exist" in err


def test_cli_errors_are_one_line_and_ctrl_c_exits_130(monkeypatch, capsys):
    def boom(*args, **kwargs):
        raise RuntimeError("first line\nsecond line")

    monkeypatch.setattr(cli.data, "prepare", boom)
    assert cli.main(["prepare"]) == 1
    assert capsys.readouterr().err == "failure-modes: error: RuntimeError: first line\n"

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli.data, "prepare", interrupt)
    assert cli.main(["prepare"]) == 130


@pytest.mark.notebook
def test_parameters_reach_the_notebook_and_records_come_back(tmp_path: Path):
    path = write_notebook(
        tmp_path / "seeded.ipynb", "SEED = 0", RECORD_IMPORT + "record('seed_squared', SEED**2)"
    )
    executed = runner.execute(path, parameters={"SEED": 3}, timeout=60)
    assert read_records(executed)["seed_squared"] == 9
    assert nbformat.read(path, as_version=4).cells[1].outputs == []  # the source is untouched


@pytest.mark.notebook
def test_a_cell_that_records_many_numbers_gains_one_output(tmp_path: Path):
    path = write_notebook(
        tmp_path / "many.ipynb",
        "SEED = 0",
        RECORD_IMPORT + "for i in range(12):\n    record(f'n{i}', i)\nprint('table')",
        "record('later', 1)\nlast = record('last', 2)",
    )
    executed = runner.execute(path, timeout=60)
    many, later = executed.cells[-2:]
    assert [output.output_type for output in many.outputs] == ["display_data", "stream"]
    assert len(later.outputs) == 1
    assert dict(read_records(executed)) == {f"n{i}": i for i in range(12)} | {"later": 1, "last": 2}


@pytest.mark.parametrize(
    ("text", "value"), [("1", 1), ("0.5", 0.5), ("[1, 2]", [1, 2]), ("cuda", "cuda"), ("'a'", "a")]
)
def test_command_line_parameters_read_as_python_values(text, value):
    assert cli.parameter_value(text) == value
