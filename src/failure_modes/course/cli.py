"""Command line: ``python -m failure_modes {prepare,build,run,train-reference}``."""

from __future__ import annotations

import argparse
import ast
import json
import sys
import time
from pathlib import Path

from failure_modes import data
from failure_modes.course import build, runner
from failure_modes.models import reference
from failure_modes.utils.paths import find_root


def _prepare(args: argparse.Namespace) -> int:

    provenance = data.prepare(args.root)
    print(json.dumps(provenance, indent=2, default=str))
    return 0


def _build(args: argparse.Namespace) -> int:

    if args.check:
        drifted = build.build_all(check=True)
        for path in drifted:
            print(f"out of date: {path}")
        if drifted:
            print("Rebuild with: python -m failure_modes build")
        return 1 if drifted else 0
    for path in build.build_all():
        print(f"built {path}")
    return 0


def parameter_value(text: str) -> object:
    """A ``-p NAME VALUE`` value as Python reads it (``1``, ``0.5``, ``[1, 2]``), else the text."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


class UsageError(ValueError):
    """A command-line argument is wrong; raised before any work is done."""


def _run(args: argparse.Namespace) -> int:
    parameters = {name: parameter_value(value) for name, value in args.parameter or []}
    # Arguments first: a missing notebook must not wait for data preparation.
    if args.timeout < 1:
        raise UsageError(f"--timeout must be at least 1 second, got {args.timeout}.")
    notebooks = [Path(p) for p in args.notebooks] or [find_root() / "solution.ipynb"]
    for notebook in notebooks:
        if not notebook.is_file():
            raise UsageError(
                f"notebook {notebook} does not exist; build it with `python -m failure_modes "
                "build` or check the path."
            )
    started = time.perf_counter()
    for name, record in data.prepare().items():
        print(f"{name}: source {record.get('source')}, sizes {record.get('sizes')}")
    for notebook in notebooks:
        executed = runner.run_notebook(
            notebook.resolve(), timeout=args.timeout, parameters=parameters
        )
        print(f"executed {notebook} -> {executed}")
    print(f"total wall time {time.perf_counter() - started:.1f} s")
    return 0


def _train_reference(args: argparse.Namespace) -> int:
    path = reference.train_reference(seed=args.seed)
    print(f"reference checkpoint written to {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m failure_modes`` and the ``failure-modes`` script."""
    parser = argparse.ArgumentParser(prog="failure-modes", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    prepare = commands.add_parser("prepare", help="prepare MNIST and FashionMNIST")
    prepare.add_argument("--root", default=None, help="data folder (default: see README)")
    prepare.set_defaults(func=_prepare)

    build = commands.add_parser("build", help="build exercise/solution notebooks from notebooks/")
    build.add_argument("--check", action="store_true", help="fail if a built notebook drifted")
    build.set_defaults(func=_build)

    run = commands.add_parser("run", help="execute notebooks headless into reports/")
    run.add_argument("notebooks", nargs="*", help="notebooks to run (default: solution.ipynb)")
    run.add_argument("--timeout", type=int, default=1800, help="seconds allowed per cell")
    run.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        metavar=("NAME", "VALUE"),
        help="a value for the notebook's parameters cell, e.g. -p SEED 1 (repeatable)",
    )
    run.set_defaults(func=_run)

    reference = commands.add_parser(
        "train-reference", help="retrain the FashionMNIST reference CNN checkpoint"
    )
    reference.add_argument("--seed", type=int, default=0)
    reference.set_defaults(func=_train_reference)

    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("failure-modes: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - one line for the user, never a traceback
        print(f"failure-modes: error: {runner.describe_error(error)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
