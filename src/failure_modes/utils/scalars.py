"""Checks of scalar arguments: counts, indices, seeds, fractions, bounded numbers, choices.

Shared by every public function (re-exported by :mod:`failure_modes.utils.validation`, the one
place callers import validators from). Each raises ``TypeError`` for a wrong type and
``ValueError`` for a wrong value, naming the argument, what was expected and what came.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import torch

__all__ = [
    "check_fraction",
    "check_probability",
    "check_choice",
    "check_positive_int",
    "check_index",
    "check_seed",
    "check_number",
    "check_positive",
    "check_open_unit",
    "check_grey_level",
    "check_amplitude",
]


def describe(value: object) -> str:
    """How ``value`` is named in an error message: its type, and dtype and shape for arrays."""
    if isinstance(value, torch.Tensor):
        return f"a torch.Tensor of dtype {value.dtype} and shape {tuple(value.shape)}"
    if isinstance(value, np.ndarray):
        return f"a numpy array of dtype {value.dtype} and shape {value.shape}"
    return f"{type(value).__name__} {value!r}"[:200]


def check_fraction(value: float, name: str) -> float:
    """Check that ``value`` lies in the half-open interval (0, 1]."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(f"{name} must be a number in (0, 1], got {describe(value)}.")
    if not 0 < value <= 1:
        raise ValueError(f"{name} must lie in (0, 1], got {value}.")
    return float(value)


def check_probability(value: float, name: str) -> float:
    """Check that ``value`` lies in the closed interval [0, 1]."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(f"{name} must be a number in [0, 1], got {describe(value)}.")
    if not 0 <= value <= 1:
        raise ValueError(f"{name} must lie in [0, 1], got {value}.")
    return float(value)


def check_choice(value: str, choices: Iterable[str], name: str) -> str:
    """Check that ``value`` is one of ``choices``; the message lists the known ones."""
    known = list(choices)
    if value not in known:
        raise ValueError(f"Unknown {name} {value!r}; expected one of {known}.")
    return value


def check_positive_int(value: int, name: str) -> int:
    """Check that ``value`` is an integer of at least 1."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a positive integer, got {describe(value)}.")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}.")
    return int(value)


def check_index(value: int | None, name: str, *, optional: bool = False) -> int | None:
    """Check that ``value`` is a non-negative integer (a pixel position); None if ``optional``."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        expected = "a non-negative integer" + (" or None" if optional else "")
        raise TypeError(f"{name} must be {expected}, got {describe(value)}.")
    if value < 0:
        raise ValueError(f"{name} must be non-negative, got {value}.")
    return int(value)


SEED_RANGE = (-(2**63), 2**64 - 1)
"""The seeds ``torch.manual_seed`` takes: a signed or an unsigned 64-bit integer."""


def check_seed(
    value: int | None, name: str = "seed", *, optional: bool = False, unsigned32: bool = False
) -> int | None:
    """Check that ``value`` is a whole number usable as a random seed (negatives included).

    Floats are refused rather than truncated: ``2.5`` and ``2`` would silently give the same run.
    ``None`` is refused unless ``optional`` (a function whose seed may be None documents what
    None means). Seeds outside :data:`SEED_RANGE` (torch's 64 bits) are a ``ValueError``;
    ``unsigned32=True`` narrows the range to 0..2**32 - 1 (scikit-learn's ``random_state``).
    """
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        expected = "an int" + (" or None" if optional else "")
        raise TypeError(
            f"{name} must be {expected}, got {describe(value)}; pass a whole number such as 0."
        )
    low, high = (0, 2**32 - 1) if unsigned32 else SEED_RANGE
    if not low <= value <= high:
        bounds = "0..2**32 - 1" if unsigned32 else "-2**63..2**64 - 1 (torch's 64-bit seeds)"
        raise ValueError(
            f"{name} must lie in {bounds}, got {value}; pass a smaller whole number, e.g. "
            f"{name} % 2**32."
        )
    return int(value)


def check_number(
    value: float, name: str, *, low: float = -math.inf, high: float = math.inf
) -> float:
    """Check that ``value`` is a real number in the closed interval [``low``, ``high``]."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {describe(value)}.")
    if math.isnan(value):
        raise ValueError(f"{name} must be a number, got NaN.")
    if not low <= value <= high:
        raise ValueError(f"{name} must lie in [{low}, {high}], got {value}.")
    return float(value)


def check_positive(value: float, name: str) -> float:
    """Check that ``value`` is a finite number above 0 (a learning rate, a step size)."""
    value = check_number(value, name)
    if not 0 < value < math.inf:
        raise ValueError(f"{name} must be a positive finite number, got {value}.")
    return value


def check_open_unit(value: float, name: str) -> float:
    """Check that ``value`` lies strictly between 0 and 1 and return it as a float.

    Thresholds of exactly 0 or 1 would make every label buggy or none, so both ends are out.
    """
    value = check_number(value, name)
    if not 0 < value < 1:
        raise ValueError(f"{name} must lie strictly between 0 and 1, got {value}.")
    return value


def check_grey_level(value: int, name: str = "value") -> int:
    """Check that ``value`` is an integer grey level in 0..255 (the colour an artifact paints)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer in 0..255, got {value!r}.")
    if not 0 <= value <= 255:
        raise ValueError(f"{name} must be an integer in 0..255, got {value!r}.")
    return int(value)


def check_amplitude(amplitude: float, name: str = "amplitude") -> float:
    """Check that ``amplitude`` (grey levels an artifact adds) lies in (0, 255]."""
    amplitude = check_number(amplitude, name)
    if not 0 < amplitude <= 255:
        raise ValueError(f"{name} must lie in (0, 255], got {amplitude}.")
    return amplitude
