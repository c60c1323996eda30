"""Execute a built notebook headless and keep the executed copy and an HTML copy.

The executed notebook and its HTML rendering go under ``reports/``, mirroring the notebook's
path inside the repository: ``advanced/clever_hans/solution.ipynb`` is reported as
``reports/advanced/clever_hans/solution.ipynb`` and ``.html``.

Examples
--------
>>> from failure_modes.course.runner import run_notebook
>>> run_notebook(Path("solution.ipynb"))     # doctest: +SKIP
executed solution.ipynb in 93.4 s (kernel failure-modes) -> reports/solution.ipynb, .html
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import nbformat
import papermill
from jupyter_client.kernelspec import KernelSpecManager
from nbconvert import HTMLExporter

from failure_modes.utils.files import write_text_atomic
from failure_modes.utils.paths import find_root
from failure_modes.utils.validation import check_positive_int

KERNELSPEC = {
    "name": "failure-modes",
    "display_name": "Python (failure-modes)",
    "language": "python",
}

REPORTS_DIR = "reports"
# The kernel that runs this very Python: ipykernel answers to it from any environment.
FALLBACK_KERNEL = "python3"


def pick_kernel() -> str:
    """Return the kernel that should execute the notebooks.

    Returns
    -------
    str
        ``failure-modes`` when that kernel is registered (``setup.sh`` registers it), else
        ``python3``, which runs in the current Python environment.
    """
    available = KernelSpecManager().find_kernel_specs()
    return KERNELSPEC["name"] if KERNELSPEC["name"] in available else FALLBACK_KERNEL


def report_paths(path: Path, out_dir: Path, root: Path | None = None) -> tuple[Path, Path]:
    """Return where the executed copy and the HTML copy of a notebook are written.

    Parameters
    ----------
    path : Path
        The notebook that is executed.
    out_dir : Path
        The reports folder.
    root : Path or None
        Repository root the notebook's path is mirrored from; when None, or when the notebook
        lies outside it, only the file name is kept.

    Returns
    -------
    tuple of Path
        ``(executed .ipynb, .html)`` under ``out_dir``.
    """
    path = Path(path).resolve()
    relative = Path(path.name)
    if root is not None and path.is_relative_to(Path(root).resolve()):
        relative = path.relative_to(Path(root).resolve())
    executed = Path(out_dir) / relative
    return executed, executed.with_suffix(".html")


def execute(
    path: str | Path,
    *,
    parameters: Mapping[str, Any] | None = None,
    output_path: str | Path | None = None,
    kernel_name: str | None = None,
    timeout: int | None = 900,
) -> nbformat.NotebookNode:
    """Execute a notebook with papermill, its ``parameters`` cell overridden, in its own folder.

    Parameters
    ----------
    path : path-like
        The ``.ipynb`` file; it is not modified.
    parameters : mapping or None
        Values injected after the cell tagged ``parameters`` (papermill's convention), e.g.
        ``{"SEED": 1}``.
    output_path : path-like or None
        Where papermill writes the executed notebook, also when a cell fails (with an error
        banner at its top); nothing is written when None.
    kernel_name : str or None
        Kernel to use; :func:`pick_kernel` decides when None.
    timeout : int or None
        Seconds one cell may run; None for no limit.

    Returns
    -------
    nbformat.NotebookNode
        The executed notebook, outputs included.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    papermill.PapermillExecutionError
        When a cell raises.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"path: notebook {path} does not exist; build it with `python -m failure_modes build`"
        )
    if timeout is not None:
        timeout = check_positive_int(timeout, "timeout")
    return papermill.execute_notebook(
        str(path),
        None if output_path is None else str(output_path),
        parameters=dict(parameters or {}),
        kernel_name=kernel_name or pick_kernel(),
        language="python",
        cwd=str(path.parent.resolve()),
        progress_bar=False,
        request_save_on_cell_execute=False,
        execution_timeout=timeout,
    )


def run_notebook(
    path: Path,
    *,
    out_dir: Path | None = None,
    timeout: int = 900,
    kernel_name: str | None = None,
    parameters: Mapping[str, Any] | None = None,
) -> Path:
    """Execute a notebook headless and write the executed notebook and an HTML copy.

    The notebook runs with its own folder as the working directory, so relative paths inside
    it resolve as they do when a student opens it. When a cell fails, the partly executed
    notebook and its HTML are still written (the traceback is in them, and papermill's banner
    at the top says where it stopped) before the error is raised again.

    Parameters
    ----------
    path : Path
        The ``.ipynb`` file to execute; it is not modified.
    out_dir : Path or None
        Reports folder; ``<repository root>/reports`` when None.
    timeout : int
        Seconds one cell may run before execution is abandoned.
    kernel_name : str or None
        Kernel to use; :func:`pick_kernel` decides when None.
    parameters : mapping or None
        Values for the notebook's ``parameters`` cell (see :func:`execute`).

    Returns
    -------
    Path
        The executed notebook; the HTML copy lies beside it with the suffix ``.html``.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    papermill.PapermillExecutionError
        When a cell raises; the reports are written first.
    """
    path = Path(path)
    root = _root_or_none(path.parent)
    if out_dir is None:
        out_dir = (root if root is not None else Path.cwd()) / REPORTS_DIR
    executed_path, html_path = report_paths(path, out_dir, root)
    kernel = kernel_name or pick_kernel()
    partial = executed_path.with_name(f".{executed_path.stem}.partial.ipynb")
    partial.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    try:
        nb = execute(
            path, parameters=parameters, output_path=partial, kernel_name=kernel, timeout=timeout
        )
    except papermill.PapermillExecutionError:
        if partial.is_file():
            _write_reports(nbformat.read(partial, as_version=4), executed_path, html_path)
        print(f"FAILED {path} after {time.perf_counter() - start:.1f} s; see {html_path}")
        raise
    finally:
        partial.unlink(missing_ok=True)
    wall = time.perf_counter() - start
    _write_reports(nb, executed_path, html_path)
    print(f"executed {path} in {wall:.1f} s (kernel {kernel}) -> {executed_path}, {html_path}")
    return executed_path


def _root_or_none(folder: Path) -> Path | None:
    try:
        return find_root(folder)
    except FileNotFoundError:
        return None


def _write_reports(nb: nbformat.NotebookNode, executed_path: Path, html_path: Path) -> None:
    write_text_atomic(executed_path, nbformat.writes(nb, version=4) + "\n")
    body, _ = HTMLExporter().from_notebook_node(nb)
    write_text_atomic(html_path, body)
