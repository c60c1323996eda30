"""Benchmark: counterfactuals for the reference model's test mistakes, batched vs one at a time.

Run from the repository root::

    python bench/bench_counterfactual.py            # 200 mistakes, CPU
    python bench/bench_counterfactual.py --quick    # 40 mistakes
    python bench/bench_counterfactual.py --device cuda

Prints a table and writes ``bench/results/counterfactual.json``. Target: well under 0.5 s per
image batched on a 2-core CPU. Wall-clock times depend on everything else the machine runs;
the JSON records the load average so a reader can tell a busy machine from a slow method.
"""

from __future__ import annotations

import time

import common
import torch

from failure_modes.data import normalization, to_tensors
from failure_modes.explain.contrastive import misclassified
from failure_modes.explain.counterfactual import counterfactual
from failure_modes.models import load_reference_model
from failure_modes.models.reference import reference_splits

# The settings of the notebook's main (sparse) counterfactuals.
SETTINGS = {"distance": "l1", "weight": 0.2, "margin": 2.0}


def run(n_images: int, device: str) -> dict:
    """Time batched and one-at-a-time counterfactuals for the first ``n_images`` mistakes."""
    model = load_reference_model().to(device)
    test = reference_splits()["test"]
    mistakes = misclassified(model, test)[:n_images]
    inputs, _ = to_tensors(test)
    images = inputs[mistakes.index].to(device)
    targets = torch.as_tensor(mistakes.true, device=device)
    norm = normalization(test)
    counterfactual(model, images[:2], targets[:2], normalization=norm, **SETTINGS)  # warm-up

    started = time.perf_counter()
    batched = counterfactual(model, images, targets, normalization=norm, **SETTINGS)
    batched_seconds = time.perf_counter() - started

    started = time.perf_counter()
    single = [
        counterfactual(model, images[k], targets[k], normalization=norm, **SETTINGS)
        for k in range(len(images))
    ]
    single_seconds = time.perf_counter() - started

    # Batches of different sizes round differently, which can move a stop by one step, so
    # agreement is counted per image rather than required bit for bit.
    gaps = torch.stack(
        [(one.change[0] - batched.change[k]).abs().max() for k, one in enumerate(single)]
    )
    agree = float((gaps < 1e-3).float().mean())
    return {
        "images": len(images),
        "settings": SETTINGS,
        "batched_seconds": round(batched_seconds, 2),
        "single_seconds": round(single_seconds, 2),
        "batched_seconds_per_image": round(batched_seconds / len(images), 4),
        "single_seconds_per_image": round(single_seconds / len(images), 4),
        "speedup": round(single_seconds / batched_seconds, 2),
        "share_agreeing_batched_and_single": round(agree, 4),
        "largest_pixel_gap_batched_vs_single": round(float(gaps.max()), 5),
        "validity": round(float(batched.success.float().mean()), 4),
        "median_l1": round(float(batched.l1.median()), 3),
        "median_changed_share": round(float(batched.changed_share.median()), 4),
        "mean_steps": round(float(batched.steps.float().mean()), 1),
        "load_average_after": common.load_average(),
    }


def main() -> None:
    parser = common.parser(__doc__.splitlines()[0], "counterfactual", quick="40 images, not 200")
    parser.add_argument("--images", type=int, default=None, help="number of mistakes")
    args = parser.parse_args()
    n_images = args.images or (40 if args.quick else 200)
    before = common.machine(args.device)
    result = {"machine": before, **run(n_images, args.device)}
    rows = [
        ("images", result["images"]),
        ("batched, s", result["batched_seconds"]),
        ("one at a time, s", result["single_seconds"]),
        ("batched, s / image", result["batched_seconds_per_image"]),
        ("one at a time, s / image", result["single_seconds_per_image"]),
        ("speed-up", result["speedup"]),
        ("agree with one at a time", result["share_agreeing_batched_and_single"]),
        ("validity", result["validity"]),
        ("median L1", result["median_l1"]),
        ("median share changed", result["median_changed_share"]),
        ("threads", before["threads"]),
        ("load average before", before["load_average"]),
        ("load average after", result["load_average_after"]),
    ]
    for name, value in rows:
        print(f"{name:<26}{value}")
    common.write_json(args.output, result)


if __name__ == "__main__":
    main()
