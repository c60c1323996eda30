"""Benchmark: every attribution method on 1,000 test images of a trained DenseModel.

Run from the repository root::

    python bench/bench_attribution.py                  # on the CPU (or --device cuda)
    python bench/bench_attribution.py --quick          # smoke run: 100 images, 10 unbatched

For each method of ``failure_modes.explain.attribution.METHODS`` two ways to explain the same images:

- **batched**: ``attribute(...)`` with the library's default batch size, chosen per method so
  that about ``ROWS_PER_PASS`` (1,024) model inputs go through each forward pass (32 images for
  Integrated Gradients' 32 steps, 8 for its 128-sample noise tunnel; occlusion also evaluates 16
  window positions per pass); the table shows the size used;
- **one at a time**: ``batch_size=1`` and, for occlusion, one window per forward pass, the way
  a loop over images in a typical notebook does it.

The one-at-a-time side runs on a subset (``--single``, default 100 images) and its rate is
reported per image, so the two sides compare directly. Prints images per second per method and
the ratio, and writes ``bench/results/attribution.json`` (with the load average before and
after: wall-clock times depend on everything else the machine runs).
"""

from __future__ import annotations

import time
import warnings

import common
import pandas as pd
import torch

from failure_modes.data import load_mnist, to_tensors
from failure_modes.data.tensors import black_baseline
from failure_modes.explain.attribution import METHODS, ROWS_PER_PASS, attribute, default_batch_size
from failure_modes.models.training import pick_device
from failure_modes.tracks.clever_hans import train_dense


def _options(method: str, baseline: float, *, batched: bool) -> dict:
    options = {}
    if method in (
        "integrated_gradients",
        "deep_lift",
        "gradient_shap",
        "occlusion",
        "noise_tunnel_ig",
    ):
        options["baselines"] = baseline
    if method == "occlusion" and not batched:
        options["perturbations_per_eval"] = 1
    return options


def _rate(model, inputs, targets, method, baseline, *, batched: bool) -> tuple[float, float]:
    """Images per second and seconds taken for one method on ``inputs``."""
    options = _options(method, baseline, batched=batched)
    batch_size = None if batched else 1
    started = time.perf_counter()
    attribute(model, inputs, targets, method, batch_size=batch_size, **options)
    if inputs.device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    return len(inputs) / seconds, seconds


def run(n_images: int, n_single: int, device: torch.device) -> dict:
    """Time every method batched on ``n_images`` and one at a time on ``n_single``."""
    train, test = load_mnist(train=True), load_mnist(train=False)
    model = train_dense(train, seed=0, progress=False).to(device).eval()
    inputs, _ = to_tensors(test)
    inputs = inputs[:n_images].to(device)
    with torch.no_grad():
        targets = model(inputs).argmax(dim=1)  # explain the predicted class, as one usually does
    baseline = black_baseline(test)
    rows = []
    for method in METHODS:
        # Warm up (first-call allocations, hooks, kernels) outside the timing.
        attribute(
            model, inputs[:2], targets[:2], method, **_options(method, baseline, batched=True)
        )
        batched, batched_s = _rate(model, inputs, targets, method, baseline, batched=True)
        single, single_s = _rate(
            model, inputs[:n_single], targets[:n_single], method, baseline, batched=False
        )
        rows.append(
            {
                "method": method,
                "batch size": default_batch_size(method),
                "batched img/s": batched,
                "one-at-a-time img/s": single,
                "speed-up": batched / single,
                "batched s": batched_s,
                f"one-at-a-time s ({n_single} img)": single_s,
            }
        )
        print(
            f"{method}: {batched:.0f} img/s batched, {single:.0f} img/s one at a time", flush=True
        )
    return {
        "images_batched": len(inputs),
        "images_one_at_a_time": n_single,
        "rows_per_pass": ROWS_PER_PASS,
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = common.parser(
        __doc__.splitlines()[0], "attribution", quick="100 images, 10 one at a time"
    )
    parser.add_argument("--images", type=int, default=1000, help="images explained in batches")
    parser.add_argument("--single", type=int, default=100, help="images explained one at a time")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", module="captum")
    n_images, n_single = (100, 10) if args.quick else (args.images, args.single)
    device = pick_device(args.device)
    before = common.machine(device)
    started = time.perf_counter()
    result = run(n_images, min(n_single, n_images), device)
    result.update(
        quick=args.quick,
        wall_seconds=time.perf_counter() - started,
        machine=before,
        load_average_after=common.load_average(),
    )
    print()
    print(pd.DataFrame(result["rows"]).round(1).to_string(index=False))
    print(
        f"\n{result['images_batched']} images batched, {result['images_one_at_a_time']} one at a "
        f"time, on {device} ({before['threads']} threads); load average before "
        f"{before['load_average']}, after {result['load_average_after']}."
    )
    common.write_json(args.output, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
