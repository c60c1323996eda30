"""Benchmark: label change rate of 100 mutants on 10,000 test images, and layer conductance.

Run from the repository root::

    python bench/bench_error_detection.py                 # on the CPU (or --device cuda)
    python bench/bench_error_detection.py --quick         # smoke run: 1,000 images, 20 mutants

The model is the shipped reference ``SmallCNN``; the images are the reference test split.

**Label change rate.** Mutants are drawn and filtered (90 % of the original accuracy on
``--filter-images`` validation images) as in the notebook. For each kind of mutant (negated
``fc1`` neurons, the notebook's; negated ``conv2`` filters; Gaussian-fuzzed ``conv2``
filters), ``label_change_rate`` evaluates all mutants together on all test images
(``strategy="auto"``: the original forward pass once, then only the changed units through the
next layer). For ``conv2`` the ``torch.vmap`` strategy (the layers before ``conv2`` once, the
rest under ``vmap`` with stacked parameters) is timed too, on ``--vmap-images`` images and
scaled to all of them. The baseline is the plain loop: one deep
copy per mutant with the mutant's weights, predicting all test images in batches of 1,000. The
loop is timed on ``--loop-mutants`` mutants and **extrapolated** linearly to all of them (every
mutant costs one full forward pass over the images, whatever its kind).

**Conductance.** ``layer_conductance`` of ``relu3`` with the one-step trapezoid rule (exact for
the last hidden layer) on the validation and test images (20,000), and with Captum's default
rule at ``n_steps=10`` for ``relu3`` and ``conv2`` on ``--conductance-images`` images, scaled to
20,000 (said so in the table).

Prints a table and writes ``bench/results/error_detection.json`` (with the load average before
and after: wall-clock times depend on everything else the machine runs).
"""

from __future__ import annotations

import time
import warnings

import common
import pandas as pd
import torch

from failure_modes.data import to_tensors
from failure_modes.models import load_reference_model
from failure_modes.models.reference import reference_splits
from failure_modes.models.training import pick_device
from failure_modes.tracks.error_detection import (
    label_change_rate,
    layer_conductance,
    make_mutants,
    mutant_predictions,
)

KINDS = (("fc1", "NAI"), ("conv2", "NAI"), ("conv2", "GF"))
LOOP_BATCH = 1000


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _timed(function, device: torch.device):
    _sync(device)
    started = time.perf_counter()
    result = function()
    _sync(device)
    return result, time.perf_counter() - started


@torch.no_grad()
def _loop(model, mutants, inputs: torch.Tensor, count: int) -> torch.Tensor:
    """The baseline: one deep-copied network per mutant, predicting in batches."""
    predictions = []
    for index in range(count):
        mutant = mutants.materialize(model, index)
        predictions.append(
            torch.cat([mutant(batch).argmax(dim=1) for batch in inputs.split(LOOP_BATCH)])
        )
    return torch.stack(predictions)


def bench_lcr(model, x_filter, y_filter, x_test, args, device) -> list[dict]:
    """Vectorised LCR against the extrapolated loop, for each kind of mutant."""
    rows = []
    for layer, mode in KINDS:
        mutants, make_s = _timed(
            lambda layer=layer, mode=mode: make_mutants(
                model,
                validation=(x_filter, y_filter),
                n=args.mutants,
                fraction=0.1,
                mode=mode,
                layers=layer,
                seed=0,
            ),
            device,
        )
        label_change_rate(model, mutants.select(slice(0, 2)), x_test[:100])  # warm-up
        lcr, lcr_s = _timed(lambda m=mutants: label_change_rate(model, m, x_test), device)
        loop, loop_s = _timed(lambda m=mutants: _loop(model, m, x_test, args.loop_mutants), device)
        _, together = mutant_predictions(model, mutants.select(slice(0, args.loop_mutants)), x_test)
        loop_estimate = loop_s / args.loop_mutants * len(mutants)
        row = {
            "mutants": f"{layer} {mode}",
            "make (tried)": f"{make_s:.1f} s ({mutants.tried})",
            "vectorised s": lcr_s,
            f"loop s ({args.loop_mutants} measured)": loop_s,
            "loop s (extrapolated)": loop_estimate,
            "speed-up": loop_estimate / lcr_s,
            "same as loop": bool(torch.equal(loop, together)),
            "mean LCR": float(lcr.mean()),
            "vmap s (extrapolated)": float("nan"),
        }
        if layer == "conv2" and mode == "NAI":
            some = x_test[: args.vmap_images]
            _, vmap_s = _timed(
                lambda m=mutants, s=some: label_change_rate(model, m, s, strategy="vmap"), device
            )
            row["vmap s (extrapolated)"] = vmap_s * len(x_test) / len(some)
        rows.append(row)
        print(
            f"LCR {layer} {mode}: {lcr_s:.2f} s vectorised, loop about {loop_estimate:.1f} s "
            f"-> {loop_estimate / lcr_s:.1f}x",
            flush=True,
        )
    return rows


def bench_conductance(model, x_all: torch.Tensor, args, device) -> list[dict]:
    """Conductance times for ``x_all`` (exact one-step rule) and path integrals (scaled)."""
    rows = []
    layer_conductance(model, x_all[:10], "relu3")  # warm-up
    _, exact_s = _timed(
        lambda: layer_conductance(model, x_all, "relu3", n_steps=1, method="riemann_trapezoid"),
        device,
    )
    rows.append(
        {
            "layer": "relu3",
            "rule": "riemann_trapezoid, n_steps=1 (exact)",
            "images timed": len(x_all),
            "seconds": exact_s,
            f"s for {len(x_all)} images": exact_s,
        }
    )
    some = x_all[: args.conductance_images]
    for layer in ("relu3", "conv2"):
        _, seconds = _timed(lambda layer=layer: layer_conductance(model, some, layer), device)
        rows.append(
            {
                "layer": layer,
                "rule": "gausslegendre, n_steps=10",
                "images timed": len(some),
                "seconds": seconds,
                f"s for {len(x_all)} images": seconds * len(x_all) / len(some),
            }
        )
    for row in rows:
        print(f"conductance {row['layer']} ({row['rule']}): {row['seconds']:.1f} s", flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = common.parser(
        __doc__.splitlines()[0], "error_detection", quick="1,000 images, 20 mutants"
    )
    parser.add_argument("--mutants", type=int, default=100, help="mutants per kind")
    parser.add_argument("--images", type=int, default=10_000, help="test images for the LCR")
    parser.add_argument("--loop-mutants", type=int, default=2, help="mutants timed in the loop")
    parser.add_argument("--vmap-images", type=int, default=500, help="images timed with vmap")
    parser.add_argument(
        "--conductance-images", type=int, default=1000, help="images timed with n_steps=10"
    )
    parser.add_argument(
        "--filter-images", type=int, default=2000, help="validation images for the mutant filter"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.mutants, args.images, args.vmap_images, args.conductance_images = 20, 1000, 200, 200
        args.filter_images = 1000
    warnings.filterwarnings("ignore", module="captum")
    device = pick_device(args.device)
    before = common.machine(device)
    started = time.perf_counter()

    splits = reference_splits()
    model = load_reference_model().to(device)
    x_val, y_val = (t.to(device) for t in to_tensors(splits["validation"]))
    x_test = to_tensors(splits["test"])[0][: args.images].to(device)
    x_all = torch.cat([x_val[: args.images], x_test])
    n_filter = args.filter_images
    lcr_rows = bench_lcr(model, x_val[:n_filter], y_val[:n_filter], x_test, args, device)
    conductance_rows = bench_conductance(model, x_all, args, device)
    wall = time.perf_counter() - started

    result = {
        "machine": before,
        "quick": args.quick,
        "mutants": args.mutants,
        "images": len(x_test),
        "loop_mutants_measured": args.loop_mutants,
        "loop_note": "loop seconds for all mutants are extrapolated from the measured ones",
        "lcr": lcr_rows,
        "conductance": conductance_rows,
        "wall_seconds": wall,
        "load_average_after": common.load_average(),
    }
    print()
    print(pd.DataFrame(lcr_rows).to_string(index=False, float_format="{:.2f}".format))
    print()
    print(pd.DataFrame(conductance_rows).to_string(index=False, float_format="{:.1f}".format))
    print(
        f"\n{args.mutants} mutants x {len(x_test)} images on {device} ({before['threads']} "
        f"threads); loop timed on {args.loop_mutants} mutants and extrapolated. Whole run "
        f"{wall:.1f} s; load average before {before['load_average']}, after "
        f"{result['load_average_after']}."
    )
    common.write_json(args.output, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
