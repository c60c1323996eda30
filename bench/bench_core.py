"""Benchmark: the core notebook's workload, with our defaults and with a typical course setup.

Run from the repository root::

    python bench/bench_core.py                  # everything, on the CPU
    python bench/bench_core.py --device cuda    # the same on a GPU
    python bench/bench_core.py --quick          # smoke run: small fractions, no notebook

Three workloads, each split into the stages of the notebook (two classifiers; their predictions
on the four model x test-set pairs; Integrated Gradients and artifact mass; three denoisers;
their evaluation on MNIST and FashionMNIST):

- **ours, default data**: the notebook's settings (the defaults of the ``parameters`` cell of
  ``solution.ipynb``, read with papermill) on the default data (offline: 4,000 MNIST training
  digits);
- **ours, full size**: the same settings with 60,000 training images (FashionMNIST stands in for
  MNIST: only the time is measured, not the lessons);
- **typical course, default data**: what a typical course notebook does on the default data —
  UNet depth 3 with 64 feature maps, 5 epochs per denoiser, and prediction one image at a time.

A stage is first timed on a small fraction of its work; when that predicts more than
``--limit`` seconds (10 minutes by default) the stage is not run in full and its time is
extrapolated from the fraction, which the table says. The headless wall time of the solution
notebook is measured too (``failure_modes.course.runner.execute``, its default parameters).

Prints a table and writes ``bench/results/core.json``. Wall-clock times depend on everything
else the machine runs; the JSON records the load average before and after.
"""

from __future__ import annotations

import ast
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import common
import pandas as pd
import papermill
import torch
from torch.utils.data import Dataset, Subset

from failure_modes import data
from failure_modes.course.runner import execute
from failure_modes.data.taint import Grid, Pixel, taint_dataset
from failure_modes.data.tensors import black_baseline, image_tensors
from failure_modes.explain.attribution import attribute
from failure_modes.models import DenseModel, UNet
from failure_modes.models.denoising import add_noise, evaluate_denoiser
from failure_modes.models.evaluation import predict
from failure_modes.models.training import train_classifier, train_denoiser
from failure_modes.utils.devices import pick_device
from failure_modes.utils.seeding import seeded

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "solution.ipynb"
LIMIT_SECONDS = 600
PROBE_FRACTION = 0.05
QUICK_FRACTION = 0.01
# What the issue reports for a typical course notebook on the same data, same machine.
COURSE_REPORTED_MINUTES = 22


# What a typical course notebook changes in our settings: a bigger UNet, trained for longer.
TYPICAL_DENOISER = {"DENOISER_DEPTH": 3, "DENOISER_FMAPS": 64, "DENOISER_EPOCHS": 5}


def notebook_parameters(notebook: Path = NOTEBOOK) -> dict[str, Any]:
    """The default values of the notebook's ``parameters`` cell: the settings it runs with.

    Parameters
    ----------
    notebook : Path, default solution.ipynb
        A built notebook with a cell tagged ``parameters``.

    Returns
    -------
    dict
        ``{"EPOCHS": 5, "DENOISER_DEPTH": 2, ...}``.
    """
    if not notebook.is_file():
        raise FileNotFoundError(
            f"{notebook} is missing: build it with `python -m failure_modes build`"
        )
    found = papermill.inspect_notebook(str(notebook))
    return {name: ast.literal_eval(spec["default"]) for name, spec in found.items()}


@dataclass(frozen=True)
class Setup:
    """How a workload is run: the notebook's settings and how predictions are made."""

    name: str
    settings: Mapping[str, Any]
    one_at_a_time: bool


@dataclass
class Workload:
    """The data one workload runs on."""

    name: str
    train: Dataset
    test: Dataset
    tainted_train: Dataset
    tainted_test: Dataset
    denoiser_train: dict[str, torch.Tensor]
    denoiser_test: dict[str, Dataset]


@dataclass
class StageTime:
    """Seconds of one stage; ``fraction`` < 1 means extrapolated from that share of the work."""

    workload: str
    setup: str
    stage: str
    seconds: float
    fraction: float
    work: str

    @property
    def extrapolated(self) -> bool:
        return self.fraction < 1


# --------------------------------------------------------------------------- data
def _fashion_subset(p: Mapping[str, Any], seed: int) -> Subset:
    """As many FashionMNIST training images as the notebook mixes in, drawn the way it does."""
    fashion = data.load_fashion_mnist(train=True)
    drawn = torch.randperm(len(fashion), generator=torch.Generator().manual_seed(seed))
    return Subset(fashion, drawn[: p["FASHION_TRAIN_SIZE"]].sort().values.tolist())


def _denoiser_test_sets(p: Mapping[str, Any]) -> dict[str, Dataset]:
    sets = {
        "MNIST": data.load_mnist(train=False),
        "FashionMNIST": data.load_fashion_mnist(train=False),
    }
    size = p["DENOISER_TEST_SIZE"]
    return {name: Subset(s, range(min(size, len(s)))) for name, s in sets.items()}


def _workload(
    name: str, train: Dataset, test: Dataset, p: Mapping[str, Any], seed: int
) -> Workload:
    """``train``, ``test`` in MNIST's role: tainted as the notebook does; the denoisers' data."""
    corruptions = {7: Pixel(), 4: Grid(amplitude=p["GRID_AMPLITUDE"])}
    digits = image_tensors(train)
    return Workload(
        name=name,
        train=train,
        test=test,
        tainted_train=taint_dataset(train, corruptions),
        tainted_test=taint_dataset(test, corruptions),
        denoiser_train={
            "MNIST": digits,
            "both": torch.cat([digits, image_tensors(_fashion_subset(p, seed))]),
        },
        denoiser_test=_denoiser_test_sets(p),
    )


def default_workload(p: Mapping[str, Any], seed: int) -> Workload:
    """The notebook's data: MNIST as found (offline: 4,000 / 1,000) and 12,000 FashionMNIST."""
    train, test = data.load_mnist(train=True), data.load_mnist(train=False)
    return _workload(f"default data ({len(train):,} MNIST)", train, test, p, seed)


def full_size_workload(p: Mapping[str, Any], seed: int) -> Workload:
    """60,000 FashionMNIST training images in MNIST's role (its 4s and 7s get the artifacts)."""
    train, test = data.load_fashion_mnist(train=True), data.load_fashion_mnist(train=False)
    return _workload(f"full size ({len(train):,} FashionMNIST as MNIST)", train, test, p, seed)


def _share(n: int, fraction: float, minimum: int = 1) -> int:
    return min(n, max(minimum, math.ceil(n * fraction)))


def _training_share(n: int, epochs: int, fraction: float, minimum: int) -> tuple[int, int]:
    """``(epochs, images)`` whose product is about ``fraction`` of ``epochs`` passes over ``n``."""
    if fraction >= 1:
        return epochs, n
    work = fraction * epochs * n
    if work <= n:
        return 1, min(n, max(minimum, math.ceil(work)))
    return max(1, round(work / n)), n


# --------------------------------------------------------------------------- stages
# Each stage takes the share of its work to do and returns a description of the whole work.
def stage_classifiers(w: Workload, setup: Setup, fraction: float, seed: int, device) -> str:
    s = setup.settings
    for dataset in (w.train, w.tainted_train):
        x, y = data.to_tensors(dataset)
        epochs, n = _training_share(len(x), s["EPOCHS"], fraction, s["BATCH_SIZE"])
        with seeded(seed):
            model = DenseModel(hidden_sizes=s["HIDDEN_SIZES"])
        train_classifier(
            model,
            (x[:n], y[:n]),
            epochs=epochs,
            batch_size=s["BATCH_SIZE"],
            lr=s["LR"],
            seed=seed,
            device=device,
            progress=False,
        )
    return f"2 dense models x {s['EPOCHS']} epochs x {len(w.train):,} images"


@torch.no_grad()
def _predict_one_at_a_time(model: torch.nn.Module, x: torch.Tensor, device) -> torch.Tensor:
    model.to(device).eval()
    return torch.stack([model(image[None].to(device)).argmax(dim=1)[0].cpu() for image in x])


def stage_predictions(w: Workload, setup: Setup, fraction: float, seed: int, device) -> str:
    models = [DenseModel().to(device).eval() for _ in range(2)]
    for model in models:
        for dataset in (w.test, w.tainted_test):
            x, y = data.to_tensors(dataset)
            n = _share(len(x), fraction)
            if setup.one_at_a_time:
                _predict_one_at_a_time(model, x[:n], device)
            else:
                predict(model, (x[:n], y[:n]))
    how = "one image at a time" if setup.one_at_a_time else "in batches of 1,000"
    return f"4 x {len(w.test):,} test images, {how}"


def stage_attributions(w: Workload, setup: Setup, fraction: float, seed: int, device) -> str:
    x, y = data.to_tensors(w.tainted_test)
    models = [DenseModel().to(device).eval() for _ in range(2)]
    steps = setup.settings["IG_STEPS"]
    count = 0
    for label in (7, 4):
        inputs = x[y == label]
        inputs = inputs[: _share(len(inputs), fraction)].to(device)
        count += len(x[y == label])
        for model in models:
            for baseline in (black_baseline(w.tainted_test), 0.0):
                attribute(model, inputs, label, baselines=baseline, n_steps=steps)
    return f"IG ({steps} steps) of 2 models x 2 baselines on {count:,} images"


def stage_denoisers(w: Workload, setup: Setup, fraction: float, seed: int, device) -> str:
    s = setup.settings
    plan = [("MNIST", True), ("both", True), ("both", False)]
    for name, shuffle in plan:
        images = w.denoiser_train[name]
        epochs, n = _training_share(
            len(images), s["DENOISER_EPOCHS"], fraction, s["DENOISER_BATCH_SIZE"]
        )
        model = UNet(depth=s["DENOISER_DEPTH"], num_fmaps=s["DENOISER_FMAPS"])
        train_denoiser(
            model,
            images[:n],
            epochs=epochs,
            batch_size=s["DENOISER_BATCH_SIZE"],
            lr=s["DENOISER_LR"],
            seed=seed,
            device=device,
            shuffle=shuffle,
            progress=False,
            noise_std=s["NOISE_LEVEL"],
        )
    sizes = " + ".join(f"{len(w.denoiser_train[name]):,}" for name, _ in plan)
    return (
        f"3 UNets (depth {s['DENOISER_DEPTH']}, {s['DENOISER_FMAPS']} maps) x "
        f"{s['DENOISER_EPOCHS']} epochs on {sizes} images"
    )


@torch.no_grad()
def _denoise_one_at_a_time(model: torch.nn.Module, noisy: torch.Tensor, device) -> torch.Tensor:
    model.to(device).eval()
    return torch.cat([model(image[None].to(device)).cpu() for image in noisy])


def stage_denoiser_evaluation(w: Workload, setup: Setup, fraction: float, seed: int, device) -> str:
    s = setup.settings
    for _ in range(3):
        model = UNet(depth=s["DENOISER_DEPTH"], num_fmaps=s["DENOISER_FMAPS"]).to(device)
        if setup.one_at_a_time:
            for dataset in w.denoiser_test.values():
                clean = image_tensors(dataset)
                clean = clean[: _share(len(clean), fraction)]
                noisy = add_noise(
                    clean, std=s["NOISE_LEVEL"], generator=torch.Generator().manual_seed(0)
                )
                _denoise_one_at_a_time(model, noisy, device)
        else:
            subsets = {
                name: image_tensors(d)[: _share(len(d), fraction)]
                for name, d in w.denoiser_test.items()
            }
            evaluate_denoiser(model, subsets, std=s["NOISE_LEVEL"], seed=s["EVAL_SEED"])
    total = sum(len(d) for d in w.denoiser_test.values())
    how = "one image at a time" if setup.one_at_a_time else "in batches of 1,000"
    return f"3 denoisers x {total:,} test images, {how}"


STAGES: dict[str, Callable[..., str]] = {
    "classifiers": stage_classifiers,
    "predictions": stage_predictions,
    "attributions": stage_attributions,
    "denoiser training": stage_denoisers,
    "denoiser evaluation": stage_denoiser_evaluation,
}


def _clock(device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter()


def time_stage(
    name: str,
    workload: Workload,
    setup: Setup,
    *,
    seed: int,
    device: torch.device,
    probe: float,
    limit: float,
    quick: bool,
) -> StageTime:
    """Time a stage on ``probe`` of its work; run it in full unless that predicts > ``limit``."""
    stage = STAGES[name]
    start = _clock(device)
    work = stage(workload, setup, probe, seed, device)
    probe_seconds = _clock(device) - start
    estimate = probe_seconds / probe
    if quick or estimate > limit:
        return StageTime(workload.name, setup.name, name, estimate, probe, work)
    start = _clock(device)
    stage(workload, setup, 1.0, seed, device)
    return StageTime(workload.name, setup.name, name, _clock(device) - start, 1.0, work)


def time_notebook(timeout: int) -> float:
    """Headless wall time of ``solution.ipynb`` (default parameters, kernel start included)."""
    start = time.perf_counter()
    execute(NOTEBOOK, timeout=timeout)
    return time.perf_counter() - start


# --------------------------------------------------------------------------- report
def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.1f} s"


def report(times: list[StageTime], notebook_seconds: float | None) -> tuple[pd.DataFrame, dict]:
    """A table of every stage and the totals, and the summary numbers."""
    rows = [
        {
            "workload": t.workload,
            "setup": t.setup,
            "stage": t.stage,
            "time": _minutes(t.seconds),
            "measured": "all" if not t.extrapolated else f"{t.fraction:.0%}, extrapolated",
            "work": t.work,
        }
        for t in times
    ]
    totals: dict[str, float] = {}
    extrapolated: dict[str, bool] = {}
    for t in times:
        key = f"{t.setup} | {t.workload}"
        totals[key] = totals.get(key, 0.0) + t.seconds
        extrapolated[key] = extrapolated.get(key, False) or t.extrapolated
    for key, seconds in totals.items():
        setup, workload = key.split(" | ")
        rows.append(
            {
                "workload": workload,
                "setup": setup,
                "stage": "TOTAL",
                "time": _minutes(seconds),
                "measured": "partly extrapolated" if extrapolated[key] else "all",
                "work": "",
            }
        )
    if notebook_seconds is not None:
        rows.append(
            {
                "workload": "solution.ipynb, default data",
                "setup": "ours",
                "stage": "headless notebook",
                "time": _minutes(notebook_seconds),
                "measured": "all",
                "work": "kernel start, imports, figures included",
            }
        )
    ours = next((s for k, s in totals.items() if k.startswith("ours | default")), None)
    typical = next((s for k, s in totals.items() if k.startswith("typical course")), None)
    summary = {
        "totals_seconds": {k: round(v, 2) for k, v in totals.items()},
        "totals_extrapolated": extrapolated,
        "speedup_typical_over_ours": round(typical / ours, 1) if ours and typical else None,
        "notebook_seconds": round(notebook_seconds, 1) if notebook_seconds is not None else None,
        "course_reported_minutes": COURSE_REPORTED_MINUTES,
    }
    return pd.DataFrame(rows), summary


def main(argv: list[str] | None = None) -> int:
    parser = common.parser(
        __doc__.split("\n\n")[0], "core", quick="1 %% of every stage, no notebook"
    )
    parser.add_argument("--limit", type=float, default=LIMIT_SECONDS, help="seconds per stage")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-notebook", action="store_true", help="skip the notebook run")
    args = parser.parse_args(argv)
    device = pick_device(args.device)
    probe = QUICK_FRACTION if args.quick else PROBE_FRACTION
    before = common.machine(device)
    ours = Setup("ours", notebook_parameters(), one_at_a_time=False)
    typical = Setup("typical course", {**ours.settings, **TYPICAL_DENOISER}, one_at_a_time=True)

    runs = [
        (default_workload(ours.settings, args.seed), ours),
        (full_size_workload(ours.settings, args.seed), ours),
        (default_workload(ours.settings, args.seed), typical),
    ]
    times = []
    for workload, setup in runs:
        for name in STAGES:
            t = time_stage(
                name,
                workload,
                setup,
                seed=args.seed,
                device=device,
                probe=probe,
                limit=args.limit,
                quick=args.quick,
            )
            note = f" (extrapolated from {t.fraction:.0%})" if t.extrapolated else ""
            print(f"{setup.name:15s} {workload.name:40s} {name:20s} {_minutes(t.seconds)}{note}")
            times.append(t)
    notebook_seconds = None
    if not (args.quick or args.no_notebook):
        notebook_seconds = time_notebook(timeout=int(args.limit))

    table, summary = report(times, notebook_seconds)
    print()
    print(table.to_string(index=False))
    print()
    if summary["speedup_typical_over_ours"] is not None:
        print(
            f"typical course / ours on the default data: {summary['speedup_typical_over_ours']}x "
            "(workload only; stages marked 'extrapolated' were timed on a fraction)"
        )
    if notebook_seconds is not None:
        print(f"solution notebook, headless: {_minutes(notebook_seconds)}")
    record = {
        "machine": before,
        "load_average_after": common.load_average(),
        "options": {
            "quick": args.quick,
            "limit_seconds": args.limit,
            "probe_fraction": probe,
            "seed": args.seed,
        },
        "settings": {"ours": dict(ours.settings), "typical": dict(typical.settings)},
        "stages": [{**asdict(t), "extrapolated": t.extrapolated} for t in times],
        "summary": summary,
    }
    common.write_json(args.output, record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
