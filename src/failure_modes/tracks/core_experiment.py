"""The core exercise's experiments, with the settings the notebook uses.

The core notebook (``notebooks/core.py``) walks through these steps one cell at a time; the
lesson tests (``tests/test_lessons.py``) call :func:`run_classifiers` and
:func:`run_denoisers`, which chain the very same steps with the very same settings, so the
tests check exactly what the notebook claims. Each ``*_numbers`` function turns a run into the
numbers the notebook prints beside its claims.

Examples
--------
>>> from failure_modes import core_experiment as core
>>> run = core.run_classifiers(seed=0)                    # doctest: +SKIP
>>> core.classifier_numbers(run)["tainted_recall_clean_4"]  # doctest: +SKIP
0.0
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.utils.data import ConcatDataset, Dataset, Subset

from failure_modes import data
from failure_modes.data import tensors
from failure_modes.data.taint import Corruption, Grid, Pixel, taint_dataset
from failure_modes.explain.attribution import artifact_mass, attribute
from failure_modes.models.denoising import NOISE_STD, evaluate_denoiser
from failure_modes.models.evaluation import accuracy, per_class_accuracy, predict
from failure_modes.models.nets import DenseModel, UNet
from failure_modes.models.training import seed_everything, train_classifier, train_denoiser
from failure_modes.utils.validation import check_positive_int

__all__ = [
    "LOCAL_LABEL",
    "GLOBAL_LABEL",
    "CORRUPTIONS",
    "ClassifierSettings",
    "DenoiserSettings",
    "CLASSIFIER",
    "DENOISER",
    "CoreData",
    "load_core_data",
    "make_classifier",
    "early_loss_gap",
    "predict_all",
    "black_baseline",
    "ig_artifact_mass",
    "ClassifierRun",
    "run_classifiers",
    "classifier_numbers",
    "background_share",
    "bonus_run",
    "fashion_subset",
    "denoiser_training_sets",
    "make_denoiser",
    "DenoiserRun",
    "run_denoisers",
    "denoiser_numbers",
    "switch_losses",
    "denoiser_test_sets",
    "MODELS",
    "TEST_SETS",
    "DENOISERS",
]

LOCAL_LABEL = 7
"""Digit that gets the local artifact (one white pixel)."""
GLOBAL_LABEL = 4
"""Digit that gets the global artifact (a grid over the whole image)."""

# Amplitude 120 rather than Grid's default 80: at 80 the clean model shrugs the grid off on
# some seeds, and the lesson "a model that never saw the grid is hurt by it" becomes a coin toss.
CORRUPTIONS: dict[int, Corruption] = {LOCAL_LABEL: Pixel(), GLOBAL_LABEL: Grid(amplitude=120)}
"""The artifacts of the core exercise: ``{7: Pixel(), 4: Grid(amplitude=120)}``."""

MODELS = ("clean", "tainted")
"""Names of the two classifiers: trained on clean and on tainted data."""
TEST_SETS = ("clean", "tainted")
"""Names of the two test sets."""
DENOISERS = ("MNIST only", "both, shuffled", "both, MNIST first")
"""Names of the three denoisers of part 5."""


@dataclass(frozen=True)
class ClassifierSettings:
    """How the two dense classifiers are trained and explained.

    Attributes
    ----------
    epochs : int
        Passes over the 4,000 (offline) training digits.
    batch_size : int
        Images per step.
    lr : float
        Adam's learning rate.
    ig_steps : int
        Integration steps of Integrated Gradients.
    """

    epochs: int = 5
    batch_size: int = 64
    lr: float = 1e-3
    ig_steps: int = 32


@dataclass(frozen=True)
class DenoiserSettings:
    """How the three denoisers of part 5 are built, trained and evaluated.

    Attributes
    ----------
    depth, num_fmaps : int
        The UNet's levels and feature maps at the top level.
    epochs, batch_size, lr
        Training: one pass, small batches (more steps per pass), Adam.
    fashion_train_size : int
        FashionMNIST training images mixed with the MNIST ones. Clothes are harder to denoise
        than digits, so the mix holds more of them than the 4,000 offline digits.
    test_size : int
        Test images per domain used for the PSNR.
    noise_std : float
        Standard deviation of the Gaussian noise (images in [0, 1]).
    eval_seed : int
        Seed of the test noise: every denoiser is scored on the same noisy images.
    """

    depth: int = 2
    num_fmaps: int = 12
    epochs: int = 1
    batch_size: int = 32
    lr: float = 2e-3
    fashion_train_size: int = 12_000
    test_size: int = 1_000
    noise_std: float = NOISE_STD
    eval_seed: int = 1234


CLASSIFIER = ClassifierSettings()
"""The settings the notebook uses for the classifiers."""
DENOISER = DenoiserSettings()
"""The settings the notebook uses for the denoisers."""


# --------------------------------------------------------------------------- data
@dataclass
class CoreData:
    """MNIST train and test sets, clean and tainted with :data:`CORRUPTIONS`."""

    train: Dataset
    test: Dataset
    tainted_train: Dataset
    tainted_test: Dataset

    def test_set(self, name: str) -> Dataset:
        """The test set called ``name`` (``"clean"`` or ``"tainted"``)."""
        return {"clean": self.test, "tainted": self.tainted_test}[name]


def load_core_data(root: str | None = None) -> CoreData:
    """Load MNIST (offline sample or full, whichever :mod:`failure_modes.data` finds) and taint it.

    Parameters
    ----------
    root : str, optional
        Data folder; see :func:`failure_modes.data.data_root`.

    Returns
    -------
    CoreData
    """
    train = data.load_mnist(train=True, root=root)
    test = data.load_mnist(train=False, root=root)
    return CoreData(
        train=train,
        test=test,
        tainted_train=taint_dataset(train, CORRUPTIONS),
        tainted_test=taint_dataset(test, CORRUPTIONS),
    )


# --------------------------------------------------------------------------- classifiers
def make_classifier(seed: int) -> DenseModel:
    """A fresh :class:`DenseModel`; the same ``seed`` gives the same initial weights."""
    seed_everything(seed)
    return DenseModel()


def early_loss_gap(
    clean_losses: Sequence[float], tainted_losses: Sequence[float], steps: int
) -> tuple[float, float]:
    """Mean training loss of both runs over their first ``steps`` steps.

    Returns
    -------
    tuple of float
        ``(clean mean, tainted mean)``.
    """
    check_positive_int(steps, "steps")
    if min(len(clean_losses), len(tainted_losses)) < steps:
        raise ValueError(
            f"steps must not exceed the length of both loss histories, got {steps} for "
            f"{len(clean_losses)} and {len(tainted_losses)} steps."
        )
    return float(np.mean(clean_losses[:steps])), float(np.mean(tainted_losses[:steps]))


def predict_all(
    models: Mapping[str, nn.Module], core_data: CoreData, *, device: str | None = None
) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
    """Predictions of every model on every test set: ``{(model, test set): (pred, true)}``."""
    return {
        (model_name, test_name): predict(model, core_data.test_set(test_name), device=device)
        for model_name, model in models.items()
        for test_name in TEST_SETS
    }


def black_baseline(inputs: torch.Tensor, dataset: Dataset) -> torch.Tensor:
    """A baseline for Integrated Gradients that is a black image *after* normalisation.

    The all-zero tensor is the dataset's mean grey once normalised; black is
    ``(0 - mean) / std``.

    Parameters
    ----------
    inputs : Tensor
        Normalised images ``[N, 1, H, W]``.
    dataset : Dataset
        The dataset they come from (its transform gives mean and std).

    Returns
    -------
    Tensor
        Same shape as ``inputs``, every value ``-mean / std``.
    """
    return torch.full_like(inputs, tensors.black_baseline(dataset))


def ig_artifact_mass(
    model: nn.Module,
    inputs: torch.Tensor,
    target: int,
    mask: torch.Tensor,
    baselines: torch.Tensor | float,
    *,
    n_steps: int = CLASSIFIER.ig_steps,
) -> torch.Tensor:
    """Integrated Gradients of ``target`` for each input, and the share of it on ``mask``.

    Returns
    -------
    Tensor
        ``[N]`` artifact mass per image (see :func:`failure_modes.explain.attribution.artifact_mass`).
    """
    maps = attribute(model, inputs, target, baselines=baselines, n_steps=n_steps)
    return artifact_mass(maps, mask)


def background_share(attributions: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """Share of absolute attribution on background pixels (raw value 0), per image.

    Parameters
    ----------
    attributions : Tensor
        ``[N, 1, H, W]`` maps.
    images : Tensor
        uint8 ``[N, H, W]`` raw images the maps explain.
    """
    background = images == 0
    relevance = attributions.abs().sum(dim=1)
    total = relevance.flatten(1).sum(dim=1).clamp_min(1e-30)
    return (relevance * background).flatten(1).sum(dim=1) / total


@dataclass
class ClassifierRun:
    """Everything parts 2-4 produce for one seed."""

    seed: int
    core_data: CoreData
    models: dict[str, nn.Module]
    losses: dict[str, list[float]]
    predictions: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]
    settings: ClassifierSettings = field(default_factory=ClassifierSettings)


def run_classifiers(
    seed: int,
    *,
    core_data: CoreData | None = None,
    settings: ClassifierSettings = CLASSIFIER,
    device: str | None = None,
    progress: bool = False,
) -> ClassifierRun:
    """Train the clean and the tainted classifier from identical weights and data order.

    Parameters
    ----------
    seed : int
        Initial weights and batch order of both models.
    core_data : CoreData, optional
        Default :func:`load_core_data`.
    settings : ClassifierSettings, default CLASSIFIER
    device : str, optional
        Where to train; default :func:`failure_modes.models.training.pick_device`.
    progress : bool, default False
        Show progress bars.

    Returns
    -------
    ClassifierRun
    """
    core_data = load_core_data() if core_data is None else core_data
    train_sets = {"clean": core_data.train, "tainted": core_data.tainted_train}
    models, losses = {}, {}
    for name in MODELS:
        models[name] = make_classifier(seed)
        losses[name] = train_classifier(
            models[name],
            train_sets[name],
            epochs=settings.epochs,
            batch_size=settings.batch_size,
            lr=settings.lr,
            seed=seed,
            device=device,
            progress=progress,
        )
    predictions = predict_all(models, core_data, device=device)
    return ClassifierRun(seed, core_data, models, losses, predictions, settings)


def _test_inputs(core_data: CoreData, label: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised tainted test images of one label, and their raw uint8 versions."""
    x, y = data.to_tensors(core_data.tainted_test)
    keep = y == label
    return x[keep], core_data.tainted_test.data[keep]


def classifier_numbers(run: ClassifierRun) -> dict[str, float]:
    """The numbers behind the claims of parts 2-4, as the notebook prints them.

    Keys
    ----
    ``early_loss_clean``, ``early_loss_tainted``
        Mean training loss over the first epoch.
    ``accuracy_<model>_on_<test set>``
        Overall accuracy of each model on each test set.
    ``recall_<model>_on_<test set>_<label>``
        Recall of the 4s and the 7s.
    ``mass_<model>_<baseline>_7``, ``mass_<model>_<baseline>_4``
        Mean IG artifact mass on tainted 7s (pixel mask) and 4s (grid mask), with the black
        and the zero (mean grey) baseline.
    ``mask_share_7``, ``mask_share_4``
        Share of the image each mask covers: the artifact mass of an even spread.
    """
    numbers: dict[str, float] = {}
    steps = len(run.losses["clean"]) // run.settings.epochs
    numbers["early_loss_clean"], numbers["early_loss_tainted"] = early_loss_gap(
        run.losses["clean"], run.losses["tainted"], steps
    )
    for (model_name, test_name), (pred, true) in run.predictions.items():
        numbers[f"accuracy_{model_name}_on_{test_name}"] = accuracy(pred, true)
        recall = per_class_accuracy(pred, true)
        for label in (GLOBAL_LABEL, LOCAL_LABEL):
            numbers[f"recall_{model_name}_on_{test_name}_{label}"] = float(recall[label])
    for label in (LOCAL_LABEL, GLOBAL_LABEL):
        inputs, _ = _test_inputs(run.core_data, label)
        mask = CORRUPTIONS[label].mask(*inputs.shape[-2:])
        numbers[f"mask_share_{label}"] = mask.float().mean().item()
        baselines = {"black": black_baseline(inputs, run.core_data.tainted_test), "zero": 0.0}
        for model_name, model in run.models.items():
            for baseline_name, baseline in baselines.items():
                mass = ig_artifact_mass(
                    model, inputs, label, mask, baseline, n_steps=run.settings.ig_steps
                )
                numbers[f"mass_{model_name}_{baseline_name}_{label}"] = mass.mean().item()
    return numbers


def bonus_run(
    corruption: Corruption,
    seed: int,
    *,
    core_data: CoreData | None = None,
    settings: ClassifierSettings = CLASSIFIER,
    device: str | None = None,
) -> dict[str, float]:
    """Train on data where *every* digit carries ``corruption``; the bonus experiment.

    Returns
    -------
    dict
        ``accuracy_with`` (test digits with the artifact), ``accuracy_without`` (clean test
        digits) and ``mass`` (mean IG artifact mass, black baseline, on the first 200 tainted
        test digits, each for its own label).
    """
    core_data = load_core_data() if core_data is None else core_data
    everywhere = dict.fromkeys(range(10), corruption)
    train = taint_dataset(core_data.train, everywhere)
    test = taint_dataset(core_data.test, everywhere)
    model = make_classifier(seed)
    train_classifier(
        model,
        train,
        epochs=settings.epochs,
        batch_size=settings.batch_size,
        lr=settings.lr,
        seed=seed,
        device=device,
        progress=False,
    )
    x, y = data.to_tensors(test)
    x, y = x[:200], y[:200]
    mask = corruption.mask(*x.shape[-2:])
    mass = ig_artifact_mass(model, x, y, mask, black_baseline(x, test), n_steps=settings.ig_steps)
    return {
        "accuracy_with": accuracy(*predict(model, test, device=device)),
        "accuracy_without": accuracy(*predict(model, core_data.test, device=device)),
        "mass": mass.mean().item(),
    }


# --------------------------------------------------------------------------- denoisers
def fashion_subset(dataset: Dataset, size: int, seed: int) -> Subset:
    """``size`` images of ``dataset`` drawn at random by ``seed``, kept in dataset order."""
    check_positive_int(size, "size")
    if size > len(dataset):
        raise ValueError(f"size must be at most {len(dataset)} (the dataset's length), got {size}.")
    generator = torch.Generator().manual_seed(int(seed))
    indices = torch.randperm(len(dataset), generator=generator)[:size].sort().values
    return Subset(dataset, indices.tolist())


def denoiser_training_sets(
    seed: int, *, settings: DenoiserSettings = DENOISER, root: str | None = None
) -> dict[str, Dataset]:
    """Training data of the denoisers: ``"MNIST"``, ``"FashionMNIST"`` (a subset) and ``"both"``.

    ``"both"`` is MNIST followed by the FashionMNIST subset, in that order: trained without
    shuffling, a denoiser sees all digits first, then all clothes.
    """
    mnist = data.load_mnist(train=True, root=root)
    fashion = fashion_subset(
        data.load_fashion_mnist(train=True, root=root), settings.fashion_train_size, seed
    )
    return {"MNIST": mnist, "FashionMNIST": fashion, "both": ConcatDataset([mnist, fashion])}


def denoiser_test_sets(
    *, settings: DenoiserSettings = DENOISER, root: str | None = None
) -> dict[str, Dataset]:
    """The first ``settings.test_size`` test images of MNIST and of FashionMNIST."""
    sets = {
        "MNIST": data.load_mnist(train=False, root=root),
        "FashionMNIST": data.load_fashion_mnist(train=False, root=root),
    }
    return {name: Subset(s, range(min(settings.test_size, len(s)))) for name, s in sets.items()}


def make_denoiser(seed: int, settings: DenoiserSettings = DENOISER) -> UNet:
    """A fresh UNet; the same ``seed`` gives the same initial weights."""
    seed_everything(seed)
    return UNet(depth=settings.depth, num_fmaps=settings.num_fmaps)


@dataclass
class DenoiserRun:
    """Everything part 5 produces for one seed."""

    seed: int
    models: dict[str, nn.Module]
    losses: dict[str, list[float]]
    psnr: dict[str, dict[str, dict[str, float]]]
    mnist_train_size: int
    settings: DenoiserSettings = field(default_factory=DenoiserSettings)


def run_denoisers(
    seed: int,
    *,
    settings: DenoiserSettings = DENOISER,
    device: str | None = None,
    progress: bool = False,
    root: str | None = None,
) -> DenoiserRun:
    """Train the three denoisers of part 5 and score each on MNIST and FashionMNIST.

    ``"MNIST only"`` sees the MNIST digits; ``"both, shuffled"`` sees digits and clothes mixed;
    ``"both, MNIST first"`` sees the same images unshuffled, all digits before all clothes.
    All three start from the same weights.

    Returns
    -------
    DenoiserRun
        ``psnr[denoiser][domain]`` is ``{"noisy": dB, "denoised": dB}``.
    """
    train_sets = denoiser_training_sets(seed, settings=settings, root=root)
    plan = {
        "MNIST only": (train_sets["MNIST"], True),
        "both, shuffled": (train_sets["both"], True),
        "both, MNIST first": (train_sets["both"], False),
    }
    models, losses = {}, {}
    for name, (dataset, shuffle) in plan.items():
        models[name] = make_denoiser(seed, settings)
        losses[name] = train_denoiser(
            models[name],
            dataset,
            epochs=settings.epochs,
            batch_size=settings.batch_size,
            lr=settings.lr,
            seed=seed,
            device=device,
            shuffle=shuffle,
            progress=progress,
            noise_std=settings.noise_std,
        )
    test_sets = denoiser_test_sets(settings=settings, root=root)
    psnr = {
        name: evaluate_denoiser(
            model, test_sets, std=settings.noise_std, seed=settings.eval_seed, device=device
        )
        for name, model in models.items()
    }
    return DenoiserRun(seed, models, losses, psnr, len(train_sets["MNIST"]), settings)


def switch_losses(
    losses: Sequence[float], first_size: int, batch_size: int, window: int = 50
) -> tuple[float, float]:
    """Mean loss just before and just after an unshuffled run moves on to its second dataset.

    Parameters
    ----------
    losses : sequence of float
        Step losses of a run over ``ConcatDataset([first, second])`` without shuffling.
    first_size : int
        Number of images in the first dataset.
    batch_size : int
        Images per step of that run.
    window : int, default 50
        Steps averaged on each side (fewer if the run is shorter).

    Returns
    -------
    tuple of float
        ``(mean of the last steps on the first dataset, mean of the first steps on the second)``;
        a batch that straddles the switch belongs to neither.
    """
    check_positive_int(first_size, "first_size")
    check_positive_int(batch_size, "batch_size")
    check_positive_int(window, "window")
    last_pure = first_size // batch_size
    first_pure = -(-first_size // batch_size)
    if last_pure < 1 or first_pure >= len(losses):
        raise ValueError(
            f"losses ({len(losses)} steps) must cover both datasets: the switch comes after "
            f"step {first_size / batch_size:.1f}."
        )
    before = losses[max(0, last_pure - window) : last_pure]
    after = losses[first_pure : first_pure + window]
    return float(np.mean(before)), float(np.mean(after))


def denoiser_numbers(psnr: Mapping[str, Mapping[str, Mapping[str, float]]]) -> dict[str, float]:
    """The numbers behind the claims of part 5.

    Parameters
    ----------
    psnr : mapping
        ``psnr[denoiser][domain]["denoised"]`` in dB, as in :class:`DenoiserRun`.

    Returns
    -------
    dict
        ``gap``: the MNIST-only denoiser's PSNR on MNIST minus on FashionMNIST;
        ``gap_closed``: the share of that gap the shuffled denoiser wins back on FashionMNIST,
        ``(its FashionMNIST PSNR - the MNIST-only one's) / gap``;
        ``forgetting``: the shuffled denoiser's MNIST PSNR minus the unshuffled one's.
    """
    only, mixed, ordered = (psnr[name] for name in DENOISERS)
    gap = only["MNIST"]["denoised"] - only["FashionMNIST"]["denoised"]
    won_back = mixed["FashionMNIST"]["denoised"] - only["FashionMNIST"]["denoised"]
    return {
        "gap": gap,
        "gap_closed": won_back / gap,
        "forgetting": mixed["MNIST"]["denoised"] - ordered["MNIST"]["denoised"],
    }
