"""Network architectures used by the exercises.

Every activation is its own ``nn.ReLU`` instance, never reused and never called functionally:
Captum's DeepLift and Guided Backprop replace or hook activation *modules*, so a shared or
functional ReLU silently gives wrong attributions.

The classifiers are ``nn.Sequential`` subclasses with named layers, so ``model[:k]`` is the
prefix of the first ``k`` layers (used by layer probes) and ``model.conv2`` names a layer for
layer attributions.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from failure_modes.utils.validation import (
    check_image_axes,
    check_instance,
    check_model,
    check_positive_int,
)

__all__ = ["DenseModel", "SmallCNN", "UNet", "count_parameters"]


def count_parameters(model: nn.Module) -> int:
    """Return the number of trainable parameters of ``model``."""
    check_model(model)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _check_sizes(value: object, name: str, length: int | None = None) -> tuple[int, ...]:
    """``value`` as a tuple of positive ints (layer widths, channels, an image's height and
    width), refused at construction rather than at the first forward."""
    what = "a sequence of positive ints" if length is None else f"{length} positive ints"
    check_instance(value, (tuple, list), name, f"{what} such as {(16, 32)[: length or 2]}")
    if length is not None and len(value) != length:
        raise ValueError(f"{name} must hold {what}, got {len(value)}: {value!r}.")
    return tuple(check_positive_int(size, name) for size in value)


class _NamedSequential(nn.Sequential):
    """``nn.Sequential`` whose slices are plain ``nn.Sequential`` objects.

    ``nn.Sequential`` slices by calling ``self.__class__(OrderedDict)``, which a subclass with
    its own constructor arguments cannot accept; ``model[:k]`` would raise.
    """

    def __getitem__(self, idx: slice | int) -> nn.Module:
        if isinstance(idx, slice):
            return nn.Sequential(OrderedDict(list(self._modules.items())[idx]))
        return super().__getitem__(idx)


class DenseModel(_NamedSequential):
    """A fully connected classifier: flatten, then Linear + ReLU layers, then a linear head.

    Parameters
    ----------
    input_shape : tuple of int, default (28, 28)
        Shape of one image without the channel dimension (a channel of size 1 is flattened too).
    num_classes : int, default 10
        Number of output logits.
    hidden_sizes : sequence of int, default (256, 120, 84)
        Width of each hidden layer.

    Its forward takes ``[N, 1, H, W]`` batches and, on purpose, ``[N, H, W]`` ones too (a
    channel of size 1 is flattened anyway), with ``(H, W) = input_shape``; other shapes are
    refused with the fix (a single ``[H, W]`` image needs ``x[None]``). Sizes are checked at
    construction: positive ints, two of them in ``input_shape``.

    Examples
    --------
    >>> model = DenseModel()
    >>> model(torch.zeros(5, 1, 28, 28)).shape
    torch.Size([5, 10])
    """

    def __init__(
        self,
        input_shape: tuple[int, int] = (28, 28),
        num_classes: int = 10,
        hidden_sizes: Sequence[int] = (256, 120, 84),
    ) -> None:
        check_positive_int(num_classes, "num_classes")
        input_shape = _check_sizes(input_shape, "input_shape", 2)  # (height, width)
        hidden_sizes = _check_sizes(hidden_sizes, "hidden_sizes")
        layers: OrderedDict[str, nn.Module] = OrderedDict(flatten=nn.Flatten())
        width = int(input_shape[0]) * int(input_shape[1])
        for index, size in enumerate(hidden_sizes, start=1):
            layers[f"fc{index}"] = nn.Linear(width, size)
            layers[f"relu{index}"] = nn.ReLU()
            width = size
        layers["head"] = nn.Linear(width, num_classes)
        super().__init__(layers)
        self.input_shape = tuple(input_shape)
        self.num_classes = num_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[N, num_classes]`` of ``x``: ``[N, 1, H, W]`` or ``[N, H, W]`` images."""
        # Only the shape is looked at (no pass over the values): this runs on every batch.
        if (
            x.dim() not in (3, 4)
            or (x.dim() == 4 and x.shape[1] != 1)
            or (tuple(x.shape[-2:]) != self.input_shape)
        ):
            height, width = self.input_shape
            raise ValueError(
                f"x must have shape [N, 1, {height}, {width}] or [N, {height}, {width}] "
                f"(input_shape={self.input_shape}), got shape {tuple(x.shape)}; a single "
                "[H, W] image needs a batch axis, x[None]."
            )
        return super().forward(x)


class SmallCNN(_NamedSequential):
    """A small convolutional classifier: two conv blocks, one hidden dense layer, a head.

    Parameters
    ----------
    in_channels : int, default 1
        Channels of the input images.
    num_classes : int, default 10
        Number of output logits.
    channels : tuple of int, default (16, 32)
        Filters of the two convolution layers (``conv1``, ``conv2``).
    hidden : int, default 128
        Width of the dense layer ``fc1``.
    image_size : int, default 28
        Height and width of the (square) input images.

    Its forward checks that the input has the four axes ``[N, C, H, W]`` (only their number:
    it runs on every training batch), so a batch without its channel axis is refused with the
    fix (``x[:, None]``) instead of failing inside the first convolution.

    Examples
    --------
    >>> SmallCNN()(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 10,
        channels: tuple[int, int] = (16, 32),
        hidden: int = 128,
        image_size: int = 28,
    ) -> None:
        check_positive_int(in_channels, "in_channels")
        check_positive_int(num_classes, "num_classes")
        check_positive_int(hidden, "hidden")
        channels = _check_sizes(channels, "channels", 2)
        check_positive_int(image_size, "image_size")
        if image_size % 4:
            raise ValueError(
                f"image_size must be divisible by 4 (two 2x2 poolings), got {image_size}."
            )
        c1, c2 = channels
        super().__init__(
            OrderedDict(
                conv1=nn.Conv2d(in_channels, c1, kernel_size=3, padding=1),
                relu1=nn.ReLU(),
                pool1=nn.MaxPool2d(2),
                conv2=nn.Conv2d(c1, c2, kernel_size=3, padding=1),
                relu2=nn.ReLU(),
                pool2=nn.MaxPool2d(2),
                flatten=nn.Flatten(),
                fc1=nn.Linear(c2 * (image_size // 4) ** 2, hidden),
                relu3=nn.ReLU(),
                head=nn.Linear(hidden, num_classes),
            )
        )
        self.num_classes = num_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[N, num_classes]`` of an image batch ``x`` of shape ``[N, C, H, W]``."""
        return super().forward(check_image_axes(x, "x"))


def _conv_block(in_channels: int, out_channels: int, kernel_size: int) -> nn.Sequential:
    padding = kernel_size // 2
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding),
        nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size, padding=padding),
        nn.ReLU(),
    )


class UNet(nn.Module):
    """A U-Net for image-to-image tasks such as denoising.

    Inputs of any height and width are accepted: they are padded (reflection) to a multiple of
    ``downsample_factor ** (depth - 1)`` and the output is cropped back, so 28x28 works at any
    depth.

    Parameters
    ----------
    depth : int, default 2
        Number of resolution levels (1 means no down-sampling).
    in_channels, out_channels : int, default 1
        Channels of input and output images.
    num_fmaps : int, default 16
        Feature maps at the top level.
    fmap_inc_factor : int, default 2
        Factor by which the feature maps grow at each level down.
    downsample_factor : int, default 2
        Pooling factor between levels.
    kernel_size : int, default 3
        Size of every convolution kernel (odd, 'same' padding).
    final_activation : nn.Module or None, default None
        Applied to the output (e.g. ``nn.Sigmoid()`` for images in [0, 1]).

    Examples
    --------
    >>> UNet(depth=3)(torch.zeros(4, 1, 28, 28)).shape
    torch.Size([4, 1, 28, 28])
    """

    def __init__(
        self,
        depth: int = 2,
        in_channels: int = 1,
        out_channels: int = 1,
        num_fmaps: int = 16,
        fmap_inc_factor: int = 2,
        downsample_factor: int = 2,
        kernel_size: int = 3,
        final_activation: nn.Module | None = None,
    ) -> None:
        super().__init__()
        for name, value in [
            ("depth", depth),
            ("in_channels", in_channels),
            ("out_channels", out_channels),
            ("num_fmaps", num_fmaps),
            ("fmap_inc_factor", fmap_inc_factor),
            ("downsample_factor", downsample_factor),
        ]:
            check_positive_int(value, name)
        if check_positive_int(kernel_size, "kernel_size") % 2 == 0:
            raise ValueError(f"kernel_size must be odd for 'same' padding, got {kernel_size}.")
        if final_activation is not None and not isinstance(final_activation, nn.Module):
            example = (
                f"{final_activation.__name__}()"
                if isinstance(final_activation, type)
                else "nn.Sigmoid()"
            )
            raise TypeError(
                f"final_activation must be an nn.Module or None, got "
                f"{type(final_activation).__name__} {final_activation!r}; pass a module "
                f"instance such as {example} (names such as 'sigmoid' are not looked up)."
            )
        self.depth = depth
        self.downsample_factor = downsample_factor
        fmaps = [num_fmaps * fmap_inc_factor**level for level in range(depth)]
        self.down = nn.ModuleList(
            _conv_block(in_channels if level == 0 else fmaps[level - 1], fmaps[level], kernel_size)
            for level in range(depth)
        )
        # One pooling / upsampling module per level, like the ReLUs: never reused.
        self.pool = nn.ModuleList(nn.MaxPool2d(downsample_factor) for _ in range(depth - 1))
        self.upsample = nn.ModuleList(
            nn.Upsample(scale_factor=downsample_factor, mode="nearest") for _ in range(depth - 1)
        )
        self.up = nn.ModuleList(
            _conv_block(fmaps[level] + fmaps[level + 1], fmaps[level], kernel_size)
            for level in range(depth - 1)
        )
        self.head = nn.Conv2d(fmaps[0], out_channels, kernel_size=1)
        self.final_activation = final_activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The output image batch ``[N, out_channels, H, W]`` of ``x`` ``[N, C, H, W]``."""
        height, width = check_image_axes(x, "x").shape[-2:]
        multiple = self.downsample_factor ** (self.depth - 1)
        pad_h, pad_w = (-height) % multiple, (-width) % multiple
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="reflect")
        skips = []
        for level, block in enumerate(self.down):
            if level > 0:
                x = self.pool[level - 1](x)
            x = block(x)
            skips.append(x)
        for level in reversed(range(self.depth - 1)):
            x = self.up[level](torch.cat([skips[level], self.upsample[level](x)], dim=1))
        x = self.head(x)[..., :height, :width]
        return self.final_activation(x) if self.final_activation is not None else x
