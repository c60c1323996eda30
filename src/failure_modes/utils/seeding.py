"""Seeds that make runs repeatable, without reseeding a caller's random state by surprise."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator

import numpy as np
import torch

from failure_modes.utils.validation import check_seed

__all__ = ["seed_everything", "seeded"]


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and PyTorch, and return a ``torch.Generator`` seeded the same way.

    For the top of a notebook, where reseeding the global state is the point. Build two models
    right after the same ``seed_everything(seed)`` call and they start from identical weights.
    Library code uses :func:`seeded` instead, which leaves the caller's state as it was.
    """
    seed = check_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - seeding the global state is the point
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run the block with torch's random state seeded to ``seed``, then restore it.

    ``with seeded(0): model = DenseModel()`` builds the same weights every time and leaves the
    caller's random stream where it was (:func:`torch.random.fork_rng`). Where CUDA is in use,
    its generators are seeded and restored too (a model on the GPU draws from them), so the
    same block gives the same weights there as well.
    """
    seed = check_seed(seed)
    # Only devices already initialised hold a state to restore; torch.manual_seed would seed
    # every CUDA device, restored or not, so the generators are seeded one by one instead.
    cuda = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=cuda):
        torch.default_generator.manual_seed(seed)
        for index in cuda:
            torch.cuda.default_generators[index].manual_seed(seed)
        yield
