"""Every benchmark script runs end to end in its quick mode and writes its JSON record.

Speed is not asserted here (it is what the benchmarks print); this only guards the scripts
against breaking when the library changes under them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.bench

BENCH = Path(__file__).resolve().parents[1] / "bench"
SCRIPTS = {
    "bench_attribution.py": [],
    "bench_core.py": [],
    "bench_counterfactual.py": [],
    "bench_error_detection.py": [],
    "bench_mode.py": ["--seeds", "2"],
}


def test_every_benchmark_is_covered():
    assert sorted(path.name for path in BENCH.glob("bench_*.py")) == sorted(SCRIPTS)


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_quick_run_writes_its_record(script, tmp_path):
    output = tmp_path / "result.json"
    command = [sys.executable, str(BENCH / script), "--quick", "--output", str(output)]
    done = subprocess.run(
        command + SCRIPTS[script], cwd=BENCH.parent, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    record = json.loads(output.read_text())
    machine = record["machine"]
    assert machine["torch"] and machine["threads"] >= 1
    assert "load_average" in machine
