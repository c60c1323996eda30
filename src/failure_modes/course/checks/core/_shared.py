"""Tolerances and settings the core checkers share."""

_ATOL = 1e-5
_CAPTUM_DEFAULT_STEPS = 50
