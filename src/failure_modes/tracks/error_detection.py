"""Predicting a classifier's own mistakes: conductance, mutation stability and an error detector.

Two signals are computed for every prediction, and a small detector learns from them which
predictions are likely wrong:

* **Conductance** (:func:`layer_conductance`): how much each channel of a hidden layer carried
  the logit of the predicted class along the straight path from a zero input to the image. A
  right prediction tends to flow through the channels that usually serve its class.
* **Label change rate** (:func:`label_change_rate`): the share of slightly mutated copies of the
  model (:func:`make_mutants`) whose answer differs from the original's. Predictions near a
  decision boundary flip under small changes of the weights; confident right ones do not.

Mutants are stored as the filters they change, never as copies of the model. They are evaluated
all together: the computation before the first mutated layer is done once, and by default only
the changed units are pushed through the next layer (see :func:`mutant_predictions`).

The detector (:func:`fit_detector`) standardises its features with the statistics of its own
training data; :func:`auroc`, :func:`choose_threshold` and :func:`risk_coverage` say how well
it separates right from wrong predictions and what cancelling the flagged ones buys.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from captum.attr import LayerConductance
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score, roc_curve
from torch import nn
from torch.func import functional_call
from torch.nn import functional as F
from tqdm.auto import tqdm

from failure_modes.models.training import classification_tensors
from failure_modes.utils.table import Table
from failure_modes.utils.validation import (
    as_tensor,
    check_choice,
    check_fraction,
    check_positive_int,
    check_probability,
    check_same_device,
)

__all__ = [
    "MODES",
    "STRATEGIES",
    "DETECTORS",
    "layer_conductance",
    "Mutants",
    "make_mutants",
    "mutant_predictions",
    "label_change_rate",
    "max_softmax",
    "ErrorDetector",
    "fit_detector",
    "compare_feature_sets",
    "auroc",
    "choose_threshold",
    "risk_coverage",
]

MODES = {
    "NAI": "neuron activation inverse: negate the chosen filters (weights and bias)",
    "GF": "Gaussian fuzz: redraw the chosen filters' weights from N(mean, std) of their layer",
}
"""Known mutation modes and what each does to a chosen filter."""

STRATEGIES = ("auto", "delta", "vmap")
"""How :func:`mutant_predictions` evaluates mutants (see there)."""

# Layers that act on every channel separately and have no parameters: a change in some channels
# of their input changes only the same channels of their output.
_CHANNELWISE = (nn.ReLU, nn.MaxPool2d, nn.AvgPool2d, nn.Identity, nn.Dropout)
_MUTABLE = (nn.Conv2d, nn.Linear)
_INTEGRATION_RULES = (
    "gausslegendre",
    "riemann_trapezoid",
    "riemann_left",
    "riemann_right",
    "riemann_middle",
)


# --- inputs and layers -------------------------------------------------------------------------


def _check_inputs(model: nn.Module, inputs: object, name: str = "inputs") -> torch.Tensor:
    inputs = as_tensor(inputs, name)
    if not inputs.is_floating_point() or inputs.ndim < 2:
        raise ValueError(
            f"{name} must be a float batch [N, C, H, W] prepared as the model expects, got dtype "
            f"{inputs.dtype} and shape {tuple(inputs.shape)}."
        )
    check_same_device(model, inputs, name)
    return inputs


def _resolve_layer(model: nn.Module, layer: str | nn.Module) -> tuple[str, nn.Module]:
    """Return ``(name, module)`` of ``layer``, given by its name in ``model`` or as the module."""
    named = {name: module for name, module in model.named_modules() if name}
    if isinstance(layer, str):
        if layer not in named:
            raise ValueError(
                f"layer {layer!r} is not a layer of the model; its layers are {list(named)}."
            )
        return layer, named[layer]
    if isinstance(layer, nn.Module):
        for name, module in named.items():
            if module is layer:
                return name, module
        raise ValueError(
            f"layer {type(layer).__name__} is not a submodule of the model; pass one of "
            f"{list(named)} (by name or as model.<name>)."
        )
    raise TypeError(f"layer must be a layer name or an nn.Module, got {type(layer).__name__}.")


# --- conductance -------------------------------------------------------------------------------


def layer_conductance(
    model: nn.Module,
    inputs: torch.Tensor,
    layer: str | nn.Module,
    *,
    n_steps: int = 10,
    method: str = "gausslegendre",
    batch_size: int = 250,
    target: torch.Tensor | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """Conductance of every channel of ``layer`` for the logit of the predicted class.

    Captum's ``LayerConductance`` integrates, along the straight path from a zero input to each
    image, the gradient of the logit with respect to the layer's output times the change of that
    output. For a convolution the result is averaged over space: one number per channel.

    Parameters
    ----------
    model : nn.Module
        A classifier returning logits; it is put in eval mode. Not changed otherwise.
    inputs : Tensor
        ``[N, C, H, W]`` float inputs on the model's device, prepared as the model expects.
    layer : str or nn.Module
        The layer, by name (``"conv2"``) or as the module (``model.conv2``).
    n_steps : int, default 10
        Steps of the path integral.
    method : str, default "gausslegendre"
        Captum's rule for the integral (also ``"riemann_trapezoid"``, ``"riemann_left"``,
        ...). For the last hidden layer, whose output the logit depends on linearly,
        ``n_steps=1`` with ``"riemann_trapezoid"`` is exact: the conductance of a unit is then
        its weight in the logit times the change of its activation from the baseline.
    batch_size : int, default 250
        Images per Captum call; memory grows as ``batch_size * (n_steps + 1)`` activations.
    target : Tensor, optional
        ``[N]`` class whose logit is explained; default the model's own prediction.
    progress : bool, default False
        Show a progress bar over the batches.

    Returns
    -------
    Tensor
        ``[N, channels]`` float conductances on the CPU.

    Examples
    --------
    >>> features = layer_conductance(model, x_test, "conv2")  # doctest: +SKIP
    >>> features.shape  # doctest: +SKIP
    torch.Size([10000, 32])
    """
    inputs = _check_inputs(model, inputs)
    _, module = _resolve_layer(model, layer)
    check_positive_int(n_steps, "n_steps")
    check_choice(method, _INTEGRATION_RULES, "method")
    check_positive_int(batch_size, "batch_size")
    if target is not None:
        target = as_tensor(target, "target").long().to(inputs.device)
        if target.shape != (len(inputs),):
            raise ValueError(f"target must have shape [{len(inputs)}], got {tuple(target.shape)}.")
    model.eval()
    explainer = LayerConductance(model, module)
    chunks = []
    starts = range(0, len(inputs), batch_size)
    for start in tqdm(starts, desc="conductance", disable=not progress, leave=False):
        batch = inputs[start : start + batch_size]
        if target is None:
            with torch.no_grad():
                classes = model(batch).argmax(dim=1)
        else:
            classes = target[start : start + batch_size]
        maps = explainer.attribute(
            batch, baselines=0.0, target=classes, n_steps=n_steps, method=method
        )
        maps = maps.detach()
        chunks.append((maps.flatten(2).mean(dim=2) if maps.ndim > 2 else maps).cpu())
    return torch.cat(chunks)


# --- mutants -----------------------------------------------------------------------------------


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
        stacked = {}
        rows = torch.arange(len(self))[:, None]
        for name in self.layers:
            module = model.get_submodule(name)
            weight = module.weight.detach().expand(len(self), *module.weight.shape).clone()
            weight[rows, self.filters[name]] = self.weight[name].to(weight)
            stacked[f"{name}.weight"] = weight
            if self.bias[name] is not None:
                bias = module.bias.detach().expand(len(self), *module.bias.shape).clone()
                bias[rows, self.filters[name]] = self.bias[name].to(bias)
                stacked[f"{name}.bias"] = bias
        return stacked

    def materialize(self, model: nn.Module, index: int) -> nn.Module:
        """A deep copy of ``model`` with mutant ``index``'s weights (``model`` is not changed)."""
        mutant = copy.deepcopy(model)
        with torch.no_grad():
            for name, value in self.stacked_parameters(model).items():
                mutant.get_parameter(name).copy_(value[index])
        return mutant


def _mutable_layers(model: nn.Module, layers: str | Sequence[str] | None) -> tuple[str, ...]:
    if layers is None:
        names = tuple(name for name, m in model.named_modules() if isinstance(m, nn.Conv2d))
        if not names:
            raise ValueError("the model has no Conv2d layer; name the layer(s) to mutate.")
        return names[-1:]
    if isinstance(layers, str):
        layers = [layers]
    resolved = [_resolve_layer(model, layer) for layer in layers]
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
    progress: bool = False,
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
        The trained classifier; its weights are never changed.
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
        Seed of the random draws; the same seed gives the same mutants.
    max_tries : int, optional
        Give up after this many candidates; default ``20 * n``.
    batch_size : int, default 500
        Images per evaluation step (see :func:`mutant_predictions`).
    progress : bool, default False
        Show a progress bar over the candidates.

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
    check_choice(mode, MODES, "mode")
    fraction = check_fraction(fraction, "fraction")
    n = check_positive_int(n, "n")
    min_accuracy_ratio = check_probability(min_accuracy_ratio, "min_accuracy_ratio")
    max_tries = check_positive_int(20 * n if max_tries is None else max_tries, "max_tries")
    names = _mutable_layers(model, layers)
    x, y = classification_tensors(validation)
    check_same_device(model, x, "validation inputs")
    y = y.to(x.device)
    generator = torch.Generator().manual_seed(
        int(seed) if seed is not None else int(torch.randint(2**62, (1,)))
    )
    model.eval()
    with torch.no_grad():
        original = float((_logits(model, x, batch_size).argmax(dim=1) == y).float().mean())
    kept: list[Mutants] = []
    tried, best, count = 0, 0.0, 0
    with tqdm(total=n, desc="mutants kept", disable=not progress, leave=False) as bar:
        while count < n and tried < max_tries:
            # Draw a little more than is missing: some candidates fail the filter.
            size = min(max_tries - tried, max(2 * (n - count), 8))
            candidates = _draw(model, names, size, fraction, mode, generator)
            _, predictions = _predictions(model, candidates, x, batch_size, "auto")
            accuracy = (predictions == y).float().mean(dim=1).cpu()
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


# --- evaluating all mutants together -----------------------------------------------------------


def _logits(model: nn.Module, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    return torch.cat([model(batch) for batch in x.split(batch_size)])


def _children(model: nn.Module) -> list[tuple[str, nn.Module]] | None:
    return list(model.named_children()) if isinstance(model, nn.Sequential) else None


def _delta_plan(model: nn.Module, mutants: Mutants) -> tuple[int, int] | None:
    """Where the changed units of a single mutated layer meet the next mixing layer.

    Returns ``(i, q)``: the mutated layer is child ``i`` of a Sequential model, children
    ``i + 1 .. q - 1`` act channel by channel (or flatten), child ``q`` is a Conv2d or Linear
    that mixes channels. None when the model does not have this shape.
    """
    children = _children(model)
    if children is None or len(mutants.layers) != 1:
        return None
    names = [name for name, _ in children]
    if mutants.layers[0] not in names:
        return None
    i = names.index(mutants.layers[0])
    layer = children[i][1]
    if isinstance(layer, nn.Conv2d) and (layer.groups != 1 or layer.padding_mode != "zeros"):
        return None
    flattened = False
    for q in range(i + 1, len(children)):
        module = children[q][1]
        if isinstance(module, nn.Flatten):
            if flattened or module.start_dim != 1 or module.end_dim != -1:
                return None
            flattened = True
        elif isinstance(module, nn.Conv2d) and not flattened:
            return (i, q) if module.groups == 1 and module.padding_mode == "zeros" else None
        elif isinstance(module, nn.Linear):
            return i, q
        elif flattened or not isinstance(module, _CHANNELWISE):
            # After a flatten the units are no longer whole channels: only a Linear may follow.
            return None
    return None


def _negates(layer: nn.Module, mutants: Mutants) -> bool:
    """Whether every changed filter is exactly the negated original (neuron activation inverse)."""
    name = mutants.layers[0]
    filters, bias = mutants.filters[name], mutants.bias[name]
    if not torch.equal(mutants.weight[name], -layer.weight[filters]):
        return False
    return bias is None or torch.equal(bias, -layer.bias[filters])


def _channel_chain(children: list[nn.Module], i: int, q: int) -> tuple[list[nn.Module], int]:
    """The channel-wise layers between mutated child ``i`` and mixing child ``q``, and the index
    of the activation where units are still whole channels (the input of a flatten, or of ``q``).
    """
    for j in range(i + 1, q):
        if isinstance(children[j], nn.Flatten):
            return children[i + 1 : j], j
    return children[i + 1 : q], q


def _run(modules: list[nn.Module], x: torch.Tensor) -> torch.Tensor:
    for module in modules:
        x = module(x)
    return x


def _unit_changes(
    children: list[nn.Module], activations: list[torch.Tensor], mutants: Mutants, i: int, q: int
) -> torch.Tensor:
    """``[B, n, k, ...]``: how each mutant's changed units differ from the original's, at the
    input of the mixing layer (before any flatten). ``activations[j]`` is the input of child j.
    """
    chain, before = _channel_chain(children, i, q)
    name, layer = mutants.layers[0], children[i]
    filters = mutants.filters[name]
    n, k = filters.shape
    batch = len(activations[0])
    if _negates(layer, mutants):
        # A negated filter outputs minus the original: the change of a channel is the same in
        # every mutant that negates it, so it is computed once per channel and then gathered.
        change = _run(chain, -activations[i + 1]) - activations[before]
        return change[:, filters]
    weight = mutants.weight[name].reshape(n * k, *mutants.weight[name].shape[2:])
    bias = mutants.bias[name]
    bias = None if bias is None else bias.reshape(n * k)
    if isinstance(layer, nn.Conv2d):
        new = F.conv2d(activations[i], weight, bias, layer.stride, layer.padding, layer.dilation)
    else:
        new = F.linear(activations[i], weight, bias)
    new = _run(chain, new.reshape(batch * n, k, *new.shape[2:]))
    return new.reshape(batch, n, k, *new.shape[2:]) - activations[before][:, filters]


def _mixing_update(
    mixing: nn.Module, change: torch.Tensor, filters: torch.Tensor, units: int
) -> torch.Tensor:
    """``[B, n, ...]``: what each mutant's unit changes add to the mixing layer's output.

    The layer is linear, so ``W (a + d) = W a + W[:, S] d``: only the weight slices of the
    changed units ``S`` are needed.
    """
    batch, n, k = change.shape[:3]
    if isinstance(mixing, nn.Conv2d):
        # One group per mutant: mutant m's changes meet only its own slice W[:, S_m].
        slices = mixing.weight[:, filters].transpose(0, 1)  # [n, out, k, kh, kw]
        update = F.conv2d(
            change.reshape(batch, n * k, *change.shape[3:]),
            slices.reshape(n * mixing.out_channels, k, *slices.shape[3:]),
            None,
            mixing.stride,
            mixing.padding,
            mixing.dilation,
            groups=n,
        )
        return update.reshape(batch, n, mixing.out_channels, *update.shape[2:])
    per_unit = mixing.in_features // units  # flattened positions of one channel
    slices = mixing.weight.reshape(mixing.out_features, units, per_unit)[:, filters]
    return torch.einsum("bnks,onks->bno", change.reshape(batch, n, k, per_unit), slices)


def _delta_logits(
    model: nn.Module, mutants: Mutants, x: torch.Tensor, plan: tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits of the model ``[B, K]`` and of every mutant ``[n, B, K]``, pushing only changes.

    The original forward pass runs once. A mutant differs from it only in the ``k`` changed
    units of its mutated layer; only those are computed and carried through the channel-wise
    layers, and their difference from the original enters the next (linear) layer through the
    matching weight slice. Only the layers after that run in full for each mutant.
    """
    children = [module for _, module in model.named_children()]
    i, q = plan
    activations = [x]
    for module in children[: q + 1]:
        activations.append(module(activations[-1]))
    filters = mutants.filters[mutants.layers[0]]
    change = _unit_changes(children, activations, mutants, i, q)
    update = _mixing_update(children[q], change, filters, activations[i + 1].shape[1])
    batch, n = update.shape[:2]
    mutated = (activations[q + 1].unsqueeze(1) + update).reshape(batch * n, *update.shape[2:])
    mutated = _run(children[q + 1 :], mutated).reshape(batch, n, -1).transpose(0, 1)
    return _run(children[q + 1 :], activations[q + 1]), mutated


def _vmap_logits(
    model: nn.Module, mutants: Mutants, x: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits of the model and of every mutant with ``torch.vmap`` over stacked parameters.

    For a Sequential model the layers before the first mutated one run once; the rest runs
    under ``vmap`` with each mutant's parameters (a batched ``functional_call``).
    """
    children = _children(model)
    prefix_length = 0
    if children is not None:
        names = [name for name, _ in children]
        owners = [layer.split(".")[0] for layer in mutants.layers]
        prefix_length = min(names.index(owner) for owner in owners)
    if prefix_length:
        hidden = model[:prefix_length](x)
        suffix = nn.Sequential(OrderedDict(children[prefix_length:]))
    else:
        hidden, suffix = x, model
    params = mutants.stacked_parameters(model)
    mutated = torch.vmap(lambda p: functional_call(suffix, p, (hidden,)))(params)
    return suffix(hidden), mutated


@torch.no_grad()
def _predictions(
    model: nn.Module, mutants: Mutants, x: torch.Tensor, batch_size: int, strategy: str
) -> tuple[torch.Tensor, torch.Tensor]:
    plan = _delta_plan(model, mutants) if strategy in ("auto", "delta") else None
    if strategy == "delta" and plan is None:
        raise ValueError(
            "strategy 'delta' needs a Sequential model with one mutated layer followed by "
            "channel-wise layers and a Conv2d or Linear; use strategy='vmap'."
        )
    original, mutated = [], []
    for batch in x.split(batch_size):
        if plan is not None:
            logits, mutant_logits = _delta_logits(model, mutants, batch, plan)
        else:
            logits, mutant_logits = _vmap_logits(model, mutants, batch)
        original.append(logits.argmax(dim=1))
        mutated.append(mutant_logits.argmax(dim=2))
    return torch.cat(original), torch.cat(mutated, dim=1)


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
        The original model the mutants were made from (unchanged).
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
    inputs = _check_inputs(model, inputs)
    check_positive_int(batch_size, "batch_size")
    check_choice(strategy, STRATEGIES, "strategy")
    if not isinstance(mutants, Mutants):
        raise TypeError(f"mutants must be Mutants from make_mutants, got {type(mutants).__name__}.")
    model.eval()
    return _predictions(model, mutants, inputs, batch_size, strategy)


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
    return (mutated != original).float().mean(dim=0).cpu()


# --- the detector and how to judge it ----------------------------------------------------------


@torch.no_grad()
def max_softmax(model: nn.Module, inputs: torch.Tensor, *, batch_size: int = 1000) -> torch.Tensor:
    """The model's confidence: the largest softmax probability of each input, ``[N]`` on CPU."""
    inputs = _check_inputs(model, inputs)
    check_positive_int(batch_size, "batch_size")
    model.eval()
    return _logits(model, inputs, batch_size).softmax(dim=1).amax(dim=1).cpu()


def _as_errors(is_error: object, length: int | None = None) -> np.ndarray:
    errors = np.asarray(is_error.cpu() if isinstance(is_error, torch.Tensor) else is_error)
    if errors.ndim != 1 or (length is not None and len(errors) != length):
        raise ValueError(
            f"is_error must be a 1-D array with one entry per prediction ({length}), got shape "
            f"{errors.shape}."
        )
    if not np.isin(errors, (0, 1)).all():
        raise ValueError("is_error must hold booleans (or 0 and 1): True for a wrong prediction.")
    return errors.astype(bool)


def _as_features(features: object) -> np.ndarray:
    array = np.asarray(features.cpu() if isinstance(features, torch.Tensor) else features)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"features must be a numeric [N, D] array, got shape {array.shape}.")
    if not np.isfinite(array).all():
        raise ValueError("features contain NaN or infinite values.")
    return array.astype(np.float64)


DETECTORS = {
    "logistic": "L2-penalised logistic regression (C=0.1) on standardised features",
    "boosting": "gradient-boosted trees (scikit-learn's HistGradientBoostingClassifier)",
}
"""Known detector kinds for :func:`fit_detector`."""


@dataclass(frozen=True)
class ErrorDetector:
    """A trained detector: standardise the features, then score how likely each one is wrong.

    Attributes
    ----------
    kind : str
        A key of :data:`DETECTORS`.
    mean, scale : ndarray
        Per-feature mean and standard deviation of the detector's training data.
    classifier : object
        The fitted scikit-learn classifier.
    """

    kind: str
    mean: np.ndarray
    scale: np.ndarray
    classifier: Any

    def score(self, features: object) -> np.ndarray:
        """Probability that each prediction is wrong, ``[N]`` (higher: more suspicious)."""
        array = _as_features(features)
        if array.shape[1] != len(self.mean):
            raise ValueError(
                f"features must have {len(self.mean)} columns like the training data, got "
                f"{array.shape[1]}."
            )
        return self.classifier.predict_proba((array - self.mean) / self.scale)[:, 1]


def fit_detector(
    features: object,
    is_error: object,
    *,
    kind: str = "logistic",
    seed: int | None = None,
) -> ErrorDetector:
    """Train a detector that tells wrong predictions from right ones.

    Parameters
    ----------
    features : array-like
        ``[N, D]`` (or ``[N]``) features of N predictions, e.g. conductances and the label
        change rate side by side.
    is_error : array-like of bool
        ``[N]``: True where the model's prediction was wrong. Both kinds must occur.
    kind : {"logistic", "boosting"}, default "logistic"
        The classifier (see :data:`DETECTORS`).
    seed : int, optional
        Seed of the classifier's randomness.

    Returns
    -------
    ErrorDetector
        Its ``score(features)`` is the probability of a wrong prediction.
    """

    check_choice(kind, DETECTORS, "kind")
    array = _as_features(features)
    errors = _as_errors(is_error, len(array))
    if errors.all() or not errors.any():
        raise ValueError("is_error must contain both right and wrong predictions to learn from.")
    mean = array.mean(axis=0)
    # A constant feature carries nothing; a unit scale keeps it finite instead of dividing by 0.
    scale = np.where(array.std(axis=0) > 0, array.std(axis=0), 1.0)
    if kind == "logistic":
        # A strong L2 penalty: a few hundred errors and ~100 features overfit a weak one.
        classifier = LogisticRegression(C=0.1, max_iter=2000)
    else:
        classifier = HistGradientBoostingClassifier(
            max_iter=200, learning_rate=0.05, max_leaf_nodes=15, random_state=seed
        )
    classifier.fit((array - mean) / scale, errors)
    return ErrorDetector(kind, mean, scale, classifier)


def compare_feature_sets(
    train: Mapping[str, object],
    train_errors: object,
    test: Mapping[str, object],
    test_errors: object,
    sets: Mapping[str, Sequence[str]],
    *,
    kind: str = "logistic",
    seed: int | None = None,
) -> tuple[Table, dict[str, np.ndarray]]:
    """Train one detector per feature set and measure each one's AUROC on held-out data.

    Parameters
    ----------
    train, test : mapping of str to array-like
        Named features (``[N]`` or ``[N, D]`` each) of the detector's training predictions and
        of the predictions it is judged on, with the same names.
    train_errors, test_errors : array-like of bool
        True where the model's prediction was wrong.
    sets : mapping of str to sequence of str
        Feature set name to the features it joins side by side, e.g.
        ``{"both": ["conductance", "lcr"]}``.
    kind, seed
        As in :func:`fit_detector`.

    Returns
    -------
    table : Table
        One row per set: ``features`` (set name), ``columns`` (number of features), ``auroc``.
    scores : dict of str to ndarray
        Each set's detector scores on ``test`` (for ROC curves and risk-coverage tables).
    """
    rows, scores = [], {}
    for name, members in sets.items():
        if isinstance(members, str) or not members:
            raise ValueError(f"set {name!r} must list feature names, got {members!r}.")
        missing = [m for m in members if m not in train or m not in test]
        if missing:
            raise ValueError(
                f"set {name!r} uses {missing}, not present in both train and test; known "
                f"features are {sorted(set(train) & set(test))}."
            )
        x_train = np.hstack([_as_features(train[m]) for m in members])
        x_test = np.hstack([_as_features(test[m]) for m in members])
        detector = fit_detector(x_train, train_errors, kind=kind, seed=seed)
        scores[name] = detector.score(x_test)
        rows.append(
            {
                "features": name,
                "columns": x_train.shape[1],
                "auroc": auroc(scores[name], test_errors),
            }
        )
    return Table(rows), scores


def auroc(scores: object, is_error: object) -> float:
    """Area under the ROC curve of ``scores`` for finding the wrong predictions.

    1 means every wrong prediction scores higher than every right one; 0.5 is chance.
    """

    scores = _as_features(scores)
    if scores.shape[1] != 1:
        raise ValueError(f"scores must be one number per prediction, got shape {scores.shape}.")
    errors = _as_errors(is_error, len(scores))
    if errors.all() or not errors.any():
        raise ValueError(
            "AUROC needs both right and wrong predictions; is_error has only one kind."
        )
    return float(roc_auc_score(errors, scores[:, 0]))


def choose_threshold(scores: object, is_error: object) -> float:
    """The score above which a prediction is cancelled, chosen on validation data.

    Takes the threshold that maximises Youden's J (share of errors caught minus share of right
    predictions cancelled): it weighs a missed error and a wrongly cancelled prediction by how
    rare each kind is.

    Returns
    -------
    float
        Cancel a prediction when its score is at least this value.
    """

    scores = _as_features(scores)[:, 0]
    errors = _as_errors(is_error, len(scores))
    if errors.all() or not errors.any():
        raise ValueError("choosing a threshold needs both right and wrong predictions.")
    fpr, tpr, thresholds = roc_curve(errors, scores)
    best = int(np.argmax(tpr - fpr))
    return float(min(thresholds[best], np.max(scores)))


def risk_coverage(
    scores: object,
    is_error: object,
    cancelled: Sequence[float] = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5),
) -> Table:
    """Accuracy of the kept predictions when the most suspicious ones are cancelled.

    Parameters
    ----------
    scores : array-like
        ``[N]`` suspicion scores (higher: more likely wrong).
    is_error : array-like of bool
        ``[N]`` True where the prediction is wrong.
    cancelled : sequence of float, default (0, 0.05, ..., 0.5)
        Shares of predictions to cancel, each in [0, 1).

    Returns
    -------
    Table
        One row per share: ``cancelled``, ``coverage`` (share kept), ``kept_accuracy`` and
        ``errors_caught`` (share of all wrong predictions among the cancelled ones).
    """
    scores = _as_features(scores)[:, 0]
    errors = _as_errors(is_error, len(scores))
    # Most suspicious first; ties keep the data order, so the table is deterministic.
    order = np.argsort(-scores, kind="stable")
    rows = []
    for share in cancelled:
        share = check_probability(share, "cancelled")
        if share >= 1:
            raise ValueError("cancelled shares must be below 1: something must be kept.")
        dropped = int(math.floor(share * len(scores) + 0.5))
        kept = errors[order[dropped:]]
        rows.append(
            {
                "cancelled": share,
                "coverage": len(kept) / len(scores),
                "kept_accuracy": float(1 - kept.mean()),
                "errors_caught": float(errors[order[:dropped]].sum() / max(errors.sum(), 1)),
            }
        )
    return Table(rows)
