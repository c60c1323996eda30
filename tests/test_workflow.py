"""The GitHub Actions workflow cannot run here, so this reads it: it parses, has the steps a
course's CI needs (setup with a CPU PyTorch, build --check, the unit tests, nbval over every
built notebook, the data and pip downloads cached), and every command it runs exists in the
project. The README's CI section names the workflow and its nbval command."""

from __future__ import annotations

import glob
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
import yaml

from failure_modes.course import build, cli

ROOT = build.find_root(Path(__file__).resolve().parent)
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
BUILT = sorted(
    path.relative_to(ROOT).as_posix()
    for source in build.discover_sources(ROOT)
    for path in build.output_paths(source, ROOT)
)
# Shell builtins a step may use besides the project's own commands.
BUILTINS = {"echo"}


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def _steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def _commands(workflow: dict) -> list[list[str]]:
    """Each command line of every ``run:`` step, split like the shell does."""
    lines = [line for step in _steps(workflow) for line in step.get("run", "").splitlines()]
    return [shlex.split(line, comments=True) for line in lines if line.strip()]


def _pytest_runs(workflow: dict) -> list[list[str]]:
    return [words[3:] for words in _commands(workflow) if words[:3] == ["python", "-m", "pytest"]]


def _expand(arguments: list[str]) -> list[str]:
    """The files a pytest command line names, its globs expanded like the shell does."""
    files = [
        a
        for i, a in enumerate(arguments)
        if not a.startswith("-") and (i == 0 or arguments[i - 1] != "-m")
    ]
    return sorted(path for pattern in files for path in glob.glob(pattern, root_dir=ROOT))


def test_the_workflow_is_a_github_actions_workflow(workflow):
    # YAML 1.1 reads the key "on" as True.
    triggers = workflow.get("on", workflow.get(True))
    assert {"push", "pull_request"} <= set(triggers)
    assert workflow["jobs"], "the workflow has no job"
    for name, job in workflow["jobs"].items():
        assert job["runs-on"].startswith("ubuntu"), name
        for step in job["steps"]:
            assert ("uses" in step) != ("run" in step), f"{name}: {step}"
            if "uses" in step:
                assert re.fullmatch(r"actions/[\w-]+@v\d+", step["uses"]), step["uses"]


def test_setup_runs_setup_sh_with_a_cpu_pytorch_in_a_venv(workflow):
    (job,) = workflow["jobs"].values()
    assert job["env"]["TORCH_INDEX_URL"] == "https://download.pytorch.org/whl/cpu"
    assert job["env"]["FAILURE_MODES_ENV"] == "venv"
    setup = [step for step in job["steps"] if "setup.sh" in step.get("run", "")]
    assert len(setup) == 1
    # Later steps find the environment's python on the PATH.
    assert '"$PWD/.venv/bin" >> "$GITHUB_PATH"' in setup[0]["run"]
    assert "3.11" in str([step.get("with") for step in job["steps"]])


def test_the_data_and_the_pip_downloads_are_cached_before_setup(workflow):
    steps = _steps(workflow)
    caches = [
        i for i, step in enumerate(steps) if step.get("uses", "").startswith("actions/cache@")
    ]
    setup = next(i for i, step in enumerate(steps) if "setup.sh" in step.get("run", ""))
    assert sorted(steps[i]["with"]["path"] for i in caches) == ["data", "~/.cache/pip"]
    assert max(caches) < setup, "caches are restored before setup.sh runs"


def test_every_command_exists_in_the_project(workflow, monkeypatch):
    # The command line's handlers are stubbed: argparse checks the command, nothing runs.
    parsed = []
    for name in ("_prepare", "_build", "_run", "_train_reference"):
        monkeypatch.setattr(cli, name, lambda args: parsed.append(vars(args).copy()) or 0)
    for words in _commands(workflow):
        if words[0] in BUILTINS:
            continue
        if words[0] == "bash":
            assert (ROOT / words[1]).is_file(), f"{words}: no file {words[1]}"
            continue
        assert words[:2] == ["python", "-m"], f"{words}: not a project command"
        if words[2] == "failure_modes":
            assert cli.main(words[3:]) == 0, words  # argparse exits 2 on an unknown one
        else:
            assert words[2] == "pytest", f"{words}: unknown module {words[2]}"
    assert [(args["command"], args.get("check")) for args in parsed] == [("build", True)]


def test_the_unit_tests_leave_out_the_lesson_tests_and_name_registered_markers(workflow):
    markers = {
        line.split(":")[0]
        for line in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"][
            "ini_options"
        ]["markers"]
    }
    (unit,) = [args for args in _pytest_runs(workflow) if "--nbval-lax" not in args]
    expression = unit[unit.index("-m") + 1]
    assert expression == "not lesson"
    assert set(re.findall(r"\w+", expression)) - {"not", "and", "or"} <= markers
    assert _expand(unit) == [], "the unit tests run the suite's own testpaths"


def test_nbval_runs_every_built_notebook_and_collects_their_cells(workflow):
    (nbval,) = [args for args in _pytest_runs(workflow) if "--nbval-lax" in args]
    assert _expand(nbval) == BUILT  # the shell expands the globs the same way
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-o", "addopts=",
         "-p", "no:cacheprovider", *[a for a in nbval if a.startswith("-")], *BUILT],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert collected.returncode == 0, collected.stdout + collected.stderr
    for notebook in BUILT:
        assert f"{notebook}::Cell 0" in collected.stdout, notebook


def test_the_readme_names_the_workflow_and_its_nbval_command(workflow):
    readme = (ROOT / "README.md").read_text()
    assert WORKFLOW.relative_to(ROOT).as_posix() in readme
    (line,) = [
        line.strip()
        for step in _steps(workflow)
        for line in step.get("run", "").splitlines()
        if "--nbval-lax" in line
    ]
    assert line in readme, f"the README's CI section shows the workflow's nbval command: {line}"
    assert "python -m pytest --nbval-lax exercise.ipynb" in readme
