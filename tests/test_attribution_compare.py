"""compare_methods, the localisation scores, and the randomisation sanity check."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from failure_modes.explain.attribution import (
    METHODS,
    accepts_baselines,
    artifact_mass,
    attribute,
    chance_level,
    compare_methods,
    parameter_layers,
    pointing_game,
    randomize_layers,
    rank_correlation,
    relevance_rank_accuracy,
    structural_similarity,
)
from failure_modes.models import DenseModel

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:captum.*")

SIZE = 8
SETTINGS = settings(max_examples=30, deadline=None)


@pytest.fixture(scope="module")
def model() -> DenseModel:
    torch.manual_seed(0)
    return DenseModel(input_shape=(SIZE, SIZE), hidden_sizes=(16, 8)).eval()


@pytest.fixture(scope="module")
def inputs() -> torch.Tensor:
    return torch.randn(3, 1, SIZE, SIZE, generator=torch.Generator().manual_seed(1))


def _corner_mask(k: int = 2) -> torch.Tensor:
    mask = torch.zeros(SIZE, SIZE, dtype=torch.bool)
    mask[:k, :k] = True
    return mask


# --- localisation scores ----------------------------------------------------------------------


def test_scores_on_maps_made_by_hand():
    mask = _corner_mask()  # 4 pixels
    on = torch.zeros(2, SIZE, SIZE)
    on[0][mask] = 1.0  # all relevance on the mask
    on[1, 5, 5] = 1.0  # all relevance elsewhere
    on[1][mask] = 0.5  # ... and a weaker share on the mask
    assert relevance_rank_accuracy(on, mask).tolist() == [1.0, 0.75]
    assert pointing_game(on, mask).tolist() == [True, False]
    assert artifact_mass(on, mask).tolist() == pytest.approx([1.0, 2.0 / 3.0])
    assert float(chance_level(mask)) == pytest.approx(4 / SIZE**2)


def test_signs_do_not_matter_and_channels_are_summed():
    mask = _corner_mask()
    maps = torch.zeros(1, 2, SIZE, SIZE)
    maps[0, 0][mask] = -1.0
    maps[0, 1, 7, 7] = 0.5
    assert relevance_rank_accuracy(maps, mask).item() == 1.0
    assert bool(pointing_game(maps, mask).item())


def test_a_map_without_relevance_points_nowhere():
    assert not bool(pointing_game(torch.zeros(1, SIZE, SIZE), _corner_mask()).item())


def test_per_image_masks_are_used_per_image():
    maps = torch.zeros(2, SIZE, SIZE)
    maps[:, 0, 0] = 1.0
    masks = torch.zeros(2, SIZE, SIZE, dtype=torch.bool)
    masks[0, 0, 0] = True
    masks[1, 7, 7] = True
    assert pointing_game(maps, masks).tolist() == [True, False]
    assert relevance_rank_accuracy(maps, masks).tolist() == [1.0, 0.0]
    assert chance_level(masks).tolist() == pytest.approx([1 / 64, 1 / 64])


@SETTINGS
@given(seed=st.integers(0, 2**31), k=st.integers(1, 8))
def test_scores_lie_in_range_and_agree_with_their_definitions(seed, k):
    generator = torch.Generator().manual_seed(seed)
    maps = torch.randn(4, SIZE, SIZE, generator=generator)
    mask = torch.zeros(SIZE * SIZE, dtype=torch.bool)
    mask[torch.randperm(SIZE * SIZE, generator=generator)[:k]] = True
    mask = mask.view(SIZE, SIZE)
    rank = relevance_rank_accuracy(maps, mask)
    assert bool(((rank >= 0) & (rank <= 1)).all())
    # Definition: the K largest |values| (no ties with random floats), share inside the mask.
    top = maps.abs().flatten(1).topk(k, dim=1).indices
    expected = mask.flatten()[top].float().mean(dim=1)
    torch.testing.assert_close(rank, expected)
    hit = mask.flatten()[maps.abs().flatten(1).argmax(dim=1)]
    assert torch.equal(pointing_game(maps, mask), hit)


def test_maps_blind_to_the_mask_score_the_chance_level_on_average():
    generator = torch.Generator().manual_seed(0)
    maps = torch.rand(4000, SIZE, SIZE, generator=generator)
    mask = _corner_mask(4)  # a quarter of the image
    chance = float(chance_level(mask))
    assert float(relevance_rank_accuracy(maps, mask).mean()) == pytest.approx(chance, abs=0.02)
    assert float(pointing_game(maps, mask).float().mean()) == pytest.approx(chance, abs=0.03)
    assert float(artifact_mass(maps, mask).mean()) == pytest.approx(chance, abs=0.02)


def test_scores_reject_bad_masks_and_maps():
    maps = torch.rand(2, SIZE, SIZE)
    empty = torch.zeros(SIZE, SIZE, dtype=torch.bool)
    for score in (relevance_rank_accuracy, pointing_game):
        with pytest.raises(ValueError, match="covers no pixel"):
            score(maps, empty)
        with pytest.raises(TypeError, match="boolean"):
            score(maps, empty.float())
        with pytest.raises(ValueError, match="shape"):
            score(maps, torch.ones(SIZE, SIZE + 1, dtype=torch.bool))
        with pytest.raises(ValueError, match="attributions"):
            score(torch.rand(SIZE, SIZE), _corner_mask())
        masks = torch.zeros(2, SIZE, SIZE, dtype=torch.bool)
        masks[0, 0, 0] = True  # the second image's mask is empty
        with pytest.raises(ValueError, match="some images"):
            score(maps, masks)
    with pytest.raises(ValueError, match="covers no pixel"):
        chance_level(empty)


# --- compare_methods --------------------------------------------------------------------------


def test_compare_methods_gives_one_row_per_image_and_method(model, inputs):
    before = inputs.clone()
    methods = ["integrated_gradients", "saliency", "occlusion"]
    result = compare_methods(model, inputs, 3, _corner_mask(), methods=methods, progress=False)
    assert torch.equal(inputs, before)
    assert list(result.maps) == methods
    assert len(result.table) == len(methods) * len(inputs)
    assert list(result.table.columns) == [
        "method", "image", "target", "artifact_mass", "rank_accuracy", "pointing_game", "chance",
    ]  # fmt: skip
    for name in methods:
        torch.testing.assert_close(result.maps[name], attribute(model, inputs, 3, name))
        rows = result.table[result.table["method"] == name]
        assert rows["image"].tolist() == [0, 1, 2]
        torch.testing.assert_close(
            torch.tensor(rows["artifact_mass"].to_numpy()).float(),
            artifact_mass(result.maps[name], _corner_mask()),
        )
    summary = result.summary()
    assert summary.index.tolist() == methods
    assert "integrated_gradients" in str(result)


def test_compare_methods_defaults_to_every_method(model, inputs):
    result = compare_methods(model, inputs[:1], 0, _corner_mask(), progress=False)
    assert list(result.maps) == list(METHODS)


def test_baselines_reach_only_the_methods_that_take_them(model, inputs):
    black = -0.5
    result = compare_methods(
        model, inputs, 1, _corner_mask(), methods=["integrated_gradients", "saliency"],
        baselines=black, progress=False,
    )  # fmt: skip
    torch.testing.assert_close(
        result.maps["integrated_gradients"],
        attribute(model, inputs, 1, "integrated_gradients", baselines=black),
    )
    torch.testing.assert_close(result.maps["saliency"], attribute(model, inputs, 1, "saliency"))
    assert accepts_baselines("occlusion") and accepts_baselines("noise_tunnel_ig")
    assert not accepts_baselines("guided_backprop")


def test_compare_methods_passes_options_per_method(model, inputs):
    result = compare_methods(
        model, inputs, 2, _corner_mask(), methods=["saliency"],
        options={"saliency": {"abs": False}}, progress=False,
    )  # fmt: skip
    assert bool((result.maps["saliency"] < 0).any())


def test_compare_methods_takes_per_image_targets_and_masks(model, inputs):
    masks = torch.zeros(3, SIZE, SIZE, dtype=torch.bool)
    masks[0, 0, 0] = masks[1, 1, 1] = masks[2, 2, 2] = True
    result = compare_methods(
        model, inputs, torch.tensor([0, 1, 2]), masks, methods=["saliency"], progress=False
    )
    assert result.table["target"].tolist() == [0, 1, 2]
    assert result.table["chance"].tolist() == pytest.approx([1 / 64] * 3)


def test_compare_methods_rejects_bad_input(model, inputs):
    mask = _corner_mask()
    with pytest.raises(ValueError, match=r"Unknown method 'gradcam'.*integrated_gradients"):
        compare_methods(model, inputs, 0, mask, methods=["saliency", "gradcam"])
    with pytest.raises(TypeError, match="list of method names"):
        compare_methods(model, inputs, 0, mask, methods="saliency")
    with pytest.raises(ValueError, match="methods is empty"):
        compare_methods(model, inputs, 0, mask, methods=[])
    with pytest.raises(ValueError, match="method in options"):
        compare_methods(model, inputs, 0, mask, methods=["saliency"], options={"occlusion": {}})
    with pytest.raises(ValueError, match="masks covers no pixel"):
        compare_methods(model, inputs, 0, torch.zeros(SIZE, SIZE, dtype=torch.bool))
    with pytest.raises(ValueError, match="one per input"):
        compare_methods(model, inputs, 0, mask.expand(2, SIZE, SIZE), methods=["saliency"])
    with pytest.raises(ValueError, match=r"\[N, C, H, W\]"):
        compare_methods(model, inputs[:, 0], 0, mask, methods=["saliency"])


# --- randomisation ----------------------------------------------------------------------------


def test_parameter_layers_run_from_the_output_back(model):
    assert parameter_layers(model) == ["head", "fc2", "fc1"]


def test_randomize_layers_returns_a_new_model_and_leaves_the_old_one(model):
    before = {k: v.clone() for k, v in model.state_dict().items()}
    state = torch.random.get_rng_state()
    randomized = randomize_layers(model, 1, seed=0)
    assert torch.equal(torch.random.get_rng_state(), state)  # global random state untouched
    assert randomized is not model
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key])
    changed = {k for k, v in randomized.state_dict().items() if not torch.equal(v, before[k])}
    assert changed == {"head.weight", "head.bias"}
    all_random = randomize_layers(model, 3, seed=0)
    assert all(not torch.equal(v, before[k]) for k, v in all_random.state_dict().items())
    # Seeded: the same seed gives the same weights, another seed others.
    again = randomize_layers(model, 1, seed=0)
    assert torch.equal(again.head.weight, randomized.head.weight)
    assert not torch.equal(randomize_layers(model, 1, seed=1).head.weight, randomized.head.weight)
    copy = randomize_layers(model, 0)
    assert copy is not model and all(
        torch.equal(v, before[k]) for k, v in copy.state_dict().items()
    )


def test_randomize_layers_rejects_impossible_counts(model):
    with pytest.raises(ValueError, match=r"0\.\.3.*head"):
        randomize_layers(model, 4)
    with pytest.raises(ValueError, match="n_layers"):
        randomize_layers(model, -1)
    with pytest.raises(TypeError, match="n_layers"):
        randomize_layers(model, True)


def test_similarities_of_identical_scaled_and_reversed_maps():
    generator = torch.Generator().manual_seed(0)
    maps = torch.rand(3, 1, SIZE, SIZE, generator=generator) + 0.01
    torch.testing.assert_close(rank_correlation(maps, maps), torch.ones(3))
    torch.testing.assert_close(rank_correlation(maps, -3 * maps), torch.ones(3))  # |.|, ranks
    torch.testing.assert_close(rank_correlation(maps, 1 / maps), -torch.ones(3))
    torch.testing.assert_close(structural_similarity(maps, 5 * maps), torch.ones(3))
    other = torch.rand(3, 1, SIZE, SIZE, generator=generator)
    assert bool((structural_similarity(maps, other) < 0.9).all())
    assert rank_correlation(maps, torch.ones_like(maps)).tolist() == [0.0, 0.0, 0.0]
    zeros = torch.zeros_like(maps)
    assert rank_correlation(zeros, zeros).tolist() == [1.0, 1.0, 1.0]


def test_similarities_reject_mismatched_maps():
    with pytest.raises(ValueError, match="same shape"):
        rank_correlation(torch.rand(2, SIZE, SIZE), torch.rand(3, SIZE, SIZE))
    with pytest.raises(ValueError, match="same shape"):
        structural_similarity(torch.rand(2, SIZE, SIZE), torch.rand(2, SIZE, SIZE + 1))
    with pytest.raises(ValueError, match="window"):
        structural_similarity(torch.rand(2, SIZE, SIZE), torch.rand(2, SIZE, SIZE), window=9)
