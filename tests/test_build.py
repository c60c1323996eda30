"""Tests of the notebook builder on small fixture sources in a throw-away repository."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from failure_modes.course import build
from failure_modes.utils import paths

FIXTURES = Path(__file__).parent / "fixtures"
LESSON_SOLUTION_TEXT = 'answer = sorted(values)\nprint("sorted values:", answer)'


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A minimal repository: pyproject.toml, and the lesson fixture as core and advanced source."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (tmp_path / "notebooks").mkdir()
    shutil.copy(FIXTURES / "lesson.py", tmp_path / "notebooks" / "core.py")
    shutil.copy(FIXTURES / "lesson.py", tmp_path / "notebooks" / "clever_hans.py")
    return tmp_path


def _tags(nb: nbformat.NotebookNode) -> list[list[str]]:
    return [cell.metadata.get("tags", []) for cell in nb.cells]


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def test_student_build_drops_solution_cells_and_keeps_tasks():
    exercise, _ = build.build_pair(FIXTURES / "lesson.py")
    tags = _tags(exercise)
    assert all("solution" not in t for t in tags)
    assert any("task" in t for t in tags)
    assert all(LESSON_SOLUTION_TEXT not in cell.source for cell in exercise.cells)
    assert len(exercise.cells) == 5


def test_solution_build_drops_task_cells_and_keeps_solutions():
    _, solution = build.build_pair(FIXTURES / "lesson.py")
    tags = _tags(solution)
    assert all("task" not in t for t in tags)
    assert [
        cell.source for cell in solution.cells if "solution" in cell.metadata.get("tags", [])
    ] == [LESSON_SOLUTION_TEXT]
    assert len(solution.cells) == 5


def test_built_notebooks_have_no_outputs_and_fixed_metadata():
    for nb in build.build_pair(FIXTURES / "lesson.py"):
        code = [cell for cell in nb.cells if cell.cell_type == "code"]
        assert code, "the fixture has code cells"
        assert all(cell.outputs == [] and cell.execution_count is None for cell in code)
        assert nb.metadata.kernelspec == build.KERNELSPEC
        assert nb.metadata.kernelspec["name"] == "failure-modes"
        assert set(nb.metadata) == {"kernelspec", "language_info"}
        assert "version" not in nb.metadata.language_info
        # jupytext's layout hints must not reach the built notebook
        assert all("lines_to_next_cell" not in cell.metadata for cell in nb.cells)
        nbformat.validate(nb)


def test_build_all_writes_pairs_where_the_table_says(repo: Path):
    written = build.build_all(repo)
    expected = {
        repo / "exercise.ipynb",
        repo / "solution.ipynb",
        repo / "advanced" / "clever_hans" / "exercise.ipynb",
        repo / "advanced" / "clever_hans" / "solution.ipynb",
    }
    assert set(written) == expected
    assert all(path.is_file() for path in expected)
    text = (repo / "solution.ipynb").read_text(encoding="utf-8")
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert text.startswith('{\n "cells": [\n  {')  # nbformat's indent of 1


@pytest.mark.parametrize(
    ("stem", "folder"),
    [
        ("core", Path(".")),
        ("clever_hans", Path("advanced/clever_hans")),
        ("contrastive", Path("advanced/contrastive")),
        ("error_detection", Path("advanced/error_detection")),
        ("mode_debugging", Path("advanced/mode_debugging")),
        ("brand_new", Path("advanced/brand_new")),
    ],
)
def test_output_dir_table_and_default(stem: str, folder: Path):
    assert build.output_dir(Path("notebooks") / f"{stem}.py") == folder


def test_rebuild_is_byte_identical_and_touches_nothing(repo: Path):
    build.build_all(repo)
    paths = sorted(repo.rglob("*.ipynb"))
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in paths}
    assert build.build_all(repo) == []
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in paths} == before


def test_built_files_are_readable_by_everyone(repo: Path):
    build.build_all(repo)
    assert (repo / "exercise.ipynb").stat().st_mode & 0o444 == 0o444


def test_cell_ids_shared_between_builds_and_stable(repo: Path):
    build.build_all(repo)
    exercise, solution = _read(repo / "exercise.ipynb"), _read(repo / "solution.ipynb")
    ids_ex = {cell.source: cell.id for cell in exercise.cells}
    ids_sol = {cell.source: cell.id for cell in solution.cells}
    shared = ids_ex.keys() & ids_sol.keys()
    assert len(shared) == 4
    assert all(ids_ex[source] == ids_sol[source] for source in shared)
    full = build.read_source(repo / "notebooks" / "core.py")
    assert len({cell.id for cell in full.cells}) == len(full.cells)
    assert [c.id for c in build.read_source(repo / "notebooks" / "core.py").cells] == [
        c.id for c in full.cells
    ]


def test_cell_ids_do_not_depend_on_position(tmp_path: Path):
    source = tmp_path / "moved.py"
    original = (FIXTURES / "lesson.py").read_text()
    before = build.read_source(FIXTURES / "lesson.py")
    head, _, tail = original.partition("# %% [markdown]\n# # A tiny lesson")
    source.write_text(head + "# %%\nnew = 0\n\n# %% [markdown]\n# # A tiny lesson" + tail)
    after = build.read_source(source)
    assert [c.id for c in after.cells[1:]] == [c.id for c in before.cells]


def test_explicit_and_repeated_cell_ids():
    cells = build.read_source(FIXTURES / "explicit_ids.py").cells
    assert cells[0].id == "intro-cell"
    assert "id" not in cells[0].metadata
    assert cells[1].source == cells[2].source
    assert cells[1].id != cells[2].id


def test_invalid_explicit_cell_id_is_rejected(tmp_path: Path):
    source = tmp_path / "bad.py"
    source.write_text('# %% id="has space"\nx = 1\n')
    with pytest.raises(ValueError, match="has space"):
        build.read_source(source)
    source.write_text('# %% id="twice"\nx = 1\n\n# %% id="twice"\ny = 2\n')
    with pytest.raises(ValueError, match="twice"):
        build.read_source(source)


def test_missing_source_names_the_file(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="nope.py"):
        build.build_pair(tmp_path / "nope.py")


def test_build_notebook_writes_both_paths(tmp_path: Path):
    ex, sol = tmp_path / "out" / "ex.ipynb", tmp_path / "out" / "sol.ipynb"
    assert build.build_notebook(FIXTURES / "lesson.py", ex, sol) == [ex, sol]
    assert build.build_notebook(FIXTURES / "lesson.py", ex, sol) == []
    assert not list((tmp_path / "out").glob(".*.tmp"))


def test_leak_finder_clean_build_has_no_leaks(repo: Path):
    build.build_all(repo)
    assert build.find_solution_leaks(repo / "exercise.ipynb", repo / "notebooks" / "core.py") == []


def test_leak_finder_catches_planted_solution_text(repo: Path):
    build.build_all(repo)
    exercise = _read(repo / "exercise.ipynb")
    # reformatted whitespace must not hide the leak
    planted = "# try this\n" + LESSON_SOLUTION_TEXT.replace("\n", "\n\n  ")
    exercise.cells[1].source = planted
    leaks = build.find_solution_leaks(exercise, repo / "notebooks" / "core.py")
    assert len(leaks) == 1 and "exercise cell 1" in leaks[0]


def test_leak_finder_catches_a_solution_tag(repo: Path):
    build.build_all(repo)
    exercise = _read(repo / "exercise.ipynb")
    exercise.cells[1].metadata["tags"] = ["solution"]
    leaks = build.find_solution_leaks(exercise, repo / "notebooks" / "core.py")
    assert leaks and "tagged 'solution'" in leaks[0]


def test_leak_finder_rejects_other_types():
    with pytest.raises(TypeError, match="notebook or a path"):
        build.find_solution_leaks(42, FIXTURES / "lesson.py")


def test_check_reports_drift_without_writing(repo: Path):
    build.build_all(repo)
    assert build.build_all(repo, check=True) == []
    target = repo / "advanced" / "clever_hans" / "solution.ipynb"
    edited = json.loads(target.read_text())
    edited["cells"][0]["source"] = ["edited by hand"]
    target.write_text(json.dumps(edited, indent=1) + "\n")
    drifted = target.read_bytes()
    (repo / "exercise.ipynb").unlink()
    assert set(build.build_all(repo, check=True)) == {target, repo / "exercise.ipynb"}
    assert target.read_bytes() == drifted
    assert not (repo / "exercise.ipynb").exists()


def test_check_reports_a_changed_source(repo: Path):
    build.build_all(repo)
    source = repo / "notebooks" / "core.py"
    source.write_text(source.read_text() + "\n# %%\nprint('more')\n")
    assert set(build.build_all(repo, check=True)) == {
        repo / "exercise.ipynb",
        repo / "solution.ipynb",
    }


def test_sources_starting_with_underscore_are_ignored(repo: Path):
    (repo / "notebooks" / "_helpers.py").write_text("x = 1\n")
    assert [p.name for p in build.discover_sources(repo)] == ["clever_hans.py", "core.py"]


def test_find_root_walks_up_and_fails_clearly(repo: Path, tmp_path_factory):
    (repo / "advanced").mkdir()
    assert build.find_root(repo / "advanced") == repo
    lonely = tmp_path_factory.mktemp("lonely")
    checkout = paths.PACKAGE_DIR.parents[1]
    if (checkout / build.SOURCE_DIR).is_dir():
        # an editable install falls back to the checkout around the package
        assert build.find_root(lonely) == checkout
    else:
        with pytest.raises(FileNotFoundError, match="pyproject.toml"):
            build.find_root(lonely)


_CELL_TEXT = st.text(alphabet="abcxyz019 =+()", min_size=1, max_size=20).map(str.strip).filter(bool)
_CELL = st.tuples(
    st.sampled_from(["code", "markdown"]), st.sampled_from([None, "solution", "task"]), _CELL_TEXT
)


@settings(max_examples=30, deadline=None)
@given(st.lists(_CELL, min_size=1, max_size=8))
def test_random_sources_split_cleanly(tmp_path_factory, cells):
    parts = []
    for kind, tag, text in cells:
        marker = "# %%" + (" [markdown]" if kind == "markdown" else "")
        marker += f' tags=["{tag}"]' if tag else ""
        body = "\n".join(f"# {line}" for line in text.split("\n")) if kind == "markdown" else text
        parts.append(f"{marker}\n{body}\n")
    source = tmp_path_factory.mktemp("src") / "random.py"
    source.write_text("\n".join(parts))
    full = build.read_source(source)
    exercise, solution = build.build_pair(source)
    ids = [cell.id for cell in full.cells]
    assert len(set(ids)) == len(ids) == len(cells)
    assert [c.id for c in exercise.cells] == [
        c.id for c, (_, t, _) in zip(full.cells, cells, strict=True) if t != "solution"
    ]
    assert [c.id for c in solution.cells] == [
        c.id for c, (_, t, _) in zip(full.cells, cells, strict=True) if t != "task"
    ]
    solution_texts = [" ".join(x.split()) for _, t, x in cells if t == "solution"]
    other_texts = [" ".join(x.split()) for _, t, x in cells if t != "solution"]
    overlap = any(sol in other for sol in solution_texts for other in other_texts)
    assert bool(build.find_solution_leaks(exercise, full)) == overlap
