"""Fixtures shared by the unit tests: tiny synthetic datasets shaped like torchvision's MNIST.

They stand in for the real data in unit tests, which must not depend on data files.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
import torch
from lesson_harness import DESELECTED_PATHS
from torch.utils.data import Dataset


class TinyImages(Dataset):
    """A stand-in for torchvision's MNIST: uint8 ``.data`` ``[N, H, W]``, int64 ``.targets``.

    ``__getitem__`` returns ``(float image [1, H, W] in [0, 1], int label)``, then applies
    ``transform`` like torchvision does.
    """

    def __init__(self, data: torch.Tensor, targets: torch.Tensor, transform=None) -> None:
        self.data = data
        self.targets = targets
        self.transform = transform

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = self.data[index].float().div(255).unsqueeze(0)
        if self.transform is not None:
            image = self.transform(image)
        return image, int(self.targets[index])


def _make_dataset(
    n_per_class: int = 4,
    labels: Sequence[int] = tuple(range(10)),
    size: int = 28,
    seed: int = 0,
) -> TinyImages:
    # Like a digit: black background, random "ink" in the central square only, so an artifact
    # planted at the border or on the background always changes the image.
    generator = torch.Generator().manual_seed(seed)
    targets = torch.tensor(list(labels), dtype=torch.int64).repeat_interleave(n_per_class)
    data = torch.zeros(len(targets), size, size, dtype=torch.uint8)
    lo, hi = size // 4, size - size // 4
    data[:, lo:hi, lo:hi] = torch.randint(
        0, 256, (len(targets), hi - lo, hi - lo), generator=generator, dtype=torch.uint8
    )
    return TinyImages(data, targets)


@pytest.fixture
def make_dataset() -> Callable[..., TinyImages]:
    """Factory ``make_dataset(n_per_class=4, labels=range(10), size=28, seed=0)``."""
    return _make_dataset


@pytest.fixture
def tiny_dataset() -> TinyImages:
    """40 images of 28x28, four of each label 0..9, labels in blocks (0,0,0,0,1,...)."""
    return _make_dataset()


def pytest_deselected(items) -> None:
    # A lesson module checks that its tests read every recorded number, unless some were left out.
    paths = {item.path for item in items}
    if paths:
        config = items[0].config
        config.stash[DESELECTED_PATHS] = config.stash.get(DESELECTED_PATHS, set()) | paths
