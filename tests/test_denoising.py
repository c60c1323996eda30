"""The noise model, PSNR and the evaluation of a denoiser across datasets."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from failure_modes.models.denoising import NOISE_STD, add_noise, denoise, evaluate_denoiser, psnr


def _images(n: int = 4, size: int = 8, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 1, size, size, generator=torch.Generator().manual_seed(seed))


# --- psnr -------------------------------------------------------------------------------------


def test_psnr_known_values():
    target = torch.full((3, 1, 4, 4), 0.5)
    offsets = torch.tensor([0.1, 0.01, 0.5]).view(3, 1, 1, 1)
    # MSE 0.01 -> 20 dB, 1e-4 -> 40 dB, 0.25 -> 6.02 dB.
    expected = torch.tensor([20.0, 40.0, 10 * math.log10(4)])
    torch.testing.assert_close(psnr(target + offsets, target), expected, rtol=0, atol=1e-3)
    # Half the pixels off by 0.2: MSE 0.02.
    half = target.clone()
    half[:, :, :2] += 0.2
    torch.testing.assert_close(
        psnr(half, target), torch.full((3,), 10 * math.log10(50)), rtol=0, atol=1e-3
    )


def test_psnr_uses_the_data_range():
    target = torch.zeros(1, 1, 2, 2)
    assert psnr(target + 1, target, data_range=255).item() == pytest.approx(
        20 * math.log10(255), abs=1e-4
    )


def test_psnr_of_identical_images_is_infinite_per_image():
    images = _images(2)
    other = images.clone()
    other[1] += 0.1
    result = psnr(other, images)
    assert result.shape == (2,)
    assert math.isinf(result[0].item()) and result[0] > 0
    assert math.isfinite(result[1].item())


def test_psnr_rejects_different_shapes():
    with pytest.raises(ValueError, match="images and clean"):
        psnr(torch.zeros(2, 1, 4, 4), torch.zeros(2, 1, 4, 5))


# --- add_noise --------------------------------------------------------------------------------


def test_add_noise_is_repeatable_with_a_seeded_generator():
    images = _images()

    def noisy(seed):
        return add_noise(images, generator=torch.Generator().manual_seed(seed))

    assert torch.equal(noisy(1), noisy(1))
    assert not torch.equal(noisy(1), noisy(2))


def test_add_noise_clamps_and_leaves_its_input_alone():
    images = _images(n=16)
    before = images.clone()
    noisy = add_noise(images, std=2.0, generator=torch.Generator().manual_seed(0))
    assert torch.equal(images, before)
    assert noisy.shape == images.shape and noisy.dtype == images.dtype
    assert float(noisy.min()) == 0.0 and float(noisy.max()) == 1.0  # both bounds reached


def test_add_noise_has_the_requested_spread():
    images = torch.full((64, 1, 16, 16), 0.5)
    generator = torch.Generator().manual_seed(0)
    noise = add_noise(images, std=0.1, generator=generator) - images  # clamping is ~5 sigma away
    assert noise.mean().item() == pytest.approx(0.0, abs=0.005)
    assert noise.std().item() == pytest.approx(0.1, rel=0.03)
    assert torch.equal(add_noise(images, std=0.0), images)
    assert NOISE_STD > 0


def test_add_noise_rejects_bad_input():
    with pytest.raises(TypeError, match="images"):
        add_noise(torch.zeros(2, 4, 4, dtype=torch.uint8))
    with pytest.raises(ValueError, match="std"):
        add_noise(_images(), std=-0.1)


# --- denoise / evaluate_denoiser --------------------------------------------------------------


class _Spy(nn.Module):
    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module
        self.batch_sizes: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.batch_sizes.append(len(x))
        return self.module(x)


def test_denoise_runs_in_batches_without_gradients():
    model = _Spy(nn.Conv2d(1, 1, 3, padding=1))
    images = _images(n=7)
    out = denoise(model, images, batch_size=3)
    assert model.batch_sizes == [3, 3, 1]
    assert out.shape == images.shape and not out.requires_grad
    with torch.no_grad():
        torch.testing.assert_close(out, model.module(images))
    with pytest.raises(ValueError, match="batch_size"):
        denoise(model, images, batch_size=0)


def test_identity_denoiser_scores_exactly_the_noisy_psnr(make_dataset):
    datasets = {"raw": make_dataset(n_per_class=1, size=12), "tensor": _images(n=5, size=12)}
    results = evaluate_denoiser(nn.Identity(), datasets, seed=3)
    assert set(results) == {"raw", "tensor"}
    for scores in results.values():
        assert set(scores) == {"noisy", "denoised"}
        assert scores["denoised"] == scores["noisy"]
        assert 0 < scores["noisy"] < 40


def test_evaluate_denoiser_matches_a_hand_computation_and_its_seed():
    clean = _images(n=6)
    model = nn.Conv2d(1, 1, 1, bias=False)
    nn.init.constant_(model.weight, 0.5)  # halves every pixel
    results = evaluate_denoiser(model, {"x": clean}, std=0.2, seed=5)["x"]
    noisy = add_noise(clean, std=0.2, generator=torch.Generator().manual_seed(5))
    assert results["noisy"] == pytest.approx(psnr(noisy, clean).mean().item(), rel=1e-6)
    assert results["denoised"] == pytest.approx(psnr(noisy * 0.5, clean).mean().item(), rel=1e-5)
    assert evaluate_denoiser(model, {"x": clean}, std=0.2, seed=5)["x"] == results
    assert evaluate_denoiser(model, {"x": clean}, std=0.2, seed=6)["x"] != results
