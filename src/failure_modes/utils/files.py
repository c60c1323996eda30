"""Files written whole or not at all, and their SHA-256 digests.

Every file the package writes (raw data, provenance, checkpoints, built notebooks, reports) goes
through :func:`atomic_write`: a reader sees the old file or the new one, never half of one, and
an interrupted write leaves no stray temporary file behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from failure_modes.utils.validation import (
    check_binary_stream,
    check_callable,
    check_instance,
    check_path,
)

__all__ = ["atomic_write", "copy_atomic", "sha256_file", "write_json_atomic", "write_text_atomic"]


def atomic_write(path: str | os.PathLike, write: Callable[[Path], Any]) -> Path:
    """Create ``path`` by calling ``write(temporary)`` and moving the result over ``path``.

    Parameters
    ----------
    path : path-like
        Destination; its folder is created when missing.
    write : callable
        Called with a temporary path in the same folder; it writes the whole content there.

    Returns
    -------
    Path
        ``path``. An existing file keeps its permission bits; a new one is readable by all.
    """
    path = check_path(path, "path")
    check_callable(write, "write", "a function that writes the whole file at the path it is given")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        write(Path(temporary))
        # mkstemp makes the file private (0600); data and notebooks must stay readable by all.
        os.chmod(temporary, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` (``\\n`` line endings) to ``path`` atomically."""
    check_instance(text, str, "text", "a str (it is written as UTF-8)")

    def write(temporary: Path) -> None:
        with open(temporary, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)

    return atomic_write(path, write)


def write_json_atomic(path: str | os.PathLike, record: Any) -> Path:
    """Write ``record`` as indented, key-sorted JSON to ``path`` atomically.

    Raises
    ------
    TypeError
        If ``record`` holds something JSON cannot store (a tensor, a set, an object); convert
        it first (``.tolist()``, ``float(...)``).
    """
    try:
        text = json.dumps(record, indent=2, sort_keys=True) + "\n"
    except TypeError as error:
        raise TypeError(
            f"record must be JSON-serialisable (dicts, lists, str, numbers, bools, None): "
            f"{error}; convert tensors with .tolist() and numbers with float(...)."
        ) from error
    return write_text_atomic(path, text)


def copy_atomic(source: BinaryIO, path: str | os.PathLike) -> Path:
    """Copy an open binary stream (a file, a gzip stream) to ``path`` atomically."""
    check_binary_stream(source, "source")

    def write(temporary: Path) -> None:
        with open(temporary, "wb") as out:
            shutil.copyfileobj(source, out, 1 << 20)

    return atomic_write(path, write)


def sha256_file(path: str | os.PathLike) -> str:
    """SHA-256 hex digest of a file's bytes, read in 1 MiB blocks."""
    path = check_path(path, "path", exists=True)
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
