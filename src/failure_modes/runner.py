"""Execute a built notebook headless and keep the executed copy and an HTML copy.

The executed notebook and its HTML rendering go under ``reports/``, mirroring the notebook's
path inside the repository: ``advanced/clever_hans/solution.ipynb`` is reported as
``reports/advanced/clever_hans/solution.ipynb`` and ``.html``.

Examples
--------
>>> from failure_modes.runner import run_notebook
>>> run_notebook(Path("solution.ipynb"))     # doctest: +SKIP
executed solution.ipynb in 93.4 s (kernel failure-modes) -> reports/solution.ipynb, .html
"""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from nbconvert import HTMLExporter
from nbconvert.preprocessors import CellExecutionError, ExecutePreprocessor

from failure_modes.build import KERNELSPEC, find_root, write_atomic
from failure_modes.validation import check_positive_int

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


def run_notebook(
    path: Path,
    *,
    out_dir: Path | None = None,
    timeout: int = 900,
    kernel_name: str | None = None,
) -> Path:
    """Execute a notebook headless and write the executed notebook and an HTML copy.

    The notebook runs with its own folder as the working directory, so relative paths inside
    it resolve as they do when a student opens it. When a cell fails, the partly executed
    notebook and its HTML are still written (the traceback is in them) before the error is
    raised again.

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

    Returns
    -------
    Path
        The executed notebook; the HTML copy lies beside it with the suffix ``.html``.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    nbconvert.preprocessors.CellExecutionError
        When a cell raises; the reports are written first.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"path: notebook {path} does not exist; build it with `python -m failure_modes build`"
        )
    timeout = check_positive_int(timeout, "timeout")
    root = _root_or_none(path.parent)
    if out_dir is None:
        out_dir = (root if root is not None else Path.cwd()) / REPORTS_DIR
    executed_path, html_path = report_paths(path, out_dir, root)
    kernel = kernel_name or pick_kernel()

    nb = nbformat.read(path, as_version=4)
    executor = ExecutePreprocessor(timeout=timeout, kernel_name=kernel)
    start = time.perf_counter()
    try:
        executor.preprocess(nb, {"metadata": {"path": str(path.parent.resolve())}})
    except CellExecutionError:
        _write_reports(nb, executed_path, html_path)
        print(f"FAILED {path} after {time.perf_counter() - start:.1f} s; see {html_path}")
        raise
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
    write_atomic(executed_path, nbformat.writes(nb, version=4) + "\n")
    body, _ = HTMLExporter().from_notebook_node(nb)
    write_atomic(html_path, body)
