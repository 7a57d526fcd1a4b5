"""The project's CI benchmark: blink on clips of sample A, gated against the committed baseline.

To refresh the baseline after an intended change: run this test with FAKEBENCH_WRITE_CI_BASELINE=1
and commit tests/benchmarks/data/ci-baseline.json with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from fakebench.cli import main
from tests.benchmarks.ci_data import build_ci_data
from tests.conftest import sample

DATA = Path(__file__).parent / "data"


@pytest.mark.media
@pytest.mark.slow
def test_ci_benchmark_passes_its_gate(tmp_path, capsys):
    build_ci_data(sample("A")[0], tmp_path / "ci-data")
    shutil.copy(DATA / "ci.yaml", tmp_path / "ci.yaml")
    run = tmp_path / "run"
    assert main(["bench", "run", "--config", str(tmp_path / "ci.yaml"), "--out", str(run), "-q"]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    clean = next(r for r in metrics["metrics"] if r["perturbation"] == "none" and r["unit"] == "video")
    assert (clean["n_real"], clean["n_fake"]) == (3, 3)
    assert clean["auc"] >= 0.75, "blink no longer tells real blinking from a slowed clip"
    baseline = DATA / "ci-baseline.json"
    if os.environ.get("FAKEBENCH_WRITE_CI_BASELINE"):
        assert main(["bench", "gate", str(run), "--baseline", str(baseline), "--write-baseline"]) == 0
    capsys.readouterr()
    status = main(["bench", "gate", str(run), "--baseline", str(baseline)])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "gate: passed" in out
    assert main(["bench", "report", str(run), "--out", str(tmp_path / "report.html"), "-q"]) == 0
