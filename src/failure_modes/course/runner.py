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

import contextlib
import datetime as _dt
import hashlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import nbformat
import papermill
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
# Kept for callers that named it; notebooks now run with :func:`interpreter_kernel`.
FALLBACK_KERNEL = "python3"


def _kernels_home() -> Path:
    return Path(tempfile.gettempdir()) / f"failure-modes-kernels-{os.getuid()}"


def interpreter_kernel() -> str:
    """The name of a kernel bound to this very interpreter (``sys.executable``), written once.

    A user-wide ``failure-modes`` kernelspec can point at another checkout's Python (or at
    one deleted since); a kernel named after this interpreter, whose argv is
    ``sys.executable -m ipykernel_launcher``, always runs this checkout's code and data.
    """
    digest = hashlib.sha256(sys.executable.encode()).hexdigest()[:12]
    name = f"failure-modes-{digest}"
    folder = _kernels_home() / "kernels" / name
    spec = {
        # The kernel talks to us over loopback TCP; at its default log level every start
        # prints ipykernel's "running over TCP without encryption" notice, noise in a local
        # headless run. Errors still reach the terminal, and cell output is unaffected.
        "argv": [
            sys.executable,
            "-m",
            "ipykernel_launcher",
            "-f",
            "{connection_file}",
            "--IPKernelApp.log_level=ERROR",
        ],
        "display_name": f"Python ({sys.executable})",
        "language": "python",
        "metadata": {"debugger": False},
    }
    path = folder / "kernel.json"
    text = json.dumps(spec, indent=1)
    if not path.is_file() or path.read_text() != text:
        folder.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, text)
    return name


@contextlib.contextmanager
def _interpreter_kernels() -> Iterator[None]:
    # Make the interpreter-bound kernel findable by the kernel manager papermill creates.
    previous = os.environ.get("JUPYTER_PATH")
    parts = [str(_kernels_home()), *([previous] if previous else [])]
    os.environ["JUPYTER_PATH"] = os.pathsep.join(parts)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = previous


def pick_kernel() -> str:
    """Return the kernel that should execute the notebooks: one bound to this interpreter.

    Returns
    -------
    str
        The name from :func:`interpreter_kernel`; never the user-wide ``failure-modes`` kernel,
        which may belong to another checkout.
    """
    return interpreter_kernel()


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
    with _interpreter_kernels():
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
    except FileNotFoundError:
        raise
    except (Exception, KeyboardInterrupt) as error:
        status = _status(error)
        source = partial if partial.is_file() else path
        nb = nbformat.read(source, as_version=4)
        nb.cells.insert(0, _banner(status, error, time.perf_counter() - start))
        _write_reports(nb, executed_path, html_path)
        print(f"{status} {path} after {time.perf_counter() - start:.1f} s; see {html_path}")
        raise
    finally:
        partial.unlink(missing_ok=True)
    wall = time.perf_counter() - start
    _write_reports(nb, executed_path, html_path)
    print(f"executed {path} in {wall:.1f} s (kernel {kernel}) -> {executed_path}, {html_path}")
    return executed_path


def _status(error: BaseException) -> str:
    if isinstance(error, KeyboardInterrupt):
        return "INTERRUPTED"
    if isinstance(error, TimeoutError) or "timeout" in type(error).__name__.lower():
        return "TIMED OUT"
    return "FAILED"


def describe_error(error: BaseException) -> str:
    """One line saying what went wrong (a notebook's failing cell: its error and number)."""
    if isinstance(error, papermill.PapermillExecutionError):
        return f"{error.ename}: {error.evalue} (cell {error.exec_count})"
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = lines[0] if lines else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _banner(status: str, error: BaseException, seconds: float) -> nbformat.NotebookNode:
    when = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    return nbformat.v4.new_markdown_cell(
        f"**This run {status}** after {seconds:.1f} s ({when}): {describe_error(error)}. "
        "The outputs below stop where it stopped; this is not a complete run."
    )


def _root_or_none(folder: Path) -> Path | None:
    try:
        return find_root(folder)
    except FileNotFoundError:
        return None


def _write_reports(nb: nbformat.NotebookNode, executed_path: Path, html_path: Path) -> None:
    write_text_atomic(executed_path, nbformat.writes(nb, version=4) + "\n")
    body, _ = HTMLExporter().from_notebook_node(nb)
    write_text_atomic(html_path, body)
