"""The committed notebooks are exactly what their sources build, and students see no solutions."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from failure_modes.course import build

pytestmark = pytest.mark.notebook

ROOT = build.find_root(Path(__file__).resolve().parent)
SOURCES = build.discover_sources(ROOT)
REBUILD = "run `python -m failure_modes build` and commit the result"


def test_the_repository_has_notebook_sources():
    assert SOURCES, f"no notebook sources in {ROOT / build.SOURCE_DIR}"
    assert (ROOT / build.SOURCE_DIR / "core.py") in SOURCES


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_built_pair_matches_a_fresh_build(source: Path):
    built = build.build_pair(source)
    for nb, path in zip(built, build.output_paths(source, ROOT), strict=True):
        assert path.is_file(), f"{path} is missing; {REBUILD}"
        assert path.read_text(encoding="utf-8") == build.render(nb), (
            f"{path} differs from a fresh build of {source.name}; {REBUILD}"
        )


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_student_notebook_has_no_solution_material(source: Path):
    exercise, _ = build.output_paths(source, ROOT)
    assert build.find_solution_leaks(exercise, source) == []


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_solution_notebook_has_no_task_cells(source: Path):
    _, solution = build.output_paths(source, ROOT)
    nb = nbformat.read(solution, as_version=4)
    assert all(build.TASK_TAG not in cell.metadata.get("tags", []) for cell in nb.cells)


def test_build_check_reports_nothing_stale():
    assert build.build_all(ROOT, check=True) == []


def test_every_built_notebook_has_a_source():
    expected = {path for source in SOURCES for path in build.output_paths(source, ROOT)}
    committed = {
        path
        for pattern in ("*.ipynb", "advanced/*/*.ipynb")
        for path in ROOT.glob(pattern)
        if path.name in (build.EXERCISE_NAME, build.SOLUTION_NAME)
    }
    orphans = sorted(str(p.relative_to(ROOT)) for p in committed - expected)
    assert not orphans, f"built notebooks without a source in {build.SOURCE_DIR}/: {orphans}"
