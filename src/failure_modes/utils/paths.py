"""Where things are: the source checkout the package runs from, if any."""

from __future__ import annotations

from pathlib import Path

from failure_modes.utils.validation import check_path

__all__ = ["PACKAGE_DIR", "checkout_root", "find_root"]

PACKAGE_DIR = Path(__file__).resolve().parents[1]


def checkout_root() -> Path | None:
    """The repository folder when the package runs from a source checkout (``src/`` layout,
    editable install), else None (an installed wheel)."""
    folder = PACKAGE_DIR.parents[1]
    return folder if (folder / "pyproject.toml").is_file() else None


def find_root(start: Path | None = None) -> Path:
    """Return the repository root: the nearest folder holding ``pyproject.toml`` and ``notebooks/``.

    Parameters
    ----------
    start : Path or None
        An existing folder to search upwards from; the current working directory when None.
        The folders above this module (an editable install) are tried next.

    Returns
    -------
    Path
        The repository root.

    Raises
    ------
    TypeError
        If ``start`` is neither None nor a path.
    FileNotFoundError
        When no such folder exists above ``start`` nor above the package, or ``start`` is
        not an existing folder (:class:`~failure_modes.utils.arguments.MissingPathError`).
    """
    here = Path.cwd() if start is None else check_path(start, "start", exists=True, kind="folder")
    candidates = [here.resolve(), *here.resolve().parents, *PACKAGE_DIR.parents]
    for folder in candidates:
        if (folder / "pyproject.toml").is_file() and (folder / "notebooks").is_dir():
            return folder
    raise FileNotFoundError(
        f"no repository root (a folder with pyproject.toml and notebooks/) above {here}; "
        "run the command from inside the failure-modes checkout or pass root explicitly"
    )
