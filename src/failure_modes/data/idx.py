"""Read and write IDX files, the format MNIST-like datasets ship in (uint8 payloads only).

An IDX file is a 4-byte magic number ``0x00 0x00 <dtype> <ndim>``, then ``ndim`` big-endian
uint32 dimensions, then the payload in C order. ``0x08`` is the unsigned-byte dtype, the only
one MNIST and FashionMNIST use, so it is the only one supported here.
"""

from __future__ import annotations

import math
import os
import struct
from pathlib import Path

import numpy as np

from failure_modes.utils.files import atomic_write
from failure_modes.utils.validation import check_index, check_not_none, check_path

__all__ = ["write_idx", "read_idx", "read_idx_shape", "idx_nbytes"]

_UINT8 = 0x08


def idx_nbytes(shape: tuple[int, ...]) -> int:
    """Size in bytes of a uint8 IDX file holding an array of ``shape``.

    Parameters
    ----------
    shape : tuple of int
        Dimensions of the array.

    Returns
    -------
    int
        Header (4 + 4 * ndim bytes) plus payload (product of the dimensions).
    """
    check_not_none(shape, "shape", "a tuple of non-negative ints")
    dims = [check_index(size, "shape") for size in shape]
    return 4 + 4 * len(dims) + math.prod(dims)


def write_idx(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write a uint8 array as an IDX file, atomically (temporary file, then rename).

    Parameters
    ----------
    path : str or os.PathLike
        Destination; its folder is created when missing (like every atomic write here).
    array : numpy.ndarray or torch.Tensor
        uint8 values of any number of dimensions (each below 2**32).

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    TypeError
        If ``array`` is not uint8, or ``path`` is not a str or os.PathLike.
    ValueError
        If it has more than 255 dimensions or a dimension of 2**32 or more.
    """
    path = check_path(path, "path")
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise TypeError(
            f"array must have dtype uint8 to be written as IDX, got dtype {array.dtype} "
            f"and shape {array.shape}. Convert it first, e.g. array.astype(np.uint8)."
        )
    if array.ndim > 255 or any(d >= 2**32 for d in array.shape):
        raise ValueError(f"array shape {array.shape} does not fit an IDX header.")
    header = bytes([0, 0, _UINT8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)

    def write(temporary: Path) -> None:
        with open(temporary, "wb") as handle:
            handle.write(header)
            handle.write(np.ascontiguousarray(array).tobytes())
            handle.flush()
            os.fsync(handle.fileno())

    return atomic_write(path, write)


def _parse_header(path: Path, head: bytes) -> tuple[int, ...]:
    if len(head) < 4 or head[0] != 0 or head[1] != 0:
        raise ValueError(f"{path} is not an IDX file: bad magic number {head[:4].hex()!r}.")
    if head[2] != _UINT8:
        raise ValueError(
            f"{path} holds IDX dtype code 0x{head[2]:02x}; only uint8 (0x08) is supported."
        )
    ndim = head[3]
    if len(head) < 4 + 4 * ndim:
        raise ValueError(f"{path} is truncated inside its IDX header ({len(head)} bytes).")
    return struct.unpack(f">{ndim}I", head[4 : 4 + 4 * ndim])


def read_idx_shape(path: str | os.PathLike) -> tuple[int, ...]:
    """Read only the header of an IDX file and return the array shape it announces.

    Parameters
    ----------
    path : str or os.PathLike
        The IDX file.

    Returns
    -------
    tuple of int
        The dimensions in the header (the payload is not read or checked).

    Raises
    ------
    TypeError
        If ``path`` is not a str or os.PathLike.
    ValueError
        If the header is not a uint8 IDX header, or there is no file at ``path``
        (:class:`~failure_modes.utils.arguments.MissingPathError`, also a ``FileNotFoundError``).
    """
    path = check_path(path, "path", exists=True)
    with open(path, "rb") as handle:
        head = handle.read(4)
        if len(head) == 4:
            head += handle.read(4 * head[3])
    return _parse_header(path, head)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read a uint8 IDX file into a numpy array, checking the payload against the header.

    Parameters
    ----------
    path : str or os.PathLike
        The IDX file (uncompressed).

    Returns
    -------
    numpy.ndarray
        uint8 array of the shape in the header.

    Raises
    ------
    TypeError
        If ``path`` is not a str or os.PathLike.
    ValueError
        If the magic number or dtype is wrong, or the payload size differs from the header's
        (a truncated or padded file); the message names the file. Also when there is no file
        at ``path`` (:class:`~failure_modes.utils.arguments.MissingPathError`, also a
        ``FileNotFoundError``).
    """
    path = check_path(path, "path", exists=True)
    raw = path.read_bytes()
    shape = _parse_header(path, raw)
    expected = idx_nbytes(shape)
    if len(raw) != expected:
        raise ValueError(
            f"{path} is damaged: its IDX header announces shape {shape} ({expected} bytes) "
            f"but the file has {len(raw)} bytes."
        )
    offset = 4 + 4 * len(shape)
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(shape).copy()
