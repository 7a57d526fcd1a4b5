"""`fakebench demo --preset smoke`: every stage runs on the real sample faces, the run folder holds
what the README promises, a rerun keeps everything, and a changed request is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from fakebench.cli import main
from fakebench.demo import STAGES, _cut
from tests.conftest import sample


def test_clips_are_cut_back_to_back_or_spread():
    assert _cut(100, 700, 240, 3, spread=False) == [(100, 340), (340, 580)]
    assert _cut(100, 700, 240, 2, spread=True) == [(100, 340), (460, 700)]
    assert _cut(0, 150, 240, 3, spread=False) == [(0, 150)]  # shorter than a clip: the whole range
    assert _cut(5, 5, 240, 3, spread=False) == []


@pytest.mark.media
@pytest.mark.slow
def test_smoke_demo_runs_every_stage_and_reruns_from_its_files(tmp_path, capsys):
    for sample_id in ("A", "B", "C", "D", "E", "ORL"):
        sample(sample_id)
    out = tmp_path / "demo"
    assert main(["demo", "--preset", "smoke", "--out", str(out), "-q"]) == 0
    printed = capsys.readouterr().out
    assert "segment-disjoint" in printed and "| artifacts |" in printed and "stage timings" in printed
    assert "A/B only" in printed

    state = json.loads((out / "demo.json").read_text())
    assert set(state["stages"]) == set(STAGES) and state["preset"] == "smoke"
    assert state["stages"]["generator"]["step"] == 30
    assert {p.name for p in out.iterdir()} >= {"demo.json", "generator", "fakes", "index.parquet", "detectors",
                                              "bench", "figures", "report.html", "report.md", "curve", "bench-curve"}

    for label in ("artifacts", "classifier", "classifier-graphics"):  # calibrated on held-out reals, never C, D, E
        found = json.loads((out / "detectors" / label / "summary.json").read_text())["thresholds"]
        assert found["n_real"] > 0 and not any(f"/{u}/" in g for g in found["groups"] for u in "CDE")
    index = pd.read_parquet(out / "index.parquet")
    test, train = index[index.split == "test"], index[index.split == "train"]
    assert set(test.label) == {0, 1} and set(train.label) == {0, 1}
    assert {"C", "D", "E"} <= set(test[test.label == 0].target_id)  # people no model saw
    # segment-disjoint: no real clip of A/B in the test split overlaps a training clip of the same video
    for path, rows in index[index.label == 0].dropna(subset=["start_frame"]).groupby("path"):
        for t in rows[rows.split == "test"].itertuples():
            for r in rows[rows.split == "train"].itertuples():
                assert t.start_frame >= r.stop_frame or t.stop_frame <= r.start_frame, path
    for fake in test[test.label == 1].itertuples():  # each test fake: its manifest, its masks, its real clip
        manifest = json.loads(Path(fake.path).with_suffix(".json").read_text())
        assert manifest["identities"]["source"] != manifest["identities"]["target"]
        assert fake.original_id in set(test.video_id)
        assert fake.method == {"autoencoder": "fakebench-ae", "graphics": "fakebench-graphics"}[manifest["method"]]
    by_method = test[test.label == 1].groupby("method").size()  # both methods swap the same segments
    assert set(by_method.index) == {"fakebench-ae", "fakebench-graphics"} and by_method.nunique() == 1

    metrics = json.loads((out / "bench" / "metrics.json").read_text())
    assert metrics["schema_version"] == 1 and metrics["datasets"]["demo"]["split_by"] == "segment"
    pairs = metrics["datasets"]["pairs"]  # A/B only: the fakes and the real clips they were made from
    assert pairs["fake"] == metrics["datasets"]["demo"]["fake"] and pairs["real"] < metrics["datasets"]["demo"]["real"]
    clean = [r for r in metrics["metrics"] if r["perturbation"] == "none" and r["unit"] == "video"]
    assert {r["detector"] for r in clean} == {"blink", "artifacts", "classifier", "classifier-graphics"}
    assert {r["dataset"] for r in clean} == {"demo", "pairs", "autoencoder", "graphics"}  # the cross-method table's
    for method in ("autoencoder", "graphics"):
        assert metrics["datasets"][method]["fake"] == by_method.iloc[0]
    bad = [(r["detector"], r["dataset"], r["auc"], r["auc_lo"], r["auc_hi"], r["n_groups"]) for r in clean
           if not (0 <= r["auc"] <= 1 and r["auc_lo"] - 1e-12 <= r["auc"] <= r["auc_hi"] + 1e-12)]  # summation order
    assert not bad, bad
    perturbed = {r["detector"] for r in metrics["metrics"] if r["perturbation"] != "none"}
    assert perturbed == {"artifacts", "classifier"}  # blink reads every frame, the second classifier: clean only

    curve = json.loads((out / "bench-curve" / "curve.json").read_text())  # the detectability curve
    steps = {p["step"] for p in curve["points"]}
    assert steps == {15, 30}  # the snapshot at half the 30 steps, and the last step
    assert {p["detector"] for p in curve["points"]} == {"blink", "artifacts", "classifier", "classifier-graphics"}
    assert all(p["n_fake"] == by_method.iloc[0] for p in curve["points"])
    html = (out / "report.html").read_text()
    for heading in ("Headline", "what it can and cannot show", "Stage timings", "Fakes: input, swapped frame", "Blink trace",
                    "identity transfer", "Detector training", "ROC curves", "Throughput", "against their bars",
                    "each detector on each method", "Detectability against generator training step",
                    "Contact sheet, autoencoder swaps", "Contact sheet, graphics swaps", "Colour matching"):
        assert heading in html
    timings = html.split("Stage timings</h2>")[1].split("</table>")[0]
    assert "convert" in timings and "{" not in timings and "&quot;" not in timings  # words, not raw JSON

    before = {p: p.stat().st_mtime_ns for p in (out / "report.html", out / "generator" / "checkpoint.pt")}
    assert main(["demo", "--preset", "smoke", "--out", str(out), "-q"]) == 0  # a rerun keeps every stage
    assert {p: p.stat().st_mtime_ns for p in before} == before
    assert main(["demo", "--preset", "cpu", "--out", str(out), "-q"]) == 2  # another preset: refused
    assert "preset 'smoke'" in capsys.readouterr().err
