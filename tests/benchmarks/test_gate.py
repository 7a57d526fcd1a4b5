"""The gate fails on an injected AUC drop, passes on noise, and says why."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from fakebench.benchmarks import gate
from fakebench.benchmarks.runner import read_run
from fakebench.cli import main
from fakebench.errors import FakebenchError
from tests.benchmarks.conftest import simulated_predictions, write_run


@pytest.fixture
def baseline_run(tmp_path):
    return write_run(tmp_path / "base", simulated_predictions(seed=0, detectors=("blink", "artifacts")))


def test_noise_passes_and_an_injected_drop_fails(tmp_path, baseline_run):
    baseline = gate.baseline_from_metrics(read_run(baseline_run)[1])
    assert {e["detector"] for e in baseline["entries"]} == {"blink", "artifacts"}
    for seed in (1, 2, 3):  # same detectors, new draws: the AUC moves by noise only
        _, noisy = read_run(write_run(tmp_path / f"noise{seed}", simulated_predictions(seed=seed,
                                                                                     detectors=("blink", "artifacts"))))
        result = gate.check(noisy, baseline, max_drop=0.02)
        assert result.passed, result.lines
    dropped = simulated_predictions(seed=4, detectors=("blink",))
    dropped = pd.concat([dropped, simulated_predictions(seed=5, shift=0.8, detectors=("artifacts",))])  # artifacts worse
    _, worse = read_run(write_run(tmp_path / "drop", dropped.reset_index(drop=True)))
    result = gate.check(worse, baseline, max_drop=0.02)
    assert not result.passed
    failed = [c for c in result.checks if c["verdict"] == "FAIL"]
    assert [c["detector"] for c in failed] == ["artifacts"]
    assert "drop" in failed[0]["why"] and "noise of the difference" in failed[0]["why"]


def test_a_missing_or_undefined_row_fails(tmp_path, baseline_run):
    baseline = gate.baseline_from_metrics(read_run(baseline_run)[1])
    _, only_blink = read_run(write_run(tmp_path / "blink", simulated_predictions(seed=1)))
    result = gate.check(only_blink, baseline)
    assert not result.passed and any("missing" in line and "artifacts" in line for line in result.lines)


def test_a_drop_within_the_noise_of_the_difference_passes(tmp_path):
    _, m = read_run(write_run(tmp_path / "small", simulated_predictions(seed=0, n_videos=20)))
    row = next(r for r in m["metrics"] if r["unit"] == "video")
    baseline = {"entries": [{**{k: row[k] for k in gate.KEY}, "auc": 0.90, "auc_lo": 0.86, "auc_hi": 0.94}]}
    # se of each side 0.0204: the difference's 95 % noise is 1.96 * sqrt(2) * 0.0204 = 0.057
    near = {**m, "metrics": [{**row, "auc": 0.85, "auc_lo": 0.81, "auc_hi": 0.89}]}
    result = gate.check(near, baseline, max_drop=0.02)
    assert result.passed and "noise" in result.lines[0]
    far = {**m, "metrics": [{**row, "auc": 0.83, "auc_lo": 0.79, "auc_hi": 0.87}]}
    result = gate.check(far, baseline, max_drop=0.02)
    assert not result.passed and "drop 0.070 > 0.02 and > 0.057" in result.lines[0]
    exact = {**m, "metrics": [{**row, "auc": 0.87, "auc_lo": None, "auc_hi": None}]}
    no_ci = {"entries": [{**baseline["entries"][0], "auc_lo": None, "auc_hi": None}]}
    assert "margin alone" in gate.check(exact, no_ci, max_drop=0.02).lines[0]


def test_cli_writes_a_baseline_and_exits_1_on_a_drop(tmp_path, baseline_run, capsys):
    baseline = tmp_path / "baseline.json"
    assert main(["bench", "gate", str(baseline_run), "--baseline", str(baseline), "--write-baseline"]) == 0
    assert json.loads(baseline.read_text())["schema"] == gate.SCHEMA
    assert main(["bench", "gate", str(baseline_run), "--baseline", str(baseline)]) == 0
    assert "gate: passed" in capsys.readouterr().out
    worse = write_run(tmp_path / "worse", simulated_predictions(seed=9, shift=0.5, detectors=("blink", "artifacts")))
    assert main(["bench", "gate", str(worse), "--baseline", str(baseline), "--max-drop", "0.05"]) == 1
    out = capsys.readouterr().out
    assert "FAIL blink on sim (none 0, video): AUC" in out and "gate: FAILED" in out


def test_bad_baselines_and_margins_are_refused(tmp_path, baseline_run):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"entries": []}))
    with pytest.raises(FakebenchError, match="write-baseline"):
        gate.read_baseline(bad)
    with pytest.raises(FakebenchError, match="max-drop"):
        gate.check(read_run(baseline_run)[1], {"entries": []}, max_drop=-1)
    assert main(["bench", "gate", str(tmp_path / "nowhere"), "--baseline", str(bad)]) == 2
