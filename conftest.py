"""Repository-level pytest setup: one thread per worker."""

from __future__ import annotations

import os

# pytest runs two workers (see pyproject); one thread each keeps them from fighting over the two
# cores. Set before torch is imported; the notebook kernels the lesson tests start inherit it.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
