"""attribute() over every Captum method, its batching, and the artifact mass of a map."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from failure_modes.explain.attribution import (
    METHODS,
    ROWS_PER_PASS,
    artifact_mass,
    attribute,
    default_batch_size,
    mask_share,
)
from failure_modes.models import DenseModel, SmallCNN

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:captum.*")

DETERMINISTIC = ["integrated_gradients", "saliency", "deep_lift", "occlusion"]


SIZE = 8  # small images keep occlusion (one forward pass per window position) cheap


@pytest.fixture(scope="module")
def models() -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    return {
        "dense": DenseModel(input_shape=(SIZE, SIZE), hidden_sizes=(16, 8)),
        "cnn": SmallCNN(channels=(2, 4), hidden=8, image_size=SIZE),
    }


@pytest.fixture(scope="module")
def inputs() -> torch.Tensor:
    return torch.randn(3, 1, SIZE, SIZE, generator=torch.Generator().manual_seed(1))


# --- attribute --------------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("model_name", ["dense", "cnn"])
def test_every_method_returns_maps_of_the_inputs_shape(models, inputs, method, model_name):
    before = inputs.clone()
    maps = attribute(models[model_name], inputs, target=3, method=method)
    assert maps.shape == inputs.shape
    assert maps.device == torch.device("cpu") and not maps.requires_grad
    assert bool(torch.isfinite(maps).all()) and bool(maps.abs().sum() > 0)
    assert torch.equal(inputs, before) and not inputs.requires_grad


def test_default_batch_size_keeps_about_the_same_number_of_rows_per_pass():
    assert default_batch_size("saliency") == ROWS_PER_PASS
    assert default_batch_size("integrated_gradients") == ROWS_PER_PASS // 32
    assert default_batch_size("integrated_gradients", n_steps=64) == ROWS_PER_PASS // 64
    assert default_batch_size("noise_tunnel_ig") == ROWS_PER_PASS // (8 * 16)
    assert default_batch_size("integrated_gradients", n_steps=5000) == 1
    with pytest.raises(ValueError, match="Unknown method 'lime'"):
        default_batch_size("lime")


@pytest.mark.parametrize("method", DETERMINISTIC)
@pytest.mark.parametrize("model_name", ["dense", "cnn"])
def test_batching_does_not_change_the_maps(models, inputs, method, model_name):
    model = models[model_name]
    targets = torch.tensor([3, 0, 7])
    whole = attribute(model, inputs, targets, method=method, batch_size=len(inputs))
    batched = attribute(model, inputs, targets, method=method, batch_size=2)
    torch.testing.assert_close(batched, whole, rtol=1e-4, atol=1e-6)
    # Each input is explained for its own target.
    single = attribute(model, inputs[1:2], 0, method=method)
    torch.testing.assert_close(batched[1:2], single, rtol=1e-4, atol=1e-6)


def test_integrated_gradients_completeness_with_per_input_baselines(models, inputs):
    # Attributions add up to f(x) - f(baseline): proves each batch got its own baselines.
    model = models["dense"]
    baselines = torch.randn(inputs.shape, generator=torch.Generator().manual_seed(2))
    target = torch.tensor([1, 5, 9])
    maps = attribute(model, inputs, target, baselines=baselines, n_steps=200, batch_size=2)
    with torch.no_grad():
        rows = torch.arange(len(inputs))
        delta = model(inputs)[rows, target] - model(baselines)[rows, target]
    torch.testing.assert_close(maps.flatten(1).sum(1), delta, rtol=1e-2, atol=1e-3)


def test_saliency_options_override_the_defaults(models, inputs):
    signed = attribute(models["dense"], inputs, 2, method="saliency", abs=False)
    unsigned = attribute(models["dense"], inputs, 2, method="saliency")
    assert bool((signed < 0).any()) and bool((unsigned >= 0).all())
    torch.testing.assert_close(signed.abs(), unsigned)


def test_gradient_shap_accepts_a_baseline_batch(models, inputs):
    torch.manual_seed(0)
    maps = attribute(
        models["cnn"], inputs, 1, method="gradient_shap", baselines=torch.zeros(4, 1, SIZE, SIZE)
    )
    assert maps.shape == inputs.shape


def test_unknown_method_lists_the_known_ones(models, inputs):
    with pytest.raises(ValueError, match="method 'lime'") as info:
        attribute(models["dense"], inputs, 0, method="lime")
    for name in ("integrated_gradients", "saliency", "occlusion"):
        assert name in str(info.value)


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda m, x: attribute(m, x.to(torch.uint8), 0), ValueError, "float"),
        (lambda m, x: attribute(m, x[0, 0, 0], 0), ValueError, "inputs"),
        (lambda m, x: attribute(m, x, torch.tensor([0, 1])), ValueError, "target"),
        (lambda m, x: attribute(m, x, 3.0), TypeError, "target must hold integer"),
        (lambda m, x: attribute(m, x, 0, batch_size=0), ValueError, "batch_size"),
        (lambda m, x: attribute(m, x.tolist(), 0), TypeError, "inputs"),
    ],
)
def test_attribute_rejects_bad_input(models, inputs, call, error, words):
    with pytest.raises(error, match=words):
        call(models["dense"], inputs)


# --- artifact_mass ----------------------------------------------------------------------------


@st.composite
def maps_and_masks(draw, per_image: bool | None = None):
    """Signed float maps ``[N, H, W]`` (some with zeros) and a non-empty mask."""
    n, h, w = draw(st.integers(1, 4)), draw(st.integers(1, 6)), draw(st.integers(1, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    maps = rng.normal(size=(n, h, w)) * (rng.random((n, h, w)) < draw(st.floats(0.1, 1.0)))
    per_image = draw(st.booleans()) if per_image is None else per_image
    mask = rng.random((n, h, w) if per_image else (h, w)) < draw(st.floats(0.05, 1.0))
    mask.reshape(-1, h, w)[:, rng.integers(h), rng.integers(w)] = True
    return torch.from_numpy(maps).float(), torch.from_numpy(mask)


MASS = settings(max_examples=60, deadline=None)


@MASS
@given(pair=maps_and_masks())
def test_mass_is_a_share_between_zero_and_one(pair):
    maps, mask = pair
    mass = artifact_mass(maps, mask)
    assert mass.shape == (len(maps),)
    assert bool(((mass >= 0) & (mass <= 1 + 1e-6)).all())
    relevance, inside = maps.abs(), (maps.abs() * mask).flatten(1).sum(1)
    expected = torch.where(relevance.flatten(1).sum(1) > 0, inside / relevance.flatten(1).sum(1), 0)
    torch.testing.assert_close(mass, expected.float())


@MASS
@given(pair=maps_and_masks(), scale=st.floats(1e-6, 1e6), data=st.data())
def test_mass_ignores_sign_and_scale(pair, scale, data):
    maps, mask = pair
    signs = torch.from_numpy(
        np.array(
            data.draw(
                st.lists(st.sampled_from([-1.0, 1.0]), min_size=maps.numel(), max_size=maps.numel())
            )
        )
    ).float()
    flipped = maps * signs.reshape(maps.shape) * scale
    torch.testing.assert_close(artifact_mass(flipped, mask), artifact_mass(maps, mask))


@MASS
@given(pair=maps_and_masks())
def test_mass_is_one_when_everything_is_on_the_artifact(pair):
    maps, mask = pair
    on_artifact = (maps.abs() + 1) * mask
    torch.testing.assert_close(artifact_mass(on_artifact, mask), torch.ones(len(maps)))
    off = (maps.abs() + 1) * ~mask
    if bool((~mask).any()):
        assert bool(
            (artifact_mass(off, mask)[(~mask).expand_as(maps).flatten(1).any(1)] == 0).all()
        )


@MASS
@given(pair=maps_and_masks(per_image=False), value=st.floats(1e-3, 1e3))
def test_uniform_map_gives_the_share_of_the_image_the_mask_covers(pair, value):
    maps, mask = pair
    uniform = torch.full_like(maps, value)
    expected = mask.float().mean().expand(len(maps))
    torch.testing.assert_close(artifact_mass(uniform, mask), expected)


def test_channels_are_summed_in_absolute_value():
    maps = torch.zeros(2, 3, 4, 4)
    maps[:, 0, 0, 0], maps[:, 1, 0, 0] = 1.0, -1.0  # must not cancel out
    maps[:, 2, 3, 3] = 2.0
    mask = torch.zeros(4, 4, dtype=torch.bool)
    mask[0, 0] = True
    torch.testing.assert_close(artifact_mass(maps, mask), torch.tensor([0.5, 0.5]))
    torch.testing.assert_close(artifact_mass(maps[:, :1], mask), torch.tensor([1.0, 1.0]))


def test_per_image_masks_match_one_call_per_image():
    maps = torch.rand(3, 5, 5, generator=torch.Generator().manual_seed(0))
    masks = torch.zeros(3, 5, 5, dtype=torch.bool)
    masks[0, 0, 0], masks[1, 2:4, 2:4], masks[2] = True, True, True
    mass = artifact_mass(maps, masks)
    for index in range(3):
        torch.testing.assert_close(
            mass[index : index + 1], artifact_mass(maps[index : index + 1], masks[index])
        )
    assert mass[2] == pytest.approx(1.0)


def test_all_zero_map_has_no_mass_and_tiny_maps_keep_their_share():
    mask = torch.zeros(4, 4, dtype=torch.bool)
    mask[0] = True
    assert artifact_mass(torch.zeros(2, 4, 4), mask).tolist() == [0.0, 0.0]
    uniform = torch.ones(1, 4, 4)
    for scale in (1e-20, 1e-33, 1e-36):
        torch.testing.assert_close(artifact_mass(uniform * scale, mask), torch.tensor([0.25]))


@pytest.mark.parametrize(
    ("maps", "mask", "error", "words"),
    [
        (torch.ones(2, 4, 4), torch.zeros(4, 4, dtype=torch.bool), ValueError, "no pixel"),
        (torch.ones(2, 4, 4), torch.ones(4, 5, dtype=torch.bool), ValueError, "mask"),
        (
            torch.ones(2, 4, 4),
            torch.ones(3, 4, 4, dtype=torch.bool),
            ValueError,
            "mask and attributions",
        ),
        (torch.ones(2, 4, 4), torch.ones(4, 4), TypeError, "boolean"),
        (torch.ones(4, 4), torch.ones(4, 4, dtype=torch.bool), ValueError, "attributions"),
        (torch.ones(1, 2, 2, 4, 4), torch.ones(4, 4, dtype=torch.bool), ValueError, "attributions"),
    ],
)
def test_artifact_mass_rejects_bad_input(maps, mask, error, words):
    with pytest.raises(error, match=words):
        artifact_mass(maps, mask)


def test_mask_share_is_artifact_mass_with_nan_where_the_share_is_undefined():
    maps = torch.rand(3, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    maps[2] = 0.0
    mask = torch.zeros(3, 4, 4, dtype=torch.bool)
    mask[:2, 1:3, 1:3] = True
    share = mask_share(maps, mask)
    torch.testing.assert_close(share[:2], artifact_mass(maps, mask)[:2])
    assert bool(torch.isnan(share[2]))  # an all-zero map places no mass
    assert artifact_mass(maps, mask)[2].item() == 0.0
    mask[1] = False  # an empty mask for one image: undefined too, 0 for artifact_mass
    assert bool(torch.isnan(mask_share(maps, mask)[1]))
    assert artifact_mass(maps, mask)[1].item() == 0.0
    assert mask_share(maps, mask, undefined=-1.0)[1].item() == -1.0
    nothing = torch.zeros(4, 4, dtype=torch.bool)  # mask_share takes it, artifact_mass refuses
    assert bool(torch.isnan(mask_share(maps, nothing)).all())
