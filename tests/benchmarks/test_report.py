"""The report builds from the files of run folders alone; the detectability curve from a generated set."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import yaml

from fakebench.benchmarks import curve, report
from fakebench.cli import main
from fakebench.errors import FakebenchError
from tests.benchmarks.conftest import simulated_predictions, write_run
from tests.datasets.conftest import build_generated


def full_run(tmp_path):
    pert = (("none", 0), ("jpeg", 1), ("jpeg", 3), ("blur", 2))
    pred = pd.concat([simulated_predictions(seed=0, detectors=("artifacts",), frames=3, perturbations=pert, n_videos=60),
                      simulated_predictions(seed=1, detectors=("blink",), perturbations=pert, n_videos=60)])
    folder = write_run(tmp_path / "run", pred.reset_index(drop=True), n_boot=100)
    fakes, _, _ = build_generated(tmp_path / "gen")
    from fakebench.datasets import index_layout

    index = index_layout("generated", fakes)
    videos = index.rename(columns={"dataset": "index_dataset"}).assign(dataset="sim")
    videos.to_parquet(folder / "videos.parquet", index=False)
    (folder / "throughput.json").write_text(json.dumps({
        "schema_version": 1, "device": "cpu", "load_average": [1.5, 1.2, 1.0], "detectors": [
            {"detector": "blink", "device": "cpu", "videos": 3, "frames": 300, "frames_per_s": 31.2, "videos_per_s": 0.1,
             "latency_p50_s": 9.5, "latency_p95_s": 10.2, "share": {"decode": 0.05, "faces": 0.93, "detector": 0.02},
             "peak_rss_mb": 900.0, "rss_scope": "detector", "peak_gpu_mb": None}]}))
    (folder / "env.json").write_text(json.dumps({"device": "cpu", "commit": "0123456789abcdef", "seed": 0}))
    return folder


def test_report_builds_from_a_run_folder(tmp_path):
    folder = full_run(tmp_path)
    out = tmp_path / "out" / "report.html"
    assert main(["bench", "report", str(folder), "--out", str(out), "-q"]) == 0
    page = out.read_text()
    for heading in ("Metrics on the clean videos", "Throughput", "ROC curves", "Robustness", "Fakes: input, swapped frame",
                    "DeLong", "All perturbed rows"):
        assert heading in page, heading
    assert len(re.findall(r"src='data:image/png;base64,", page)) == 3  # ROC, robustness, masks: nothing linked
    assert "src='http" not in page and "href=" not in page
    assert re.search(r"<td>artifacts</td><td>sim</td><td>none</td><td>video \(mean\)</td><td>30</td><td>30</td>"
                     r"<td>\d+</td><td>0\.\d{3} \[0\.\d{3}, [01]\.\d{3}\]</td>", page)
    assert "31.2" in page and "93%" in page  # throughput beside the accuracy
    md = (tmp_path / "out" / "report.md").read_text()
    assert "| detector | dataset |" in md and "![ROC curves](report_files/figure1.png)" in md
    assert (tmp_path / "out" / "report_files" / "figure1.png").read_bytes()[:4] == b"\x89PNG"


def test_report_says_what_was_resampled_bounds_a_perfect_auc_and_lists_false_positives_per_source(tmp_path):
    pred = simulated_predictions(seed=0, shift=6.0, n_videos=40)  # separates perfectly
    ids = sorted(pred["video_id"].unique(), key=lambda v: int(v.split("v")[-1]))
    videos = pd.DataFrame({"dataset": "sim", "video_id": ids,
                           "source_group": [f"seg{int(v.split('v')[-1]) // 4}" for v in ids],  # 4 clips a segment
                           "target_id": [f"person{int(v.split('v')[-1]) % 3}" for v in ids]})
    folder = write_run(tmp_path / "run", pred, n_boot=200, videos=videos,
                       thresholds={"blink": {"fpr1": 0.9, "fpr5": 0.6}})
    row = next(r for r in json.loads((folder / "metrics.json").read_text())["metrics"] if r["unit"] == "video")
    assert row["auc"] == 1.0 and (row["auc_lo"], row["auc_hi"]) == (1.0, 1.0)
    assert row["n_groups"] == 10 and row["resampled"] == "source group"
    assert 0.5 < row["auc_lb"] < 0.95  # 10 + 10 groups: no certainty
    assert {"threshold_fpr5", "acc_fpr5", "tpr_fpr5", "fpr_fpr5"} <= set(row)
    out = tmp_path / "report.html"
    assert main(["bench", "report", str(folder), "--out", str(out), "-q"]) == 0
    page = out.read_text()
    assert "cluster bootstrap: whole source groups resampled" in page
    assert f"<td>{row['auc_lb']:.3f}</td>" in page
    assert "Operating points" in page and "5 % FPR on its held-out reals" in page
    assert "False positives per real source" in page and "<td>person0</td>" in page


def test_report_of_two_runs_names_them_and_refuses_unfinished_ones(tmp_path):
    a = write_run(tmp_path / "a", simulated_predictions(seed=0))
    b = write_run(tmp_path / "b", simulated_predictions(seed=1))
    report.build([a, b], tmp_path / "r.html", markdown=False)
    page = (tmp_path / "r.html").read_text()
    assert "<th>run</th>" in page and "<td>a</td>" in page and "<td>b</td>" in page
    assert not (tmp_path / "r.md").exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(FakebenchError, match="not a finished benchmark run"):
        report.build([tmp_path / "empty"], tmp_path / "x.html")
    with pytest.raises(FakebenchError, match="HTML"):
        report.build([a], tmp_path / "x.pdf")


def test_curve_points_follow_the_generator_step():
    rows, videos = [], []
    rng = np.random.default_rng(0)
    for v in range(120):
        label = int(v >= 40)
        step = [None, 1000, 2000][v // 40]
        shift = {None: 0.0, 1000: 2.0, 2000: 0.5}[step]  # later checkpoint: harder to detect
        rows.append(("blink", "gen", "", f"v{v}", -1, label, float(1 / (1 + np.exp(-(rng.normal() + shift)))), "none", 0))
        videos.append({"dataset": "gen", "video_id": f"v{v}", "label": label, "step": step})
    from fakebench.benchmarks.runner import predictions_frame

    points = curve.curve_points(predictions_frame(rows), pd.DataFrame(videos), n_boot=200)
    by_step = {p["step"]: p for p in points}
    assert set(by_step) == {1000, 2000} and by_step[1000]["n_real"] == 40 and by_step[2000]["n_fake"] == 40
    assert by_step[1000]["auc"] > 0.8 > by_step[2000]["auc"] > 0.5
    assert by_step[2000]["auc_lo"] < by_step[2000]["auc"] < by_step[2000]["auc_hi"]
    with pytest.raises(FakebenchError, match="generated layout"):
        curve.curve_points(predictions_frame(rows), pd.DataFrame(videos).drop(columns="step"))


def test_curve_command_scores_a_generated_set(tmp_path):
    fakes, _, _ = build_generated(tmp_path)
    config = tmp_path / "detectors.yaml"
    config.write_text(yaml.safe_dump({
        "detectors": [{"name": "classifier", "label": "tiny",
                       "config": {"backbone": "test_efficientnet", "input_size": 32, "frames": 2}}],
        "datasets": [{"layout": "generated", "root": str(fakes)}]}))
    out = tmp_path / "curve"
    assert main(["bench", "curve", "--config", str(config), "--generated", str(fakes), "--out", str(out),
                 "--bootstrap", "50", "-q"]) == 0
    doc = json.loads((out / "curve.json").read_text())
    assert sorted(p["step"] for p in doc["points"]) == [1200, 2400]
    assert (out / "curve.png").read_bytes()[:4] == b"\x89PNG" and (out / "predictions.parquet").is_file()
    assert "Detectability" in report.build([out], tmp_path / "c.html")["html"].read_text()


@pytest.mark.parametrize("action", ["run", "report", "gate", "curve", "throughput"])
def test_every_action_has_help(action, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", action, "--help"])
    assert exit_info.value.code == 0
    assert "--out" in capsys.readouterr().out
