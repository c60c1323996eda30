"""Every notebook is a lesson the tests run: a parameters cell with SEED, a lesson module that
executes its solution through the harness and closes with the recorded-numbers check.

An instructor who adds ``notebooks/NAME.py`` gets these checks without writing any harness.
"""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

from failure_modes.course import build

ROOT = build.find_root(Path(__file__).resolve().parent)
SOURCES = build.discover_sources(ROOT)
LESSON_MODULES = sorted((ROOT / "tests").glob("test_lessons*.py"))


def _solution(source: Path) -> str:
    return build.output_paths(source, ROOT)[1].relative_to(ROOT).as_posix()


def _harness_calls(module: Path) -> dict[str, set[str]]:
    """Notebook paths passed to ``lesson_fixture`` / ``every_record_asserted`` in a module,
    given as a string or as a module-level string constant."""
    tree = ast.parse(module.read_text())
    constants = {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    calls: dict[str, set[str]] = {
        "lesson_fixture": set(),
        "every_record_asserted": set(),
        "exercise_runs_untouched": set(),
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in calls and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant):
                calls[node.func.id].add(first.value)
            elif isinstance(first, ast.Name) and first.id in constants:
                calls[node.func.id].add(constants[first.id])
    return calls


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_the_notebook_has_a_parameters_cell_with_a_seed(source):
    _, solution = build.output_paths(source, ROOT)
    cells = nbformat.read(solution, as_version=4).cells
    tagged = [c for c in cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, (
        f"{source.name}: expected one cell tagged parameters, got {len(tagged)}"
    )
    assigned = {
        target.id
        for node in ast.parse(tagged[0].source).body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    assert "SEED" in assigned, (
        f"{source.name}: the parameters cell sets {sorted(assigned)}, no SEED"
    )


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_a_lesson_module_runs_the_solution_and_checks_every_record(source):
    solution = _solution(source)
    runs = [m.name for m in LESSON_MODULES if solution in _harness_calls(m)["lesson_fixture"]]
    closes = [
        m.name for m in LESSON_MODULES if solution in _harness_calls(m)["every_record_asserted"]
    ]
    assert runs, f"no tests/test_lessons*.py calls lesson_fixture({solution!r})"
    assert closes == runs, (
        f"{runs} run {solution} but {closes} close with every_record_asserted({solution!r})"
    )


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_a_lesson_module_runs_the_exercise_untouched(source):
    exercise = build.output_paths(source, ROOT)[0].relative_to(ROOT).as_posix()
    runs = [
        m.name for m in LESSON_MODULES if exercise in _harness_calls(m)["exercise_runs_untouched"]
    ]
    assert runs, f"no tests/test_lessons*.py calls exercise_runs_untouched({exercise!r})"
