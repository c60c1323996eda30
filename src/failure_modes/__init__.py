"""failure-modes: how deep networks fail, and how to catch them at it."""

__version__ = "0.1.0"
