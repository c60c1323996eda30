"""What every benchmark shares: its command line, a record of the machine, and the JSON it writes.

The scripts run as ``python bench/NAME.py`` from the repository root, so this folder is on
``sys.path`` and they import this module as ``common``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "results"


def parser(
    description: str, name: str, *, quick: str, device: bool = True
) -> argparse.ArgumentParser:
    """The options every benchmark takes: ``--quick``, ``--output`` and ``--device``.

    Parameters
    ----------
    description : str
        First line of the script's docstring.
    name : str
        Stem of the JSON file under ``bench/results/``.
    quick : str
        What ``--quick`` does, for ``--help``.
    device : bool, default True
        Add ``--device`` (default ``cpu``); False for a benchmark that only runs on the CPU.
    """
    result = argparse.ArgumentParser(description=description)
    result.add_argument("--quick", action="store_true", help=f"smoke run: {quick}")
    if device:
        result.add_argument(
            "--device", type=_available_device, default="cpu", help="cpu (default), cuda or mps"
        )
    result.add_argument(
        "--output", type=Path, default=RESULTS / f"{name}.json", help="the JSON file to write"
    )
    return result


def _available_device(name: str) -> str:
    """``--device``'s type: refuse an accelerator this machine does not have, before any work."""
    kind = name.split(":")[0]
    if kind == "cuda" and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError("no CUDA device is available here")
    if kind == "mps" and not torch.backends.mps.is_available():
        raise argparse.ArgumentTypeError("no MPS device is available here")
    return name


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages, or None where the system does not report them."""
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def machine(device: str | torch.device = "cpu") -> dict:
    """What a reader needs to judge a wall-clock time: hardware, torch, threads, load."""
    device = torch.device(device)
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "load_average": load_average(),
    }


def write_json(path: Path, record: dict) -> None:
    """Write ``record`` to ``path`` atomically (a reader never sees half a file) and say so."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".partial")
    partial.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(partial, path)
    print(f"wrote {path}")
