"""Mutants of a model and the label change rate: does an answer survive small damage?

:func:`make_mutants` draws slightly damaged versions of a model and keeps those that stay
accurate; the **label change rate** (:func:`label_change_rate`) of an input is the share of them
whose answer differs from the original's. Predictions near a decision boundary flip under small
changes of the weights; confident right ones do not.

Mutants are stored as the filters they change, never as copies of the model, and are evaluated
all together (:func:`mutant_predictions`, the strategies in
:mod:`~failure_modes.tracks.error_detection._propagation`).
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch
from torch import nn
from tqdm.auto import tqdm

from failure_modes.models.training import classification_tensors
from failure_modes.tracks.error_detection._model import (
    check_inputs,
    check_labelled,
    evaluating,
    logits,
    resolve_layer,
)
from failure_modes.tracks.error_detection._propagation import (
    STRATEGIES,
    predictions,
    stacked_parameters,
)
from failure_modes.utils.validation import (
    as_tensor,
    check_choice,
    check_fraction,
    check_model,
    check_non_empty,
    check_not_none,
    check_positive_int,
    check_probability,
    check_seed,
    check_targets,
)

__all__ = [
    "MODES",
    "STRATEGIES",
    "Mutants",
    "make_mutants",
    "mutant_predictions",
    "label_change_rate",
    "change_rate",
    "negated_copy",
]

MODES = {
    "NAI": "neuron activation inverse: negate the chosen filters (weights and bias)",
    "GF": "Gaussian fuzz: redraw the chosen filters' weights from N(mean, std) of their layer",
}
"""Known mutation modes and what each does to a chosen filter."""

_MUTABLE = (nn.Conv2d, nn.Linear)


@dataclass(frozen=True)
class Mutants:
    """Mutated versions of a model, stored as the filters they change (no copy of the model).

    Mutant ``i`` equals the original model except that, in every layer ``name`` of ``layers``,
    the output units ``filters[name][i]`` (conv filters or dense neurons) have the weights
    ``weight[name][i]`` and biases ``bias[name][i]``.

    Attributes
    ----------
    mode : str
        ``"NAI"`` or ``"GF"`` (see :data:`MODES`).
    fraction : float
        Share of each mutated layer's filters changed in every mutant.
    layers : tuple of str
        Names of the mutated layers, in the model's order.
    filters : dict of str to Tensor
        Per layer, ``[n, k]`` indices of the changed filters.
    weight : dict of str to Tensor
        Per layer, ``[n, k, *filter_shape]`` new weights of those filters.
    bias : dict of str to Tensor or None
        Per layer, ``[n, k]`` new biases (None for a layer without bias).
    accuracy : Tensor
        ``[n]`` accuracy of each mutant on the data used to filter them.
    original_accuracy : float
        The original model's accuracy on the same data.
    tried : int
        How many candidate mutants were drawn to keep these ``n``.
    seed : int or None
        Seed of the random draws.
    """

    mode: str
    fraction: float
    layers: tuple[str, ...]
    filters: dict[str, torch.Tensor]
    weight: dict[str, torch.Tensor]
    bias: dict[str, torch.Tensor | None]
    accuracy: torch.Tensor
    original_accuracy: float
    tried: int
    seed: int | None = None

    def __len__(self) -> int:
        return len(self.accuracy)

    def __repr__(self) -> str:
        return (
            f"Mutants(n={len(self)}, mode={self.mode!r}, fraction={self.fraction}, "
            f"layers={self.layers}, tried={self.tried}, accuracy {self.accuracy.min():.3f}.."
            f"{self.accuracy.max():.3f} vs original {self.original_accuracy:.3f})"
        )

    def select(self, index: torch.Tensor | Sequence[int] | slice) -> Mutants:
        """Return the mutants at ``index`` (a slice, indices or a boolean mask) as new Mutants."""
        if not isinstance(index, slice):
            index = torch.as_tensor(index)
        return Mutants(
            mode=self.mode,
            fraction=self.fraction,
            layers=self.layers,
            filters={k: v[index] for k, v in self.filters.items()},
            weight={k: v[index] for k, v in self.weight.items()},
            bias={k: None if v is None else v[index] for k, v in self.bias.items()},
            accuracy=self.accuracy[index],
            original_accuracy=self.original_accuracy,
            tried=self.tried,
            seed=self.seed,
        )

    def stacked_parameters(self, model: nn.Module) -> dict[str, torch.Tensor]:
        """Full parameters of the mutated layers, stacked over mutants: ``{name: [n, ...]}``.

        Made for ``torch.func.functional_call`` under ``torch.vmap``; parameters of layers that
        are not mutated are left out (the model's own are used).
        """
        return stacked_parameters(model, self)

    def materialize(self, model: nn.Module, index: int) -> nn.Module:
        """A deep copy of ``model`` with mutant ``index``'s weights (``model`` is not changed)."""
        mutant = copy.deepcopy(model)
        with torch.no_grad():
            for name, value in self.stacked_parameters(model).items():
                mutant.get_parameter(name).copy_(value[index])
        return mutant


def negated_copy(model: nn.Module, layer: str, units: torch.Tensor | Sequence[int]) -> nn.Module:
    """A deep copy of ``model`` whose output ``units`` of ``layer`` are negated (weights and bias).

    One NAI mutant made by hand: the same network as :meth:`Mutants.materialize` gives for a
    mutant that negates these units; ``model`` is not changed.
    """
    module = check_model(model).get_submodule(layer)
    units = torch.as_tensor(check_not_none(units, "units", "a list of the layer's output units"))
    units = check_targets(units, len(units), "units", num_classes=module.weight.shape[0])
    units = units.to(module.weight.device)
    bias = None if module.bias is None else -module.bias.detach()[units][None]
    one = Mutants(
        mode="NAI",
        fraction=len(units) / module.weight.shape[0],
        layers=(layer,),
        filters={layer: units[None]},
        weight={layer: -module.weight.detach()[units][None]},
        bias={layer: bias},
        accuracy=torch.full((1,), float("nan")),
        original_accuracy=math.nan,
        tried=1,
    )
    return one.materialize(model, 0)


def _mutable_layers(model: nn.Module, layers: str | Sequence[str] | None) -> tuple[str, ...]:
    if layers is None:
        names = tuple(name for name, m in model.named_modules() if isinstance(m, nn.Conv2d))
        if not names:
            raise ValueError("the model has no Conv2d layer; name the layer(s) to mutate.")
        return names[-1:]
    if isinstance(layers, str):
        layers = [layers]
    resolved = [resolve_layer(model, layer) for layer in layers]
    for name, module in resolved:
        if not isinstance(module, _MUTABLE):
            raise ValueError(
                f"layer {name!r} is a {type(module).__name__}; only Conv2d and Linear layers "
                "have filters to mutate."
            )
    if not resolved:
        raise ValueError("layers is empty; name at least one Conv2d or Linear layer.")
    order = [name for name, _ in model.named_modules()]
    return tuple(sorted({name for name, _ in resolved}, key=order.index))


def _draw(
    model: nn.Module,
    layers: tuple[str, ...],
    count: int,
    fraction: float,
    mode: str,
    generator: torch.Generator,
) -> Mutants:
    """Draw ``count`` candidate mutants (their accuracy is not measured yet: NaN)."""
    filters, weights, biases = {}, {}, {}
    for name in layers:
        module = model.get_submodule(name)
        weight = module.weight.detach().cpu()
        units = weight.shape[0]
        k = max(1, round(fraction * units))
        # A random k-subset per mutant: the first k of a random permutation of the units.
        chosen = torch.rand(count, units, generator=generator).argsort(dim=1)[:, :k]
        bias = None if module.bias is None else module.bias.detach().cpu()
        if mode == "NAI":
            new_weight = -weight[chosen]
            new_bias = None if bias is None else -bias[chosen]
        else:
            noise = torch.randn(count, k, *weight.shape[1:], generator=generator)
            new_weight = weight.mean() + weight.std() * noise
            new_bias = None if bias is None else bias[chosen]
        device = module.weight.device
        filters[name] = chosen.to(device)
        weights[name] = new_weight.to(device)
        biases[name] = None if new_bias is None else new_bias.to(device)
    unmeasured = torch.full((count,), float("nan"))
    return Mutants(mode, fraction, layers, filters, weights, biases, unmeasured, math.nan, count)


def make_mutants(
    model: nn.Module,
    *,
    validation: object,
    n: int = 100,
    fraction: float = 0.1,
    mode: str = "NAI",
    layers: str | Sequence[str] | None = None,
    min_accuracy_ratio: float = 0.9,
    seed: int | None = None,
    max_tries: int | None = None,
    batch_size: int = 500,
    progress: bool = True,
) -> Mutants:
    """Draw mutated versions of ``model`` and keep those that stay accurate.

    Each candidate changes ``fraction`` of the filters (at least one) of every layer in
    ``layers``: ``"NAI"`` negates them, which inverts the sign of their activation before the
    ReLU; ``"GF"`` redraws their weights from a normal distribution with the mean and standard
    deviation of their layer's weights (the bias is kept). A candidate is kept only if its
    accuracy on ``validation`` is at least ``min_accuracy_ratio`` times the original's.

    Parameters
    ----------
    model : nn.Module
        The trained classifier; its weights and train/eval flags are never changed.
    validation : Dataset or tuple of tensors
        Labelled data for the accuracy filter, as accepted by
        :func:`failure_modes.models.training.classification_tensors`.
    n : int, default 100
        Number of mutants to keep.
    fraction : float, default 0.1
        Share of each layer's filters to mutate, in (0, 1].
    mode : {"NAI", "GF"}, default "NAI"
        The mutation (see :data:`MODES`).
    layers : str or sequence of str, optional
        Conv2d or Linear layer(s) to mutate; default the model's last Conv2d layer. For a
        Linear layer a "filter" is one output neuron (a row of its weight).
    min_accuracy_ratio : float, default 0.9
        A mutant must keep this share of the original accuracy, in [0, 1].
    seed : int, optional
        Seed of the random draws; the same seed gives the same mutants, None fresh ones.
    max_tries : int, optional
        Give up after this many candidates; default ``20 * n``.
    batch_size : int, default 500
        Images per evaluation step (see :func:`mutant_predictions`).
    progress : bool, default True
        Show a progress bar over the kept mutants.

    Returns
    -------
    Mutants
        ``n`` mutants (fewer, with a warning, if ``max_tries`` ran out first); ``.tried`` says
        how many candidates were drawn.

    Raises
    ------
    ValueError
        For an unknown mode, a fraction outside (0, 1], a layer that is not in the model or has
        no filters, or when no candidate passes the accuracy filter (the message gives how many
        were tried and the best accuracy ratio reached).
    """
    check_model(model)
    check_choice(mode, MODES, "mode")
    batch_size = check_positive_int(batch_size, "batch_size")
    fraction = check_fraction(fraction, "fraction")
    n = check_positive_int(n, "n")
    min_accuracy_ratio = check_probability(min_accuracy_ratio, "min_accuracy_ratio")
    max_tries = check_positive_int(20 * n if max_tries is None else max_tries, "max_tries")
    names = _mutable_layers(model, layers)
    x, y = classification_tensors(validation)
    check_non_empty(x, "validation")
    x, y = check_labelled(model, x, y, "validation")  # labels past the outputs: refused
    generator = torch.Generator().manual_seed(
        check_seed(seed) if seed is not None else int(torch.randint(2**62, (1,)))
    )
    with evaluating(model):
        original = float((logits(model, x, batch_size).argmax(dim=1) == y).float().mean())
        kept: list[Mutants] = []
        tried, best, count = 0, 0.0, 0
        with tqdm(total=n, desc="mutants kept", disable=not progress, leave=False) as bar:
            while count < n and tried < max_tries:
                # Draw a little more than is missing: some candidates fail the filter.
                size = min(max_tries - tried, max(2 * (n - count), 8))
                candidates = _draw(model, names, size, fraction, mode, generator)
                _, answers = predictions(model, candidates, x, batch_size, "auto")
                accuracy = (answers == y).float().mean(dim=1).cpu()
                tried += size
                best = max(best, float(accuracy.max()) / original if original > 0 else 0.0)
                passed = torch.nonzero(accuracy >= min_accuracy_ratio * original).flatten()
                passed = passed[: n - count]
                if len(passed):
                    kept.append(replace(candidates.select(passed), accuracy=accuracy[passed]))
                    count += len(passed)
                    bar.update(len(passed))
    if not kept:
        raise ValueError(
            f"No mutant kept {min_accuracy_ratio:.0%} of the original accuracy ({original:.3f}): "
            f"{tried} were tried and the best reached {best:.3f} of it. Mutate a smaller "
            "fraction of the filters, lower min_accuracy_ratio, or raise max_tries."
        )
    if count < n:
        warnings.warn(
            f"Only {count} of {n} mutants passed the accuracy filter after {tried} tries; "
            "returning those. Lower fraction or min_accuracy_ratio, or raise max_tries.",
            stacklevel=2,
        )
    return replace(_concatenate(kept), original_accuracy=original, tried=tried, seed=seed)


def _concatenate(parts: list[Mutants]) -> Mutants:
    """One Mutants object holding all mutants of ``parts`` (same mode, fraction and layers)."""
    names = parts[0].layers
    return replace(
        parts[0],
        filters={k: torch.cat([m.filters[k] for m in parts]) for k in names},
        weight={k: torch.cat([m.weight[k] for m in parts]) for k in names},
        bias={
            k: None if parts[0].bias[k] is None else torch.cat([m.bias[k] for m in parts])
            for k in names
        },
        accuracy=torch.cat([m.accuracy for m in parts]),
    )


def mutant_predictions(
    model: nn.Module,
    mutants: Mutants,
    inputs: torch.Tensor,
    *,
    batch_size: int = 500,
    strategy: str = "auto",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Predicted classes of the model and of every mutant, all mutants evaluated together.

    Parameters
    ----------
    model : nn.Module
        The original model the mutants were made from (unchanged, flags included).
    mutants : Mutants
        From :func:`make_mutants`.
    inputs : Tensor
        ``[N, C, H, W]`` float inputs on the model's device.
    batch_size : int, default 500
        Images per step; memory grows as ``batch_size * len(mutants)`` activations of the
        layers after the mutated one.
    strategy : {"auto", "delta", "vmap"}, default "auto"
        ``"delta"`` runs the original forward pass once and pushes only the changed units
        through the next layer (needs a Sequential model with one mutated layer followed by
        channel-wise layers and a Conv2d or Linear); ``"vmap"`` runs the layers before the
        first mutated one once and the rest under ``torch.vmap`` with stacked parameters;
        ``"auto"`` takes ``"delta"`` where it applies.

    Returns
    -------
    original : Tensor
        ``[N]`` classes predicted by the model.
    mutated : Tensor
        ``[len(mutants), N]`` classes predicted by each mutant.
    """
    inputs = check_inputs(model, inputs)
    check_positive_int(batch_size, "batch_size")
    check_choice(strategy, STRATEGIES, "strategy")
    if not isinstance(mutants, Mutants):
        raise TypeError(f"mutants must be Mutants from make_mutants, got {type(mutants).__name__}.")
    with evaluating(model):
        return predictions(model, mutants, inputs, batch_size, strategy)


def label_change_rate(
    model: nn.Module,
    mutants: Mutants,
    inputs: torch.Tensor,
    *,
    batch_size: int = 500,
    strategy: str = "auto",
) -> torch.Tensor:
    """Share of mutants whose predicted class differs from the model's, for every input.

    Parameters
    ----------
    model, mutants, inputs, batch_size, strategy
        As in :func:`mutant_predictions`.

    Returns
    -------
    Tensor
        ``[N]`` floats in [0, 1] on the CPU: 0 means every mutant agrees with the model.

    Examples
    --------
    >>> mutants = make_mutants(model, validation=(x_val, y_val), seed=0)  # doctest: +SKIP
    >>> lcr = label_change_rate(model, mutants, x_test)  # doctest: +SKIP
    """
    original, mutated = mutant_predictions(
        model, mutants, inputs, batch_size=batch_size, strategy=strategy
    )
    return change_rate(original, mutated)


def change_rate(original: torch.Tensor, mutated: torch.Tensor) -> torch.Tensor:
    """Per input, the share of mutants whose predicted class differs from the original's.

    ``original`` is ``[N]`` classes of the model, ``mutated`` ``[M, N]`` classes of ``M``
    mutants (as :func:`mutant_predictions` returns them); the result is ``[N]`` floats on the CPU.
    """
    original = check_targets(original, len(as_tensor(original, "original")), "original")
    mutated = as_tensor(mutated, "mutated")
    if mutated.ndim != 2 or mutated.shape[1] != len(original):
        shape = f"[M, {len(original)}], M mutants' classes, got {tuple(mutated.shape)}"
        raise ValueError(f"mutated must have shape {shape}; stack the mutants along dim 0.")
    check_targets(mutated.flatten(), mutated.numel(), "mutated")
    return (mutated.to(original.device) != original).float().mean(dim=0).cpu()
