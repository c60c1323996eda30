"""Checks of non-numeric arguments: paths, flags, types, callables, binary streams.

Re-exported by :mod:`failure_modes.utils.validation`, the one place callers import validators
from; the same rules: ``TypeError`` for a wrong type, ``ValueError`` for a wrong value, each
message naming the argument, what was expected, what came, and how to fix it.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from failure_modes.utils.scalars import describe

__all__ = [
    "MissingPathError",
    "check_path",
    "check_flag",
    "check_instance",
    "check_callable",
    "check_binary_stream",
]

_KINDS = {"file": Path.is_file, "folder": Path.is_dir, "any": Path.exists}


class MissingPathError(FileNotFoundError, ValueError):
    """A path argument names nothing on disk.

    A ``FileNotFoundError`` for callers that catch those, and a ``ValueError`` (a wrong value
    of an argument) like every other refusal of a bad argument.
    """


def check_path(
    path: object, name: str = "path", *, exists: bool = False, kind: str = "file"
) -> Path:
    """``path`` as a ``Path``: a non-empty str or os.PathLike, existing as a ``kind`` if asked.

    Parameters
    ----------
    path : object
        The argument to check.
    name : str
        The argument's name, for messages.
    exists : bool, default False
        Require that it exists (a file to read, a folder to look in); False for a destination.
    kind : {"file", "folder", "any"}, default "file"
        What must exist there when ``exists`` is True.

    Returns
    -------
    pathlib.Path
        ``Path(path)``.

    Raises
    ------
    TypeError
        If ``path`` is neither a str nor os.PathLike (``None``, a number, bytes).
    ValueError
        If it is the empty string (which would mean the current folder in silence).
    MissingPathError
        If ``exists`` and there is no ``kind`` at ``path`` (a ``FileNotFoundError`` and a
        ``ValueError``).
    """
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {list(_KINDS)}, got {kind!r}.")
    if not isinstance(path, (str, os.PathLike)) or isinstance(os.fspath(path), bytes):
        raise TypeError(
            f"{name} must be a path (str or os.PathLike such as pathlib.Path), got "
            f"{describe(path)}."
        )
    if os.fspath(path) == "":
        raise ValueError(f"{name} is the empty string; pass the file or folder it should name.")
    result = Path(path)
    if exists and not _KINDS[kind](result):
        what = "an existing " + {"any": "file or folder"}.get(kind, kind)
        found = "a folder" if result.is_dir() else "a file" if result.exists() else "nothing"
        raise MissingPathError(
            f"{name} must be {what}, got {str(result)!r}, where there is {found}; "
            "check the spelling and the current folder, or create it first."
        )
    return result


def check_flag(value: object, name: str) -> bool:
    """``value`` as a bool; anything but True/False (``None``, ``"yes"``, 1) is a ``TypeError``.

    A string is always truthy, so ``"no"`` would silently mean True.
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {describe(value)}.")
    return bool(value)


def check_instance(value: object, kind: type | tuple[type, ...], name: str, what: str) -> object:
    """Raise ``TypeError`` unless ``value`` is an instance of ``kind`` (``what`` in words)."""
    if not isinstance(value, kind):
        raise TypeError(f"{name} must be {what}, got {describe(value)}.")
    return value


def check_callable(value: object, name: str, what: str) -> object:
    """Raise ``TypeError`` unless ``value`` can be called (``what`` says what it must do)."""
    if not callable(value):
        raise TypeError(f"{name} must be {what}, got {describe(value)}.")
    return value


def check_binary_stream(value: object, name: str = "source") -> object:
    """Raise ``TypeError`` unless ``value`` is an open binary stream (has ``read``, not text)."""
    if isinstance(value, io.TextIOBase) or not callable(getattr(value, "read", None)):
        raise TypeError(
            f"{name} must be an open binary stream (open(path, 'rb'), gzip.open, io.BytesIO), "
            f"got {describe(value)}; open text files with 'rb' and wrap bytes in io.BytesIO."
        )
    return value
