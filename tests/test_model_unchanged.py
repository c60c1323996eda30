"""Nothing a caller passes changes: every function that evaluates a model gives it back with
the same weights, device and per-module train/eval flags, after a call that works and after one
that raises."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn

import failure_modes.contrastive as contrastive
import failure_modes.denoising as denoising
import failure_modes.error_detection as error_detection
import failure_modes.evaluation as evaluation
from failure_modes.attribution import attribute, compare_methods
from failure_modes.counterfactual import counterfactual
from failure_modes.tracks.mode import label_accuracy, layer_features
from failure_modes.utils.devices import evaluating

N, SIDE, CLASSES = 6, 6, 3


class Boom(RuntimeError):
    pass


def _model() -> nn.Sequential:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Flatten(),
        nn.Linear(2 * SIDE * SIDE, CLASSES),
    )
    model.train()
    model[2].eval()  # mixed flags: a submodule in eval inside a training model
    return model


def _denoiser() -> nn.Sequential:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.Dropout(0.5), nn.Sigmoid())
    model.train()
    return model


def _images() -> torch.Tensor:
    return torch.rand(N, 1, SIDE, SIDE, generator=torch.Generator().manual_seed(1))


def _labels() -> torch.Tensor:
    return torch.arange(N) % CLASSES


def _state(model: nn.Module) -> tuple:
    return (
        [(name, module.training) for name, module in model.named_modules()],
        {name: p.detach().clone() for name, p in model.state_dict().items()},
        {p.device for p in model.parameters()},
    )


def _assert_same(before: tuple, after: tuple) -> None:
    assert before[0] == after[0], "train/eval flags changed"
    assert before[1].keys() == after[1].keys()
    for name, value in before[1].items():
        assert torch.equal(value, after[1][name]), f"{name} changed"
    assert before[2] == after[2], "device changed"


CALLS: dict[str, tuple[Callable[[], nn.Module], Callable[[nn.Module], object]]] = {
    "predict": (_model, lambda m: evaluation.predict(m, (_images(), _labels()), batch_size=4)),
    "predict_proba": (_model, lambda m: evaluation.predict_proba(m, (_images(), _labels()))),
    "label_accuracy": (
        _model,
        lambda m: label_accuracy(m, (_images(), _labels()), num_classes=CLASSES),
    ),
    "misclassified": (_model, lambda m: contrastive.misclassified(m, (_images(), _labels()))),
    "attribute": (_model, lambda m: attribute(m, _images(), target=1, method="saliency")),
    "compare_methods": (
        _model,
        lambda m: compare_methods(
            m, _images(), 1, torch.ones(SIDE, SIDE, dtype=torch.bool), ["saliency"]
        ),
    ),
    "contrastive_saliency": (
        _model,
        lambda m: contrastive.contrastive_saliency(m, _images(), 0, 1, methods=["saliency"]),
    ),
    "counterfactual": (_model, lambda m: counterfactual(m, _images()[:2], target=1, steps=2)),
    "layer_features": (_model, lambda m: layer_features(m, "1", _images())),
    "max_softmax": (_model, lambda m: error_detection.max_softmax(m, _images())),
    "layer_conductance": (
        _model,
        lambda m: error_detection.layer_conductance(m, _images(), "0", n_steps=2, progress=False),
    ),
    "make_mutants": (
        _model,
        lambda m: error_detection.make_mutants(
            m, validation=(_images(), _labels()), n=2, min_accuracy_ratio=0.0, seed=0
        ),
    ),
    "denoise": (_denoiser, lambda m: denoising.denoise(m, _images())),
    "evaluate_denoiser": (
        _denoiser,
        lambda m: denoising.evaluate_denoiser(m, {"test": _images()}),
    ),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_a_valid_call_leaves_the_model_as_it_was(name):
    build, call = CALLS[name]
    model = build()
    before = _state(model)
    call(model)
    _assert_same(before, _state(model))


@pytest.mark.parametrize("name", sorted(CALLS))
def test_a_call_that_raises_leaves_the_model_as_it_was(name, monkeypatch):
    build, call = CALLS[name]
    model = build()
    before = _state(model)

    def explode(x):
        raise Boom("forward failed")

    monkeypatch.setattr(model[0], "forward", explode)
    with pytest.raises(Boom):
        call(model)
    monkeypatch.undo()
    _assert_same(before, _state(model))


def test_evaluating_restores_every_flag_even_on_error():
    model = _model()
    flags = [m.training for m in model.modules()]
    with pytest.raises(Boom), evaluating(model) as net:
        assert net is model and not any(m.training for m in model.modules())
        raise Boom
    assert [m.training for m in model.modules()] == flags
