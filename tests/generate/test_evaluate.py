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
        assert 0 < m["face_only"]["dist_to_source"] < 2 and 0 < m["face_only"]["dist_to_target"] < 2
        assert m["colour"]["delta_e"] >= 0 and m["colour"]["delta_e"] == pytest.approx(
            (m["colour"]["delta_L"] ** 2 + m["colour"]["delta_a"] ** 2 + m["colour"]["delta_b"] ** 2) ** 0.5, rel=1e-4)


def test_skin_colour_is_read_off_the_skin_not_the_eyes_or_mouth():
    import cv2
    import numpy as np

    from fakebench.generate.evaluate import skin_lab

    marks = np.zeros((68, 2), np.float32)
    angles = np.linspace(0, 2 * np.pi, 17, endpoint=False)
    marks[:17] = np.stack([50 + 40 * np.cos(angles), 50 + 45 * np.sin(angles)], 1)  # an oval outline
    for part, (cx, cy) in ((slice(36, 42), (35, 40)), (slice(42, 48), (65, 40)), (slice(48, 68), (50, 75))):
        n = part.stop - part.start
        a = np.linspace(0, 2 * np.pi, n, endpoint=False)
        marks[part] = np.stack([cx + 8 * np.cos(a), cy + 4 * np.sin(a)], 1)
    marks[17:36] = [50, 50]
    frame = np.zeros((100, 100, 3), np.uint8)
    frame[:] = (200, 150, 120)  # skin
    for part in (slice(36, 42), slice(42, 48), slice(48, 68)):
        cv2.fillConvexPoly(frame, np.round(marks[part]).astype(np.int32), (0, 0, 255))  # blue eyes and mouth
    expected = cv2.cvtColor(np.array([[[200, 150, 120]]], np.float32) / 255, cv2.COLOR_RGB2LAB)[0, 0]
    assert np.abs(skin_lab(frame, marks) - expected).max() < 1.5  # the blue parts are left out
    frame[40:60, 40:60] = (200, 150, 200)  # a cast on the skin itself shows
    assert skin_lab(frame, marks)[2] < expected[2] - 3
