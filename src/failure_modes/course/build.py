"""Build the student and solution notebooks from their single jupytext sources.

Every notebook pair has one source, ``notebooks/<name>.py``, a jupytext percent script. The
student build (``exercise.ipynb``) drops the cells tagged ``solution``; the solution build
(``solution.ipynb``) drops the cells tagged ``task``. Both builds are deterministic: outputs and
execution counts are stripped, the notebook metadata is fixed, and every cell id is derived
from the source, so rebuilding an unchanged source changes no byte and a cell keeps its id in
both builds.

Examples
--------
>>> from failure_modes import build
>>> written = build.build_all()              # doctest: +SKIP
>>> stale = build.build_all(check=True)      # doctest: +SKIP
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import jupytext
import nbformat
from nbconvert.preprocessors import ClearOutputPreprocessor, TagRemovePreprocessor

from failure_modes.course.runner import KERNELSPEC
from failure_modes.utils.files import write_text_atomic
from failure_modes.utils.paths import find_root

SOURCE_DIR = "notebooks"
EXERCISE_NAME = "exercise.ipynb"
SOLUTION_NAME = "solution.ipynb"
SOLUTION_TAG = "solution"
TASK_TAG = "task"

# Where each source's pair goes, relative to the repository root. A source missing here goes
# to the default, advanced/<stem>/, so adding a notebook needs no code change.
OUTPUT_DIRS: dict[str, Path] = {"core": Path(".")}
DEFAULT_OUTPUT_DIR = Path("advanced")

# No version numbers: they would change the built files whenever someone upgrades Python.
LANGUAGE_INFO = {
    "name": "python",
    "codemirror_mode": {"name": "ipython", "version": 3},
    "file_extension": ".py",
    "mimetype": "text/x-python",
    "nbconvert_exporter": "python",
    "pygments_lexer": "ipython3",
}

# Cell metadata that jupytext uses only to reproduce the text layout of the script.
_JUPYTEXT_CELL_KEYS = frozenset(
    {"lines_to_next_cell", "lines_to_end_of_cell_marker", "cell_marker", "skipline", "noskipline"}
)
_CELL_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_ID_LENGTH = 12


def output_dir(source: Path) -> Path:
    """Return the folder, relative to the repository root, that receives a source's pair.

    Parameters
    ----------
    source : Path
        A notebook source such as ``notebooks/core.py``; only its stem matters.

    Returns
    -------
    Path
        ``OUTPUT_DIRS[stem]`` when the stem is listed there, else ``advanced/<stem>``.
    """
    stem = Path(source).stem
    return OUTPUT_DIRS.get(stem, DEFAULT_OUTPUT_DIR / stem)


def discover_sources(root: Path) -> list[Path]:
    """Return the notebook sources under ``root/notebooks``, sorted by name.

    Parameters
    ----------
    root : Path
        Repository root.

    Returns
    -------
    list of Path
        Every ``notebooks/*.py`` whose name does not start with an underscore.
    """
    folder = Path(root) / SOURCE_DIR
    return sorted(p for p in folder.glob("*.py") if not p.name.startswith("_"))


def output_paths(source: Path, root: Path) -> tuple[Path, Path]:
    """Return the (exercise, solution) notebook paths built from ``source``.

    Parameters
    ----------
    source : Path
        A notebook source.
    root : Path
        Repository root.

    Returns
    -------
    tuple of Path
        Absolute-or-root-relative paths of the student and the solution notebook.
    """
    folder = Path(root) / output_dir(source)
    return folder / EXERCISE_NAME, folder / SOLUTION_NAME


def read_source(source: Path) -> nbformat.NotebookNode:
    """Read a jupytext source into a normalised notebook that holds every cell.

    Cell ids are derived from the source, metadata is fixed and outputs are stripped, so the
    result depends on the text of ``source`` only.

    Parameters
    ----------
    source : Path
        A jupytext percent script.

    Returns
    -------
    nbformat.NotebookNode
        The full notebook (both ``solution`` and ``task`` cells still present).

    Raises
    ------
    FileNotFoundError
        When ``source`` does not exist.
    ValueError
        When an explicit cell id (``# %% id="..."``) is invalid or used twice.
    """
    source = Path(source)
    if not source.is_file():
        raise FileNotFoundError(f"source: notebook source {source} does not exist")
    raw = jupytext.read(source, fmt="py:percent")
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": copy.deepcopy(LANGUAGE_INFO)}
    nb.cells = [_clean_cell(cell) for cell in raw.cells]
    _assign_ids(nb.cells, source)
    nb, _ = ClearOutputPreprocessor(enabled=True)(nb, {})
    return nb


def _clean_cell(cell: nbformat.NotebookNode) -> nbformat.NotebookNode:
    # Rebuild the cell from scratch: jupytext fills in random ids and layout-only metadata.
    metadata = {k: v for k, v in cell.metadata.items() if k not in _JUPYTEXT_CELL_KEYS}
    make = {
        "code": nbformat.v4.new_code_cell,
        "markdown": nbformat.v4.new_markdown_cell,
        "raw": nbformat.v4.new_raw_cell,
    }[cell.cell_type]
    return make(source=cell.source, metadata=copy.deepcopy(metadata))


def _assign_ids(cells: list[nbformat.NotebookNode], source: Path) -> None:
    # Explicit ids win; otherwise hash the content (not the position, so inserting a cell keeps
    # the others' ids) and count repeats so two identical cells still get different ids.
    seen: Counter[str] = Counter()
    used: set[str] = set()
    for index, cell in enumerate(cells):
        explicit = cell.metadata.pop("id", None)
        if explicit is not None:
            if not isinstance(explicit, str) or not _CELL_ID.match(explicit):
                raise ValueError(
                    f"source: cell {index} of {source} has id {explicit!r}; expected 1-64 "
                    "letters, digits, '-' or '_'"
                )
            cell_id = explicit
        else:
            content = f"{cell.cell_type}\0{cell.source}"
            cell_id = _hash_id(f"{content}\0{seen[content]}")
            seen[content] += 1
        if cell_id in used:
            raise ValueError(
                f"source: cell {index} of {source} repeats the cell id {cell_id!r}; "
                "give each cell a distinct id"
            )
        used.add(cell_id)
        cell.id = cell_id


def _hash_id(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:_ID_LENGTH]


def _without_tag(nb: nbformat.NotebookNode, tag: str) -> nbformat.NotebookNode:
    # TagRemovePreprocessor edits the notebook it is given; hand it a copy.
    remover = TagRemovePreprocessor(remove_cell_tags={tag}, enabled=True)
    built, _ = remover(copy.deepcopy(nb), {})
    return built


def build_pair(source: Path) -> tuple[nbformat.NotebookNode, nbformat.NotebookNode]:
    """Build the student and the solution notebook of one jupytext source in memory.

    Returns ``(exercise, solution)``: the first without ``solution`` cells, the second without
    ``task`` cells, both from :func:`read_source`.
    """
    full = read_source(source)
    return _without_tag(full, SOLUTION_TAG), _without_tag(full, TASK_TAG)


def render(nb: nbformat.NotebookNode) -> str:
    """Serialise a notebook exactly as it is written to disk.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        A version-4 notebook.

    Returns
    -------
    str
        nbformat's JSON (indent 1, sorted keys) with one trailing newline.
    """
    return nbformat.writes(nb, version=4) + "\n"


def _differs(path: Path, text: str) -> bool:
    return not path.is_file() or path.read_bytes() != text.encode("utf-8")


def _build(source: Path, targets: tuple[Path, Path], *, check: bool) -> list[Path]:
    # Only files whose bytes would change are written, so an unchanged build touches nothing.
    stale = []
    for nb, path in zip(build_pair(source), targets, strict=True):
        text = render(nb)
        if _differs(path, text):
            stale.append(path)
            if not check:
                write_text_atomic(path, text)
    return stale


def build_notebook(source: Path, exercise_path: Path, solution_path: Path) -> list[Path]:
    """Build one source into its student and solution notebook files.

    Parameters
    ----------
    source : Path
        A jupytext percent script.
    exercise_path : Path
        Where the student notebook (``solution`` cells removed) is written.
    solution_path : Path
        Where the solution notebook (``task`` cells removed) is written.

    Returns
    -------
    list of Path
        The files that changed and were rewritten (atomically); empty when both were current.
    """
    return _build(Path(source), (Path(exercise_path), Path(solution_path)), check=False)


def build_all(root: Path | None = None, *, check: bool = False) -> list[Path]:
    """Build every notebook pair of the repository.

    Parameters
    ----------
    root : Path or None
        Repository root; found with :func:`find_root` when None.
    check : bool
        When True nothing is written: the notebooks are built in memory and compared with the
        files on disk.

    Returns
    -------
    list of Path
        With ``check=False`` the built notebooks that changed and were rewritten; with
        ``check=True`` the built notebooks that are missing or differ from a fresh build
        (an empty list means everything is current).
    """
    root = find_root() if root is None else Path(root)
    changed: list[Path] = []
    for source in discover_sources(root):
        changed += _build(source, output_paths(source, root), check=check)
    return changed


def find_solution_leaks(
    exercise_nb: nbformat.NotebookNode | Path, source: nbformat.NotebookNode | Path
) -> list[str]:
    """List the solution material that a student notebook contains.

    Parameters
    ----------
    exercise_nb : nbformat.NotebookNode or Path
        The student notebook, or the path of its ``.ipynb`` file.
    source : nbformat.NotebookNode or Path
        The jupytext source it was built from, or that source read as a notebook.

    Returns
    -------
    list of str
        One message per leak: a cell tagged ``solution``, or a cell whose text contains the
        whole text of a solution cell of the source (whitespace-insensitive). Empty when clean.
    """
    exercise = _as_notebook(exercise_nb, reader=lambda p: nbformat.read(p, as_version=4))
    full = _as_notebook(source, reader=read_source)
    leaks = [
        f"exercise cell {i} (id {cell.get('id')}) is tagged {SOLUTION_TAG!r}"
        for i, cell in enumerate(exercise.cells)
        if SOLUTION_TAG in cell.metadata.get("tags", [])
    ]
    solutions = [
        (cell.get("id"), _squash(cell.source))
        for cell in full.cells
        if SOLUTION_TAG in cell.metadata.get("tags", []) and cell.source.strip()
    ]
    for i, cell in enumerate(exercise.cells):
        text = _squash(cell.source)
        leaks += [
            f"exercise cell {i} contains the text of solution cell {sol_id}"
            for sol_id, sol_text in solutions
            if sol_text in text
        ]
    return leaks


def _as_notebook(
    value: nbformat.NotebookNode | Path, reader: Callable[[Path], nbformat.NotebookNode]
) -> nbformat.NotebookNode:
    if isinstance(value, nbformat.NotebookNode):
        return value
    if isinstance(value, (str, Path)):
        return reader(Path(value))
    raise TypeError(f"expected a notebook or a path, got {type(value).__name__}")


def _squash(text: str) -> str:
    return " ".join(text.split())
