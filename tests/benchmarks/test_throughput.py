"""Throughput: stages timed separately, figures consistent, written where the report finds them."""

from __future__ import annotations

import json

import pytest

from fakebench.benchmarks import throughput
from fakebench.benchmarks.runner import DetectorSpec, build_detector
from fakebench.cli import main
from fakebench.errors import FakebenchError
from fakebench.media import write_video
from tests.conftest import synthetic_frames

TINY = {"backbone": "test_efficientnet", "input_size": 32, "frames": 4}


def test_measure_splits_the_pipeline_into_stages(tmp_path):
    paths = [str(write_video(tmp_path / f"v{k}.mp4", synthetic_frames(10, 48, 64, seed=k), fps=10.0)) for k in range(3)]
    built = build_detector(DetectorSpec("classifier", config=TINY), device="cpu")
    r = throughput.measure("tiny", built.detector, paths, device="cpu")
    assert r["videos"] == 3 and r["frames"] == 12  # 4 sampled frames per video
    assert sum(r["seconds"].values()) == pytest.approx(r["frames"] / r["frames_per_s"], abs=1e-3)
    assert sum(r["share"].values()) == pytest.approx(1.0, abs=1e-3)
    assert r["latency_p50_s"] <= r["latency_p95_s"] and r["peak_rss_mb"] > 50 and r["peak_gpu_mb"] is None
    blink = build_detector(DetectorSpec("blink")).detector
    frames, indices, _ = throughput.sampled_frames(blink, paths[0], max_frames=6)
    assert frames.shape == (6, 48, 64, 3) and list(indices) == list(range(6))  # every-frame detector, capped
    with pytest.raises(FakebenchError, match="no videos"):
        throughput.measure("tiny", built.detector, [], device="cpu")


def test_cli_writes_throughput_json_merged_by_detector(tmp_path, capsys):
    video = write_video(tmp_path / "v.mp4", synthetic_frames(6, 48, 64), fps=10.0)
    out = tmp_path / "run"
    for _ in range(2):
        assert main(["bench", "throughput", "--detector", "blink", str(video), "--out", str(out), "--max-frames", "6",
                     "-q"]) == 0
    doc = json.loads((out / "throughput.json").read_text())
    assert [d["detector"] for d in doc["detectors"]] == ["blink"] and len(doc["load_average"]) == 3
    assert "frames/s" in capsys.readouterr().out
