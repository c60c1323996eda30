"""Repository-level pytest hooks: nbval executes only the solution notebooks."""

from __future__ import annotations

from pathlib import Path


def pytest_ignore_collect(collection_path: Path, config) -> bool | None:
    # Student notebooks contain unfinished tasks by design; CI executes the solutions.
    if collection_path.suffix == ".ipynb" and collection_path.name != "solution.ipynb":
        return True
    return None
