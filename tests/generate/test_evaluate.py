"""Swap quality on held-out real frames: every figure present and in range, the mean-face control beside it."""

from __future__ import annotations

import json

import pytest

from fakebench.cli import main

pytestmark = pytest.mark.media


def test_evaluate_reports_identity_landmarks_and_content_following(tiny_run, capsys):
    assert main(["generate", "evaluate", "--run", str(tiny_run), "--frames", "4", "--json", "-q", "--device", "cpu"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["step"] == 10 and set(report["directions"]) == {"a->b", "b->a"}
    assert (tiny_run / "eval-step-000010.json").exists()
    for name in ("a", "b"):
        assert 0 < report["reconstruction_l1"][name] < 0.5
    for m in report["directions"].values():
        assert m["frames"] == 4
        assert 0 <= m["identity_share"] <= 1 and 0 <= m["control_mean_face"]["identity_share"] <= 1
        assert m["real_share_nearer_source"] <= 0.5  # real faces of the driver are nearer the driver
        assert m["face_only"]["real_share_nearer_source"] <= 0.5  # also as bare crops at the model's size
        assert 0 <= m["face_only"]["identity_share"] <= 1
        assert 0 < m["landmark_nme"] < 1 and 0 < m["face_only"]["landmark_nme"] < 1
        assert m["variation_ratio"] >= 0 and m["sharpness_ratio"] > 0
