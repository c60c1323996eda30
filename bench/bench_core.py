"""Benchmark: the core notebook's workload, with our defaults and with a typical course setup.

Run from the repository root::

    python bench/bench_core.py                  # everything, on the CPU
    python bench/bench_core.py --device cuda    # the same on a GPU
    python bench/bench_core.py --quick          # smoke run: small fractions, no notebook

Three workloads, each split into the stages of the notebook (two classifiers; their predictions
on the four model x test-set pairs; Integrated Gradients and artifact mass; three denoisers;
their evaluation on MNIST and FashionMNIST):

- **ours, default data**: the notebook's settings (``failure_modes.tracks.core_experiment``) on the
  default data (offline: 4,000 MNIST training digits);
- **ours, full size**: the same settings with 60,000 training images (FashionMNIST stands in for
  MNIST: only the time is measured, not the lessons);
- **typical course, default data**: what a typical course notebook does on the default data —
  UNet depth 3 with 64 feature maps, 5 epochs per denoiser, and prediction one image at a time.

A stage is first timed on a small fraction of its work; when that predicts more than
``--limit`` seconds (10 minutes by default) the stage is not run in full and its time is
extrapolated from the fraction, which the table says. The headless wall time of the solution
notebook is measured too (``failure_modes.course.runner.run_notebook``).

Prints a table and writes ``bench/results/core.json``. Wall-clock times depend on everything
else the machine runs; the JSON records the load average before and after.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import common
import torch
from torch.utils.data import Dataset

from failure_modes import data
from failure_modes.data.taint import taint_dataset
from failure_modes.explain.attribution import attribute
from failure_modes.models import DenseModel, UNet
from failure_modes.models.denoising import add_noise, evaluate_denoiser
from failure_modes.models.evaluation import predict
from failure_modes.models.training import (
    image_tensors,
    pick_device,
    train_classifier,
    train_denoiser,
)
from failure_modes.tracks import core_experiment as core
from failure_modes.utils.table import Table

ROOT = Path(__file__).resolve().parents[1]
LIMIT_SECONDS = 600
PROBE_FRACTION = 0.05
QUICK_FRACTION = 0.01
# What the issue reports for a typical course notebook on the same data, same machine.
COURSE_REPORTED_MINUTES = 22


@dataclass(frozen=True)
class Setup:
    """How a workload is run: the denoisers' settings and how predictions are made."""

    name: str
    denoiser: core.DenoiserSettings
    one_at_a_time: bool


OURS = Setup("ours", core.DENOISER, one_at_a_time=False)
TYPICAL = Setup(
    "typical course",
    replace(core.DENOISER, depth=3, num_fmaps=64, epochs=5),
    one_at_a_time=True,
)


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
def default_workload(seed: int) -> Workload:
    """The notebook's data: MNIST as found (offline: 4,000 / 1,000) and 12,000 FashionMNIST."""
    train, test = data.load_mnist(train=True), data.load_mnist(train=False)
    sets = core.denoiser_training_sets(seed)
    return Workload(
        name=f"default data ({len(train):,} MNIST)",
        train=train,
        test=test,
        tainted_train=taint_dataset(train, core.CORRUPTIONS),
        tainted_test=taint_dataset(test, core.CORRUPTIONS),
        denoiser_train={name: image_tensors(sets[name]) for name in ("MNIST", "both")},
        denoiser_test=core.denoiser_test_sets(),
    )


def full_size_workload(seed: int) -> Workload:
    """60,000 FashionMNIST training images in MNIST's role (its 4s and 7s get the artifacts)."""
    train, test = data.load_fashion_mnist(train=True), data.load_fashion_mnist(train=False)
    extra = core.fashion_subset(train, core.DENOISER.fashion_train_size, seed)
    stand_in = image_tensors(train)
    return Workload(
        name=f"full size ({len(train):,} FashionMNIST as MNIST)",
        train=train,
        test=test,
        tainted_train=taint_dataset(train, core.CORRUPTIONS),
        tainted_test=taint_dataset(test, core.CORRUPTIONS),
        denoiser_train={
            "MNIST": stand_in,
            "both": torch.cat([stand_in, image_tensors(extra)]),
        },
        denoiser_test=core.denoiser_test_sets(),
    )


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
    s = core.CLASSIFIER
    for dataset in (w.train, w.tainted_train):
        x, y = data.to_tensors(dataset)
        epochs, n = _training_share(len(x), s.epochs, fraction, s.batch_size)
        train_classifier(
            core.make_classifier(seed),
            (x[:n], y[:n]),
            epochs=epochs,
            batch_size=s.batch_size,
            lr=s.lr,
            seed=seed,
            device=device,
            progress=False,
        )
    return f"2 dense models x {s.epochs} epochs x {len(w.train):,} images"


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
                predict(model, (x[:n], y[:n]), device=device)
    how = "one image at a time" if setup.one_at_a_time else "in batches of 1,000"
    return f"4 x {len(w.test):,} test images, {how}"


def stage_attributions(w: Workload, setup: Setup, fraction: float, seed: int, device) -> str:
    x, y = data.to_tensors(w.tainted_test)
    models = [DenseModel().to(device).eval() for _ in range(2)]
    count = 0
    for label in (core.LOCAL_LABEL, core.GLOBAL_LABEL):
        images = x[y == label]
        images = images[: _share(len(images), fraction)].to(device)
        count += len(x[y == label])
        baselines = (core.black_baseline(images, w.tainted_test), 0.0)
        for model in models:
            for baseline in baselines:
                attribute(
                    model, images, label, baselines=baseline, n_steps=core.CLASSIFIER.ig_steps
                )
    return f"IG ({core.CLASSIFIER.ig_steps} steps) of 2 models x 2 baselines on {count:,} images"


def stage_denoisers(w: Workload, setup: Setup, fraction: float, seed: int, device) -> str:
    s = setup.denoiser
    plan = [("MNIST", True), ("both", True), ("both", False)]
    for name, shuffle in plan:
        images = w.denoiser_train[name]
        epochs, n = _training_share(len(images), s.epochs, fraction, s.batch_size)
        model = UNet(depth=s.depth, num_fmaps=s.num_fmaps)
        train_denoiser(
            model,
            images[:n],
            epochs=epochs,
            batch_size=s.batch_size,
            lr=s.lr,
            seed=seed,
            device=device,
            shuffle=shuffle,
            progress=False,
            noise_std=s.noise_std,
        )
    sizes = " + ".join(f"{len(w.denoiser_train[name]):,}" for name, _ in plan)
    return f"3 UNets (depth {s.depth}, {s.num_fmaps} maps) x {s.epochs} epochs on {sizes} images"


@torch.no_grad()
def _denoise_one_at_a_time(model: torch.nn.Module, noisy: torch.Tensor, device) -> torch.Tensor:
    model.to(device).eval()
    return torch.cat([model(image[None].to(device)).cpu() for image in noisy])


def stage_denoiser_evaluation(w: Workload, setup: Setup, fraction: float, seed: int, device) -> str:
    s = setup.denoiser
    for _ in range(3):
        model = UNet(depth=s.depth, num_fmaps=s.num_fmaps)
        if setup.one_at_a_time:
            for dataset in w.denoiser_test.values():
                clean = image_tensors(dataset)
                clean = clean[: _share(len(clean), fraction)]
                noisy = add_noise(
                    clean, std=s.noise_std, generator=torch.Generator().manual_seed(0)
                )
                _denoise_one_at_a_time(model, noisy, device)
        else:
            subsets = {
                name: image_tensors(d)[: _share(len(d), fraction)]
                for name, d in w.denoiser_test.items()
            }
            evaluate_denoiser(model, subsets, std=s.noise_std, seed=s.eval_seed, device=device)
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


def time_notebook(timeout: int) -> float | None:
    """Headless wall time of ``solution.ipynb`` (kernel start included); None if it is missing."""
    from failure_modes.course.runner import run_notebook

    notebook = ROOT / "solution.ipynb"
    if not notebook.is_file():
        print(f"{notebook} is missing: build it with `python -m failure_modes build`")
        return None
    with tempfile.TemporaryDirectory() as out_dir:
        start = time.perf_counter()
        run_notebook(notebook, out_dir=Path(out_dir), timeout=timeout)
        return time.perf_counter() - start


# --------------------------------------------------------------------------- report
def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.1f} s"


def report(times: list[StageTime], notebook_seconds: float | None) -> tuple[Table, dict]:
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
    return Table(rows), summary


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

    runs = [
        (default_workload(args.seed), OURS),
        (full_size_workload(args.seed), OURS),
        (default_workload(args.seed), TYPICAL),
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
    print(table)
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
        "settings": {
            "classifier": asdict(core.CLASSIFIER),
            "ours": asdict(OURS.denoiser),
            "typical": asdict(TYPICAL.denoiser),
        },
        "stages": [{**asdict(t), "extrapolated": t.extrapolated} for t in times],
        "summary": summary,
    }
    common.write_json(args.output, record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
