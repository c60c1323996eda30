"""The package's folders are its layers (import-linter contracts in pyproject.toml), and the
module names the README gives stay importable."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "src" / "failure_modes"
MAX_LINES = 450

# The README's names and the module each one is.
README_NAMES = {
    "failure_modes.data": "failure_modes.data",
    "failure_modes.taint": "failure_modes.data.taint",
    "failure_modes.models": "failure_modes.models",
    "failure_modes.training": "failure_modes.models.training",
    "failure_modes.evaluation": "failure_modes.models.evaluation",
    "failure_modes.denoising": "failure_modes.models.denoising",
    "failure_modes.attribution": "failure_modes.explain.attribution",
    "failure_modes.contrastive": "failure_modes.explain.contrastive",
    "failure_modes.counterfactual": "failure_modes.explain.counterfactual",
    "failure_modes.plotting": "failure_modes.plotting",
    "failure_modes.error_detection": "failure_modes.tracks.error_detection",
    "failure_modes.similarity": "failure_modes.tracks.mode.similarity",
    "failure_modes.shortcuts": "failure_modes.tracks.clever_hans",
}


def test_import_contracts_hold():
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint, "lint-imports is missing: install the dev extra (pip install -e '.[dev]')"
    result = subprocess.run([lint], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


@pytest.mark.parametrize("name", sorted(README_NAMES))
def test_readme_module_names_import_as_the_same_module(name):
    assert importlib.import_module(name) is importlib.import_module(README_NAMES[name])


def test_no_module_is_over_the_line_budget():
    long = {
        str(path.relative_to(PACKAGE)): n
        for path in PACKAGE.rglob("*.py")
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines (split them by concern): {long}"


# The dev extra (pyproject) and what it pulls in: nothing in the library may need them, so that
# `python -m failure_modes run` works for a student who installed the package alone.
DEV_ONLY = ("pytest", "xdist", "hypothesis", "ruff", "importlinter", "grimp", "nbval")
_BLOCK_DEV_AND_IMPORT_ALL = """
import importlib, pkgutil, sys

# None in sys.modules is how Python spells "not installed" to import and importlib.util.find_spec.
for name in {blocked!r}:
    sys.modules[name] = None
import failure_modes
for info in pkgutil.walk_packages(failure_modes.__path__, "failure_modes."):
    if info.name != "failure_modes.__main__":
        importlib.import_module(info.name)
from failure_modes.course import cli
cli.main(["run", "--help"])
"""


def test_the_library_and_its_command_line_need_no_dev_dependency():
    script = _BLOCK_DEV_AND_IMPORT_ALL.format(blocked=set(DEV_ONLY))
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert "usage:" in result.stdout, result.stderr[-3000:]
