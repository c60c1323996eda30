"""The checkers of the Clever Hans notebook: right answers pass, each typical mistake is named."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from failure_modes.course.checks import clever_hans as checks
from failure_modes.data.taint import Gradient, Square, taint_dataset
from failure_modes.models.evaluation import predict
from failure_modes.tracks.clever_hans import randomize_layer
from failure_modes.utils.seeding import seeded


def _verdict(capsys) -> str:
    return capsys.readouterr().out


# --- Task 1.1 --------------------------------------------------------------------------------


def _lighten(images, artifact):
    return (images.float() + artifact.ramp(*images.shape[-2:])).round().clamp(0, 255).byte()


@pytest.mark.parametrize(
    ("wrong", "phrase"),
    [
        (lambda im, a: im + a.ramp(*im.shape[-2:]).round().byte(), "wraps around"),
        (lambda im, a: (im.float() + a.ramp(*im.shape[-2:])).round().byte(), "wraps around"),
        (lambda im, a: (im.float() + a.ramp(*im.shape[-2:])).clamp(0, 255).byte(), "rounded down"),
        (lambda im, a: (im.float() + a.ramp(*im.shape[-2:])).clamp(0, 255), "dtype"),
        (lambda im, a: im.copy_(_lighten(im, a)), "changed the images"),
    ],
)
def test_lighten_names_each_mistake(capsys, wrong, phrase):
    assert checks.lighten(wrong) is checks.library_lighten
    assert phrase in _verdict(capsys)


def test_lighten_passes_a_right_answer_and_falls_back_when_untouched(capsys):
    assert checks.lighten(_lighten) is _lighten
    assert "correct" in _verdict(capsys)
    images = torch.full((1, 4, 4), 250, dtype=torch.uint8)
    assert torch.equal(checks.lighten(...)(images, Gradient()), Gradient()(images))
    assert "not done" in _verdict(capsys)


# --- Task 3.1 --------------------------------------------------------------------------------


class _CornerModel(nn.Module):
    """Random logits, class 1's raised a little everywhere and more where the top-left corner
    is bright: some images are called 1 before the square, some only after, some never."""

    def __init__(self) -> None:
        super().__init__()
        with seeded(0):
            self.linear = nn.Linear(28 * 28, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.linear(x.flatten(1))
        logits[:, 1] += 0.1 + 0.1 * x[:, 0, 1:5, 1:5].mean(dim=(1, 2))
        return logits


def _flip(model, dataset, artifact, label, *, own=False, baseline=True, accuracy=False):
    before, true = predict(model, dataset)
    labels = [k for k in range(10) if own or k != label]
    after, _ = predict(model, taint_dataset(dataset, dict.fromkeys(labels, artifact)))
    keep = (true != label) if not own else (true == true)
    if baseline:
        keep = keep & (before != label)
    hit = after[keep] == (true[keep] if accuracy else label)
    return float(hit.mean())


@pytest.fixture
def flip_setup(tiny_dataset):
    return _CornerModel().eval(), tiny_dataset, Square(row=1, col=1, size=4), 1


def test_the_flip_probe_tells_the_mistakes_apart(flip_setup):
    values = {
        _flip(*flip_setup),
        _flip(*flip_setup, own=True),
        _flip(*flip_setup, baseline=False),
        _flip(*flip_setup, own=True, baseline=False),
        _flip(*flip_setup, accuracy=True),
    }
    assert len(values) == 5


@pytest.mark.parametrize(
    ("options", "phrase"),
    [
        ({"own": True}, "include the 1s"),
        ({"baseline": False}, "baseline"),
        ({"own": True, "baseline": False}, "share of all images"),
        ({"accuracy": True}, "accuracy"),
    ],
)
def test_flip_to_names_each_mistake(capsys, flip_setup, options, phrase):
    def wrong(*args):
        return _flip(*args, **options)

    assert checks.flip_to(wrong, *flip_setup) is checks.library_flip_to
    assert phrase in _verdict(capsys)


def test_flip_to_passes_a_right_answer_and_falls_back_when_untouched(capsys, flip_setup):
    assert checks.flip_to(_flip, *flip_setup) is _flip
    assert "correct" in _verdict(capsys)
    reference = checks.flip_to(..., *flip_setup)
    assert "not done" in _verdict(capsys)
    assert reference(*flip_setup) == _flip(*flip_setup)


# --- Task 4.1 --------------------------------------------------------------------------------


def _rank(maps, mask, *, signed=False, bottom=False, k=None, count=False, mean=False):
    relevance = maps.sum(dim=1) if signed else maps.abs().sum(dim=1)
    size = int(mask.sum()) if k is None else k
    top = relevance.flatten(1).topk(size, dim=1, largest=not bottom).indices
    hits = mask.flatten()[top].float().sum(dim=1)
    share = hits if count else hits / size
    return share.mean() if mean else share


def _rank_in_place(maps, mask):
    maps.abs_()
    return _rank(maps, mask)


@pytest.mark.parametrize(
    ("wrong", "phrase"),
    [
        (lambda maps, mask: _rank(maps, mask, signed=True), "rank maps.abs()"),
        (lambda maps, mask: _rank(maps, mask, bottom=True), "least relevant"),
        (lambda maps, mask: _rank(maps, mask, k=1), "pointing game"),
        (lambda maps, mask: _rank(maps, mask, count=True), "divide by K"),
        (lambda maps, mask: _rank(maps, mask, mean=True), "one value per map"),
        (_rank_in_place, "changed the maps"),
    ],
)
def test_rank_accuracy_names_each_mistake(capsys, wrong, phrase):
    assert checks.rank_accuracy(wrong) is checks.library_rank_accuracy
    assert phrase in _verdict(capsys)


def test_rank_accuracy_passes_a_right_answer_and_falls_back_when_untouched(capsys):
    assert checks.rank_accuracy(_rank) is _rank
    assert "correct" in _verdict(capsys)
    maps, mask = torch.randn(5, 1, 4, 4), torch.eye(4, dtype=torch.bool)
    assert torch.allclose(checks.rank_accuracy(...)(maps, mask), _rank(maps, mask))
    assert "not done" in _verdict(capsys)
    assert checks.rank_accuracy(lambda maps, mask: ...) is checks.library_rank_accuracy
    assert "not done" in _verdict(capsys)


# --- Task 5.1 --------------------------------------------------------------------------------


def _reset(model, name, seed):
    copied = copy.deepcopy(model)
    with seeded(seed):
        dict(copied.named_modules())[name].reset_parameters()
    return copied.eval()


def _in_place(model, name, seed):
    with seeded(seed):
        dict(model.named_modules())[name].reset_parameters()
    return model


def _every_layer(model, name, seed):
    copied = copy.deepcopy(model)
    with seeded(seed):
        for module in copied.modules():
            if isinstance(module, nn.Linear):
                module.reset_parameters()
    return copied


def _zeros(model, name, seed):
    copied = copy.deepcopy(model)
    with torch.no_grad():
        for parameter in dict(copied.named_modules())[name].parameters():
            parameter.zero_()
    return copied


def _unseeded(model, name, seed):
    copied = copy.deepcopy(model)
    with seeded(seed + 1):
        dict(copied.named_modules())[name].reset_parameters()
    return copied


@pytest.mark.parametrize(
    ("wrong", "phrase"),
    [
        (_in_place, "the model you were given"),
        (_every_layer, "more than layer"),
        (_zeros, "all zero"),
        (lambda model, name, seed: copy.deepcopy(model), "still has its trained weights"),
        (_unseeded, "with seeded(seed)"),
    ],
)
def test_reset_layer_names_each_mistake(capsys, wrong, phrase):
    assert checks.reset_layer(wrong) is randomize_layer
    assert phrase in _verdict(capsys)


def test_reset_layer_passes_a_right_answer_and_falls_back_when_untouched(capsys):
    assert checks.reset_layer(_reset) is _reset
    assert "correct" in _verdict(capsys)
    assert checks.reset_layer(...) is randomize_layer
    assert "not done" in _verdict(capsys)
