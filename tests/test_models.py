"""Architectures: output shapes, one ReLU module per activation, repeatable initialisation."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.overrides import TorchFunctionMode

from failure_modes.models import DenseModel, SmallCNN, UNet, count_parameters

MODELS = {
    "dense": lambda: DenseModel(),
    "cnn": lambda: SmallCNN(),
    **{
        f"unet{depth}": (lambda depth=depth: UNet(depth=depth, num_fmaps=4))
        for depth in (1, 2, 3, 4)
    },
}
RELU_FUNCTIONS = {F.relu, F.relu_, torch.relu, torch.relu_, torch.Tensor.relu, torch.Tensor.relu_}


class _CountReLUCalls(TorchFunctionMode):
    """Counts every call of a ReLU function, whether from an ``nn.ReLU`` module or not."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in RELU_FUNCTIONS:
            self.calls += 1
        return func(*args, **(kwargs or {}))


def test_dense_model_output_shape_and_layers():
    model = DenseModel()
    assert model(torch.zeros(5, 1, 28, 28)).shape == (5, 10)
    assert model(torch.zeros(5, 28, 28)).shape == (5, 10)
    small = DenseModel(input_shape=(8, 6), num_classes=3, hidden_sizes=(7,))
    assert small(torch.zeros(2, 1, 8, 6)).shape == (2, 3)
    # Named layers make prefixes and layer attributions easy.
    assert model[:-1](torch.zeros(2, 1, 28, 28)).shape == (2, 84)
    assert isinstance(model.fc1, nn.Linear) and isinstance(model.head, nn.Linear)


def test_small_cnn_output_shape():
    assert SmallCNN()(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
    model = SmallCNN(in_channels=3, num_classes=4, channels=(2, 5), hidden=6, image_size=32)
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 4)
    assert isinstance(model.conv2, nn.Conv2d)
    # A prefix is a plain Sequential sharing the layers (used by layer probes).
    prefix = model[:6]
    assert type(prefix) is nn.Sequential and prefix.conv2 is model.conv2
    assert prefix(torch.zeros(2, 3, 32, 32)).shape == (2, 5, 8, 8)


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
@pytest.mark.parametrize("size", [(28, 28), (27, 30)])
def test_unet_keeps_the_image_shape_at_any_depth(depth, size):
    model = UNet(depth=depth, num_fmaps=4)
    assert model(torch.zeros(2, 1, *size)).shape == (2, 1, *size)


def test_unet_channels_and_final_activation():
    model = UNet(depth=2, in_channels=2, out_channels=3, num_fmaps=4, final_activation=nn.Sigmoid())
    with torch.no_grad():
        out = model(torch.randn(2, 2, 28, 28) * 100)
    assert out.shape == (2, 3, 28, 28)
    assert float(out.min()) >= 0 and float(out.max()) <= 1


@pytest.mark.parametrize("depth", [1, 3])
def test_unet_uses_every_parameter(depth):
    model = UNet(depth=depth, num_fmaps=4)
    model(torch.randn(2, 1, 16, 16)).square().mean().backward()
    unused = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert unused == []


@pytest.mark.parametrize("name", MODELS)
def test_every_activation_is_its_own_relu_module(name):
    model = MODELS[name]()
    relus = [m for _, m in model.named_modules(remove_duplicate=False) if isinstance(m, nn.ReLU)]
    assert relus, "expected ReLU modules"
    assert len({id(m) for m in relus}) == len(relus), "an nn.ReLU instance is reused"
    calls = {id(m): 0 for m in relus}
    hooks = [
        m.register_forward_hook(
            lambda module, *_: calls.__setitem__(id(module), calls[id(module)] + 1)
        )
        for m in relus
    ]
    with _CountReLUCalls() as counter:
        model(torch.randn(2, 1, 28, 28))
    for hook in hooks:
        hook.remove()
    assert set(calls.values()) == {1}, "each ReLU module must run exactly once per forward"
    assert counter.calls == len(relus), "a ReLU is applied functionally, outside a module"


def test_relu_check_catches_functional_and_shared_activations():
    # The check above must be able to fail.
    class Functional(nn.Sequential):
        def forward(self, x):
            return F.relu(super().forward(x))

    shared = nn.ReLU()
    reused = nn.Sequential(nn.Flatten(), nn.Linear(784, 4), shared, nn.Linear(4, 4), shared)
    model = Functional(nn.Flatten(), nn.Linear(784, 4), nn.ReLU())
    with _CountReLUCalls() as counter:
        model(torch.zeros(1, 1, 28, 28))
    assert counter.calls == 2  # one module, one functional call
    relus = [m for _, m in reused.named_modules(remove_duplicate=False) if isinstance(m, nn.ReLU)]
    assert len(relus) == 2 and len({id(m) for m in relus}) == 1


@pytest.mark.parametrize("name", MODELS)
def test_same_seed_gives_identical_initial_weights(name):
    def build(seed):
        torch.manual_seed(seed)
        return MODELS[name]().state_dict()

    first, again, other = build(3), build(3), build(4)
    assert first.keys() == again.keys()
    assert all(torch.equal(first[key], again[key]) for key in first)
    assert not all(torch.equal(first[key], other[key]) for key in first)


def test_count_parameters_by_hand():
    model = DenseModel(input_shape=(2, 2), num_classes=3, hidden_sizes=(5,))
    assert count_parameters(model) == (4 * 5 + 5) + (5 * 3 + 3)
    model.fc1.weight.requires_grad_(False)
    assert count_parameters(model) == 5 + (5 * 3 + 3)


@pytest.mark.parametrize(
    ("build", "error", "words"),
    [
        (lambda: DenseModel(num_classes=0), ValueError, "num_classes"),
        (lambda: DenseModel(input_shape=(28,)), ValueError, "input_shape"),
        (lambda: DenseModel(hidden_sizes=(16, 0)), ValueError, "hidden_sizes"),
        (lambda: SmallCNN(image_size=30), ValueError, "image_size"),
        (lambda: SmallCNN(in_channels=0), ValueError, "in_channels"),
        (lambda: UNet(depth=0), ValueError, "depth"),
        (lambda: UNet(num_fmaps=2.5), TypeError, "num_fmaps"),
        (lambda: UNet(kernel_size=4), ValueError, "kernel_size"),
    ],
)
def test_bad_arguments_are_named(build, error, words):
    with pytest.raises(error, match=words):
        build()
