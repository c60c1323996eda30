"""The conda spec and pyproject name the same dependencies with the same lower bounds."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib

REPO = Path(__file__).resolve().parents[1]
# conda-forge names that differ from PyPI's.
CONDA_TO_PYPI = {"pytorch": "torch"}
NOT_DEPENDENCIES = {"python", "pip"}


def _split(requirement: str) -> tuple[str, str]:
    match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*", requirement)
    assert match, f"cannot parse requirement {requirement!r}"
    return match.group(1).lower(), match.group(2).replace(" ", "")


def _pyproject() -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + project["optional-dependencies"]["dev"]
    return dict(_split(r) for r in requirements)


def _environment() -> dict[str, str]:
    text = (REPO / "environment.yml").read_text().split("dependencies:", 1)[1]
    entries = re.findall(r"^  - ([^\s#:][^#\n]*?)\s*$", text, re.M)
    found = {}
    for entry in entries:
        name, spec = _split(
            entry.replace("=", "==", 1) if re.match(r"^[\w.-]+=\d", entry) else entry
        )
        name = CONDA_TO_PYPI.get(name, name)
        if name not in NOT_DEPENDENCIES:
            found[name] = spec
    return found


def test_environment_yml_mirrors_pyproject():
    pyproject, environment = _pyproject(), _environment()
    assert set(environment) == set(pyproject), (
        f"only in environment.yml: {sorted(set(environment) - set(pyproject))}; "
        f"only in pyproject.toml: {sorted(set(pyproject) - set(environment))}"
    )
    drift = {n: (pyproject[n], environment[n]) for n in pyproject if pyproject[n] != environment[n]}
    assert not drift, f"version bounds differ (pyproject, environment.yml): {drift}"


def test_readme_test_command_is_what_ci_runs():
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    command = re.search(r"```bash\n(source setup\.sh && python -m pytest[^\n]*)\n```", readme)
    assert command, "README must show the test command in a ```bash block"
    assert command.group(1).strip() in ci
