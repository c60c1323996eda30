"""Several attribution methods on the same images, scored against the same artifact mask.

``compare_methods`` runs each method through :func:`~failure_modes.explain.methods.attribute`
and scores every map with :mod:`failure_modes.explain.scores`; the result holds the maps and a
pandas table with one row per image x method.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from failure_modes.explain.methods import METHODS, accepts_baselines, attribute
from failure_modes.explain.scores import (
    artifact_mass,
    chance_level,
    pointing_game,
    relevance_rank_accuracy,
)
from failure_modes.utils.validation import as_tensor, check_choice, check_mask, check_targets

__all__ = ["MethodComparison", "compare_methods"]


@dataclass(frozen=True)
class MethodComparison:
    """Maps of several methods on the same images, and one score row per image x method.

    Attributes
    ----------
    maps : dict of str to Tensor
        The attributions of each method, each of the inputs' shape.
    table : pandas.DataFrame
        Columns ``method, image, target, artifact_mass, rank_accuracy, pointing_game, chance``.
    """

    maps: dict[str, torch.Tensor]
    table: pd.DataFrame

    def summary(self) -> pd.DataFrame:
        """Per-method means of the scores, indexed by method in the order they were run (the
        pointing game becomes a hit rate)."""
        scores = ["artifact_mass", "rank_accuracy", "pointing_game", "chance"]
        return self.table.groupby("method", sort=False)[scores].mean()

    def to_text(self, precision: int = 3) -> str:
        """The per-method summary as aligned text."""
        return self.summary().round(precision).to_string()

    def __repr__(self) -> str:
        return self.to_text()


def compare_methods(
    model: nn.Module,
    inputs: torch.Tensor,
    target: int | torch.Tensor,
    masks: torch.Tensor,
    methods: Sequence[str] | None = None,
    *,
    baselines: float | torch.Tensor | None = None,
    batch_size: int | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    progress: bool = True,
) -> MethodComparison:
    """Attribution maps of several methods and their scores against an artifact mask.

    Parameters
    ----------
    model : nn.Module
        A classifier returning logits.
    inputs : Tensor
        ``[N, C, H, W]`` float inputs, prepared as the model expects.
    target : int or Tensor
        The class to explain: one for all inputs or one per input (``[N]``).
    masks : Tensor
        Boolean ``[H, W]`` (the same artifact everywhere) or ``[N, H, W]``.
    methods : sequence of str, optional
        Keys of :data:`METHODS`; default all of them.
    baselines : float or Tensor, optional
        Reference input for the methods that take one (see :func:`accepts_baselines`), e.g.
        the normalised value of a black pixel; default each method's own (zeros).
    batch_size : int, optional
        Inputs per Captum call; default: chosen per method as in :func:`attribute`.
    options : mapping of str to mapping, optional
        Extra options per method, e.g. ``{"integrated_gradients": {"n_steps": 64}}``.
    progress : bool, default True
        Show a progress bar over the methods.

    Returns
    -------
    MethodComparison
        ``.maps`` per method and ``.table`` with one row per image x method; print it for the
        per-method means.

    Examples
    --------
    >>> result = compare_methods(model, x, 7, Square().mask(28, 28))  # doctest: +SKIP
    >>> print(result.summary())  # doctest: +SKIP
    """
    if isinstance(methods, str):
        raise TypeError(f"methods must be a list of method names, got the string {methods!r}.")
    names = list(METHODS) if methods is None else list(methods)
    if not names:
        raise ValueError(f"methods is empty; choose some of {list(METHODS)}.")
    for name in names:
        check_choice(name, METHODS, "method")
    options = dict(options or {})
    for name in options:
        check_choice(name, names, "method in options")
    inputs = as_tensor(inputs, "inputs")
    if not inputs.is_floating_point() or inputs.ndim != 4:
        raise ValueError(
            f"inputs must be a float batch [N, C, H, W], got dtype {inputs.dtype} and shape "
            f"{tuple(inputs.shape)}."
        )
    masks = check_mask(masks, tuple(inputs.shape[-2:]), "masks")
    if masks.ndim == 3 and len(masks) != len(inputs):
        raise ValueError(f"masks must have {len(inputs)} entries, one per input, got {len(masks)}.")
    targets = check_targets(target, len(inputs), "target")
    target_list = targets.tolist()
    maps: dict[str, torch.Tensor] = {}
    columns: dict[str, dict[str, list]] = {}
    share = chance_level(masks).expand(len(inputs)).tolist()
    for name in tqdm(names, desc="methods", disable=not progress, leave=False):
        kwargs = dict(options.get(name, {}))
        if baselines is not None and accepts_baselines(name):
            kwargs.setdefault("baselines", baselines)
        maps[name] = attribute(model, inputs, targets, name, batch_size=batch_size, **kwargs)
        columns[name] = {
            "artifact_mass": artifact_mass(maps[name], masks).tolist(),
            "rank_accuracy": relevance_rank_accuracy(maps[name], masks).tolist(),
            "pointing_game": pointing_game(maps[name], masks).tolist(),
        }
    rows = [
        {
            "method": name,
            "image": index,
            "target": target_list[index],
            **{score: values[index] for score, values in columns[name].items()},
            "chance": share[index],
        }
        for name in names
        for index in range(len(inputs))
    ]
    return MethodComparison(maps, pd.DataFrame(rows))
