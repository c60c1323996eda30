"""The kinds of bad input an outside probe found (issue 19 §2), each refused where it enters with
a message that names it and the fix, and exact rank correlations and tie rules (§3).

The probe (test_probe, bad values in probe_kit) keeps every kind among its bad values over all
public callables; these tests pin the messages and the documented exceptions.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr
from torch import nn
from torch.utils.data import TensorDataset

from failure_modes.data.idx import read_idx, write_idx
from failure_modes.data.sources import describe
from failure_modes.explain.methods import attribute, default_batch_size
from failure_modes.explain.randomization import rank_correlation
from failure_modes.explain.scores import pointing_game, relevance_rank_accuracy
from failure_modes.models.denoising import evaluate_denoiser, psnr
from failure_modes.models.evaluation import predict
from failure_modes.models.nets import DenseModel, SmallCNN, UNet
from failure_modes.models.training import train_classifier
from failure_modes.tracks.clever_hans.cues import augment, random_lightness
from failure_modes.tracks.error_detection.conductance import layer_conductance
from failure_modes.tracks.error_detection.detector import fit_detector, risk_coverage
from failure_modes.tracks.error_detection.mutants import label_change_rate, make_mutants
from failure_modes.tracks.mode.diagnosis import buggy_labels, diagnose
from failure_modes.tracks.mode.heat_maps import heat_maps
from failure_modes.tracks.mode.selection import select_inputs
from failure_modes.utils import validation as v

SIDE = 8


def _model() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(2 * SIDE * SIDE, 3)
    )


def _images(n: int = 6) -> torch.Tensor:
    return torch.rand(n, 1, SIDE, SIDE, generator=torch.Generator().manual_seed(1))


def _labels(n: int = 6) -> torch.Tensor:
    return torch.arange(n) % 3


# --- image axes -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "network", [SmallCNN(image_size=SIDE), UNet(depth=2, num_fmaps=2)], ids=["cnn", "unet"]
)
def test_networks_refuse_missing_axes_and_say_how_to_add_them(network):
    with pytest.raises(ValueError, match=r"^x must have shape \[N, C, H, W\].*x\[:, None\]"):
        network(torch.zeros(2, SIDE, SIDE))
    with pytest.raises(ValueError, match=r"x\[None, None\]"):
        network(torch.zeros(SIDE, SIDE))
    assert network(torch.zeros(2, 1, SIDE, SIDE)).shape[0] == 2


def test_dense_model_takes_its_two_documented_layouts_and_refuses_the_rest():
    model = DenseModel(input_shape=(8, 6), num_classes=3, hidden_sizes=(4,))
    assert model(torch.zeros(2, 1, 8, 6)).shape == (2, 3)
    assert model(torch.zeros(2, 8, 6)).shape == (2, 3)  # [N, H, W]: documented, on purpose
    for shape in [(8, 6), (2, 1, 6, 8), (2, 3, 8, 6), (2, 48)]:
        with pytest.raises(ValueError, match=r"^x must have shape \[N, 1, 8, 6\] or \[N, 8, 6\]"):
            model(torch.zeros(shape))


def _mutants_args(inputs):
    model = _model()
    mutants = make_mutants(
        model, validation=(_images(), _labels()), n=2, fraction=0.5, seed=0, progress=False,
        min_accuracy_ratio=0.0,
    )  # fmt: skip
    return model, mutants, inputs


CALLS = {
    "attribute": lambda x: attribute(_model(), x, 0, "saliency"),
    "layer_conductance": lambda x: layer_conductance(_model(), x, "0", n_steps=2, progress=False),
    "label_change_rate": lambda x: label_change_rate(*_mutants_args(x)),
    "train_classifier": lambda x: train_classifier(
        _model(), (x, _labels(len(x))), seed=0, progress=False
    ),
    "predict": lambda x: predict(_model(), (x, _labels(len(x)))),
    "psnr": lambda x: psnr(x, x.clamp(0, 1)),
}


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
def test_a_batch_without_its_channel_axis_is_refused_with_the_fix(call):
    with pytest.raises(ValueError, match=r"\[N, C, H, W\].*\[:, None\] \(or .*\.unsqueeze\(1\)\)"):
        call(torch.rand(6, SIDE, SIDE))


@pytest.mark.parametrize("call", [CALLS[k] for k in ("attribute", "label_change_rate", "psnr")])
def test_a_single_image_without_batch_and_channel_axes_is_refused_with_the_fix(call):
    with pytest.raises(ValueError, match=r"single \[H, W\] image needs a batch and a channel"):
        call(torch.rand(SIDE, SIDE))


def test_one_image_of_the_model_s_channels_is_still_a_batch_of_one():
    model = _model()
    assert v.check_image_or_batch(model, torch.rand(1, SIDE, SIDE)).shape == (1, 1, SIDE, SIDE)
    with pytest.raises(ValueError, match=r"inputs\[:, None\]"):
        v.check_image_or_batch(model, torch.rand(6, SIDE, SIDE))


# --- labels -----------------------------------------------------------------------------------
def test_labels_the_model_has_no_output_for_are_refused_where_they_are_returned():
    with pytest.raises(ValueError, match=r"targets must lie in 0\.\.2"):
        predict(_model(), (_images(), torch.full((6,), 99)))
    with pytest.raises(ValueError, match=r"validation targets must lie in 0\.\.2"):
        make_mutants(_model(), validation=(_images(), torch.full((6,), 3)), n=1, progress=False)


def test_heat_maps_and_diagnose_refuse_labels_they_cannot_index_with():
    features, labels = torch.rand(6, 4), _labels()
    for label in (1.5, -1, None):
        with pytest.raises(TypeError if label != -1 else ValueError, match="label"):
            heat_maps(features, labels, labels, label)
    accuracy = [0.9, 0.5, 1.0]
    with pytest.raises(ValueError, match=r"labels must index train_accuracy \(0\.\.2\)"):
        diagnose(accuracy, accuracy, [3])
    with pytest.raises(ValueError, match="labels must be non-negative"):
        diagnose(accuracy, accuracy, [-1])
    with pytest.raises(TypeError, match="labels must be a non-negative integer"):
        diagnose(accuracy, accuracy, [1.0])


def test_nan_accuracy_is_refused_for_a_diagnosed_label_only():
    train, validation = [0.9, math.nan, 1.0], [0.5, math.nan, 1.0]
    assert diagnose(train, validation, [0]) == {0: "overfitting"}
    with pytest.raises(ValueError, match="train_accuracy is NaN for label 1"):
        diagnose(train, validation, [1])
    assert buggy_labels([0.5, math.nan, 0.9]) == [0]  # NaN: no input, documented as not buggy
    with pytest.raises(TypeError, match="accuracy must hold one accuracy per label"):
        buggy_labels(["a", "b"])
    with pytest.raises(ValueError, match=r"accuracy must lie in \[0, 1\]"):
        buggy_labels([50.0, 90.0])
    with pytest.raises(ValueError, match="threshold must be a number, got NaN"):
        buggy_labels([0.5], threshold=math.nan)


def test_select_inputs_refuses_an_unknown_diagnosis_even_where_it_is_not_read():
    with pytest.raises(ValueError, match=r"Unknown diagnoses\[1\] 'nope'"):
        select_inputs(_labels(), {1: "nope"}, size=2)
    with pytest.raises(TypeError, match="diagnoses must be a mapping"):
        select_inputs(_labels(), [1], size=2)


# --- seeds ------------------------------------------------------------------------------------
def test_seeds_are_checked_against_torch_s_64_bits():
    for seed in (2**64 - 1, -(2**63), 0):
        assert v.check_seed(seed) == seed
        torch.Generator().manual_seed(seed)  # torch takes them all
    for seed in (2**64, -(2**63) - 1):
        with pytest.raises(ValueError, match=r"^seed must lie in -2\*\*63\.\.2\*\*64 - 1"):
            v.check_seed(seed)
    assert v.check_seed(None, optional=True) is None
    with pytest.raises(ValueError, match=r"^seed must lie in 0\.\.2\*\*32 - 1"):
        v.check_seed(-1, unsigned32=True)


@pytest.mark.parametrize("seed", [None, 2**64, "0"])
def test_a_required_seed_is_refused_by_name_where_it_enters(seed):
    error = ValueError if isinstance(seed, int) else TypeError
    images = (_images()[:, 0] * 255).to(torch.uint8)
    with pytest.raises(error, match="^seed must"):
        random_lightness(images, seed=seed)
    with pytest.raises(error, match="^seed must"):
        evaluate_denoiser(nn.Identity(), {"a": _images()}, seed=seed)
    if seed is not None:  # None is documented for these: a fresh seed is drawn
        with pytest.raises(error, match="^seed must"):
            train_classifier(_model(), (_images(), _labels()), seed=seed, progress=False)
        with pytest.raises(error, match="^seed must"):
            fit_detector(np.arange(6.0), _labels() == 0, seed=seed)


# --- constructors -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (lambda: DenseModel(hidden_sizes=None), TypeError, "hidden_sizes must be"),
        (lambda: DenseModel(hidden_sizes=(0,)), ValueError, "hidden_sizes must be at least 1"),
        (lambda: DenseModel(input_shape=(2.5, 8)), TypeError, "input_shape must be a positive"),
        (lambda: DenseModel(input_shape=(8,)), ValueError, "input_shape must hold 2"),
        (lambda: SmallCNN(channels=(4,)), ValueError, "channels must hold 2"),
        (lambda: SmallCNN(channels=(-1, 4)), ValueError, "channels must be at least 1"),
        (lambda: UNet(kernel_size=2), ValueError, "kernel_size must be odd"),
        (lambda: UNet(kernel_size=None), TypeError, "kernel_size must be a positive"),
        (lambda: UNet(kernel_size=3.0), TypeError, "kernel_size must be a positive"),
        (lambda: UNet(final_activation="sigmoid"), TypeError, r"such as nn\.Sigmoid\(\)"),
        (lambda: UNet(final_activation=nn.Sigmoid), TypeError, r"such as Sigmoid\(\)"),
    ],
)
def test_model_sizes_and_activations_are_refused_at_construction(build, error, message):
    with pytest.raises(error, match=message):
        build()


# --- numbers, mappings, empty inputs, options ----------------------------------------------------
def test_text_list_and_empty_inputs_are_refused_by_name():
    with pytest.raises(TypeError, match="datasets must be a mapping"):
        evaluate_denoiser(nn.Identity(), [_images()])
    with pytest.raises(ValueError, match="scores is empty"):
        risk_coverage([], [])
    with pytest.raises(ValueError, match="cancelled is empty"):
        risk_coverage([0.1, 0.9], [False, True], cancelled=[])
    with pytest.raises(ValueError, match="n_steps must be at least 1"):
        default_batch_size("integrated_gradients", n_steps=-4)


def test_unknown_options_are_refused_naming_the_allowed_ones():
    with pytest.raises(
        TypeError, match=r"unknown option\(s\) \['nope'\] for method 'saliency'.*'abs'"
    ):
        attribute(_model(), _images(), 0, "saliency", nope=1)
    with pytest.raises(TypeError, match=r"\['nsteps'\].*'n_steps'"):
        default_batch_size("integrated_gradients", nsteps=8)
    dataset = TensorDataset(torch.zeros(2))
    dataset.data = torch.zeros(2, SIDE, SIDE, dtype=torch.uint8)
    dataset.targets = torch.tensor([0, 1])
    with pytest.raises(TypeError, match=r"\['nope'\].*max_amplitude"):
        augment(dataset, nope=1)


def test_describe_refuses_what_is_no_dataset():
    for value in ([1, 2], _images()):
        with pytest.raises(TypeError, match="dataset must be a torch Dataset"):
            describe(value)
    assert describe(TensorDataset(_images())) == "TensorDataset: 6 images, source unknown source"


def test_write_idx_makes_a_missing_folder_as_documented(tmp_path):
    path = tmp_path / "new" / "deeper" / "images.idx"
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    assert write_idx(path, array) == path
    np.testing.assert_array_equal(read_idx(path), array)


# --- §3: rank correlation and ties --------------------------------------------------------------
def test_rank_correlation_is_exactly_one_and_minus_one_at_its_ends():
    maps = torch.rand(5, 28, 28, generator=torch.Generator().manual_seed(0)) + 0.1
    assert torch.equal(rank_correlation(maps, maps), torch.ones(5))
    assert torch.equal(rank_correlation(maps, 1 / maps), -torch.ones(5))  # reversed ranks


def test_rank_correlation_agrees_with_scipy_spearman_on_absolute_relevance():
    generator = torch.Generator().manual_seed(1)
    first, second = torch.randn(4, 1, 10, 10, generator=generator), torch.randn(4, 1, 10, 10)
    second[0] = first[0] * 2 + 0.1 * second[0]  # one strongly related pair
    second[1] = second[1].round()  # ties
    ours = rank_correlation(first, second)
    for i in range(4):
        expected = spearmanr(first[i].abs().flatten(), second[i].abs().flatten()).statistic
        assert ours[i].item() == pytest.approx(expected, abs=1e-6)


def test_ties_are_broken_by_pixel_order_as_documented():
    # A black-baseline map: relevance on two pixels, exact zeros elsewhere.
    maps = torch.zeros(1, 4, 4)
    maps[0, 3, 3] = 1.0
    top, bottom = torch.zeros(4, 4, dtype=torch.bool), torch.zeros(4, 4, dtype=torch.bool)
    top[0, :2], bottom[3, 2:] = True, True  # two pixels each; bottom holds the relevant one
    # K = 2: the relevant pixel and then the first zero in row order, (0, 0).
    assert relevance_rank_accuracy(maps, top).item() == 0.5
    assert relevance_rank_accuracy(maps, bottom).item() == 0.5
    flat = torch.zeros(1, 4, 4)
    flat[0, 1, 1] = flat[0, 2, 2] = 1.0  # two equal maxima: the first in row order counts
    first, second = torch.zeros(4, 4, dtype=torch.bool), torch.zeros(4, 4, dtype=torch.bool)
    first[1, 1], second[2, 2] = True, True
    assert pointing_game(flat, first).item() and not pointing_game(flat, second).item()
