"""Layer 2, data: MNIST and FashionMNIST from the first source that works, IDX files, taints.

``failure_modes.data`` keeps the loaders' names (``load_mnist``, ``prepare``, ...) so that
instructors' material keeps working; the code lives in :mod:`failure_modes.data.sources`.
"""

from failure_modes.data.sources import (
    DATASETS,
    STATS,
    DataUnavailableError,
    data_root,
    describe,
    load_fashion_mnist,
    load_mnist,
    prepare,
)
from failure_modes.data.tensors import normalization, to_tensors

__all__ = [
    "DATASETS",
    "STATS",
    "DataUnavailableError",
    "data_root",
    "describe",
    "load_fashion_mnist",
    "load_mnist",
    "normalization",
    "prepare",
    "to_tensors",
]
