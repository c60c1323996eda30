"""Repository-level pytest hooks: nbval executes only the solution notebooks."""

from __future__ import annotations

import os
from pathlib import Path

# pytest runs two workers (see pyproject); one thread each keeps them from fighting over the two
# cores. Set before torch is imported; nbval's kernels inherit it.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")


def pytest_ignore_collect(collection_path: Path, config) -> bool | None:
    # Student notebooks contain unfinished tasks by design; CI executes the solutions.
    if collection_path.suffix == ".ipynb" and collection_path.name != "solution.ipynb":
        return True
    return None
