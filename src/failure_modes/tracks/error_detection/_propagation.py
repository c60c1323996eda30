"""Evaluating all mutants together, without a copy of the model for any of them.

Two strategies. ``delta`` runs the original forward pass once; a mutant differs from it only in
the few changed units of its mutated layer, so only those are computed and pushed, through the
matching slice of the weights, into the next (linear) layer. ``vmap`` runs the layers before the
first mutated one once and the rest under ``torch.vmap`` with each mutant's stacked parameters.

The functions here see mutants only through :class:`MutatedFilters` (which
:class:`~failure_modes.tracks.error_detection.mutants.Mutants` is), so drawing mutants and
evaluating them stay two modules.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Protocol

import torch
from torch import nn
from torch.func import functional_call
from torch.nn import functional as F

__all__ = ["STRATEGIES", "MutatedFilters", "predictions", "stacked_parameters"]

STRATEGIES = ("auto", "delta", "vmap")
"""How :func:`predictions` evaluates mutants (see the module's docstring)."""

# Layers that act on every channel separately and have no parameters: a change in some channels
# of their input changes only the same channels of their output.
_CHANNELWISE = (nn.ReLU, nn.MaxPool2d, nn.AvgPool2d, nn.Identity, nn.Dropout)


class MutatedFilters(Protocol):
    """What evaluating mutants needs to know of them: the changed filters, per layer."""

    layers: tuple[str, ...]
    filters: dict[str, torch.Tensor]
    weight: dict[str, torch.Tensor]
    bias: dict[str, torch.Tensor | None]

    def __len__(self) -> int: ...


def stacked_parameters(model: nn.Module, mutants: MutatedFilters) -> dict[str, torch.Tensor]:
    """Full parameters of the mutated layers, stacked over mutants: ``{name: [n, ...]}``.

    Made for ``torch.func.functional_call`` under ``torch.vmap``; parameters of layers that are
    not mutated are left out (the model's own are used).
    """
    stacked = {}
    count = len(mutants)
    rows = torch.arange(count)[:, None]
    for name in mutants.layers:
        module = model.get_submodule(name)
        weight = module.weight.detach().expand(count, *module.weight.shape).clone()
        weight[rows, mutants.filters[name]] = mutants.weight[name].to(weight)
        stacked[f"{name}.weight"] = weight
        if mutants.bias[name] is not None:
            bias = module.bias.detach().expand(count, *module.bias.shape).clone()
            bias[rows, mutants.filters[name]] = mutants.bias[name].to(bias)
            stacked[f"{name}.bias"] = bias
    return stacked


def _children(model: nn.Module) -> list[tuple[str, nn.Module]] | None:
    return list(model.named_children()) if isinstance(model, nn.Sequential) else None


def _delta_plan(model: nn.Module, mutants: MutatedFilters) -> tuple[int, int] | None:
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


def _negates(layer: nn.Module, mutants: MutatedFilters) -> bool:
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
    children: list[nn.Module],
    activations: list[torch.Tensor],
    mutants: MutatedFilters,
    i: int,
    q: int,
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
    model: nn.Module, mutants: MutatedFilters, x: torch.Tensor, plan: tuple[int, int]
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
    model: nn.Module, mutants: MutatedFilters, x: torch.Tensor
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
    params = stacked_parameters(model, mutants)
    mutated = torch.vmap(lambda p: functional_call(suffix, p, (hidden,)))(params)
    return suffix(hidden), mutated


@torch.no_grad()
def predictions(
    model: nn.Module, mutants: MutatedFilters, x: torch.Tensor, batch_size: int, strategy: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Classes predicted by the model ``[N]`` and by every mutant ``[n, N]``, unchecked inputs.

    ``strategy`` is one of :data:`STRATEGIES`; the model must be in eval mode already.
    """
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
