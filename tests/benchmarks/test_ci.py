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
import yaml

from fakebench.cli import main
from tests.benchmarks.ci_data import SEGMENTS, build_ci_data
from tests.conftest import sample

DATA = Path(__file__).parent / "data"


@pytest.mark.media
@pytest.mark.slow
def test_ci_benchmark_passes_its_gate_and_a_degraded_blink_fails_it(tmp_path, capsys):
    build_ci_data(sample("A")[0], tmp_path / "ci-data")
    shutil.copy(DATA / "ci.yaml", tmp_path / "ci.yaml")
    run = tmp_path / "run"
    assert main(["bench", "run", "--config", str(tmp_path / "ci.yaml"), "--out", str(run), "-q"]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    clean = next(r for r in metrics["metrics"] if r["perturbation"] == "none" and r["unit"] == "video")
    assert (clean["n_real"], clean["n_fake"], clean["n_groups"]) == (SEGMENTS, SEGMENTS, SEGMENTS)
    assert clean["resampled"] == "source group"
    assert clean["auc"] >= 0.75, "blink no longer tells real blinking from a slowed clip"
    baseline = DATA / "ci-baseline.json"
    if os.environ.get("FAKEBENCH_WRITE_CI_BASELINE"):
        assert main(["bench", "gate", str(run), "--baseline", str(baseline), "--write-baseline"]) == 0
    capsys.readouterr()
    status = main(["bench", "gate", str(run), "--baseline", str(baseline)])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "gate: passed" in out and f"{2 * SEGMENTS} shared videos ({SEGMENTS} source groups" in out
    assert main(["bench", "report", str(run), "--out", str(tmp_path / "report.html"), "-q"]) == 0

    # blink that counts only eyes closed by 90 %: it finds almost no blinks anywhere and loses its separation
    config = yaml.safe_load((tmp_path / "ci.yaml").read_text())
    config["detectors"] = [{"name": "blink", "config": {"min_seconds": 8.0, "min_depth": 0.9}}]
    (tmp_path / "degraded.yaml").write_text(yaml.safe_dump(config))
    worse = tmp_path / "degraded"
    assert main(["bench", "run", "--config", str(tmp_path / "degraded.yaml"), "--out", str(worse), "-q"]) == 0
    capsys.readouterr()
    status = main(["bench", "gate", str(worse), "--baseline", str(baseline)])
    out = capsys.readouterr().out
    assert status == 1, out
    assert "FAIL blink on ci (none 0, video)" in out and "significant" in out and "gate: FAILED" in out
