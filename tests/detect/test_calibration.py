"""Calibrated operating points of the CNN detectors (thresholds at 1 % / 5 % FPR on held-out reals),
their life in checkpoints and on the command line, and the seeded training augmentation."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from fakebench.detect.base import VideoScore
from fakebench.detect.classifier import ClassifierDetector
from fakebench.detect.cnn import CNNConfig
from fakebench.detect.training import FaceSet, TrainConfig, augment, calibrate, jitter
from fakebench.errors import CheckpointError

TINY = CNNConfig(backbone="test_efficientnet", input_size=32, frames=4)


def test_thresholds_follow_the_inverted_cdf_rule_exactly():
    scores = np.arange(1, 41) / 100  # 0.01 .. 0.40, shuffled: the order must not matter
    found = calibrate(np.random.default_rng(0).permutation(scores), np.repeat(["x", "y"], 20))
    # 40 reals: 1 % allows 0 above the threshold (the highest score), 5 % allows 2 (the third highest)
    assert (found["fpr1"], found["fpr5"], found["n_real"]) == (0.40, 0.38, 40)
    assert found["groups"] == ["x", "y"] and found["from"] == "held-out validation reals of training (2 groups)"
    assert np.mean(scores > found["fpr5"]) <= 0.05 < np.mean(scores > found["fpr5"] - 1e-6)
    many = calibrate(np.arange(200) / 200, np.zeros(200))  # 1 % of 200 = 2 reals above, 5 % = 10
    assert (many["fpr1"], many["fpr5"]) == (197 / 200, 189 / 200)
    with_nan = calibrate(np.array([np.nan, 0.3, 0.2]), np.array(["a", "b", "c"]))
    assert (with_nan["n_real"], with_nan["fpr5"], with_nan["groups"]) == (2, 0.3, ["b", "c"])
    assert calibrate(np.array([np.nan]), np.array(["a"])) is None
    for n in (1, 7, 19, 20, 21, 99, 100, 101, 333):  # the rule is numpy's inverted-CDF quantile at 1 - rate
        s = np.random.default_rng(n).random(n)
        found = calibrate(s, np.zeros(n))
        assert [found["fpr1"], found["fpr5"]] == [np.quantile(s, q, method="inverted_cdf") for q in (0.99, 0.95)]


class KnownScores(ClassifierDetector):
    """A classifier whose score of a crop is its first pixel / 255, whatever the network learnt."""

    def score_frames(self, faces):
        return faces[:, 0, 0, 0].astype(np.float64) / 255


def known_sets(n_groups: int = 4, per_group: int = 40) -> tuple[FaceSet, FaceSet]:
    """Real crop k of group g is filled with g * per_group + k (so its known score); fakes all score 1."""
    values = np.arange(n_groups * per_group)
    crops = np.broadcast_to(values[:, None, None, None], (len(values), 32, 32, 3)).astype(np.uint8)
    groups = np.repeat([f"video{g}" for g in range(n_groups)], per_group).astype(object)
    marks = np.full((len(values), 68, 2), np.nan, np.float32)
    real = FaceSet(crops, np.zeros(len(values), np.int64), groups, marks)
    fake = FaceSet(np.full_like(crops, 255), np.ones(len(values), np.int64), groups + "-fake", marks)
    return real, fake


def test_training_calibrates_on_the_held_out_reals_and_the_checkpoint_keeps_it(tmp_path):
    real, fake = known_sets()
    detector = KnownScores(config=TINY, device="cpu", seed=0)
    summary = detector.fit(real, fake, out=tmp_path / "run", config=TrainConfig(epochs=1, batch_size=32), progress=False)
    found = summary["thresholds"]
    assert len(found["groups"]) == 1  # a quarter of the 4 real videos is held out
    held = int(found["groups"][0].removeprefix("video"))
    # only the held-out video's 40 reals count: the highest and the third highest of them
    assert (found["fpr1"], found["fpr5"], found["n_real"]) == ((40 * held + 39) / 255, (40 * held + 37) / 255, 40)
    assert found["from"] == "held-out validation reals of training (1 group)"
    assert detector.thresholds == found
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["thresholds"] == found
    with open(tmp_path / "run" / "history.csv") as f:
        row = next(csv.DictReader(f))
    assert float(row["threshold_fpr5"]) == found["fpr5"]
    loaded = ClassifierDetector.load(tmp_path / "run", device="cpu")
    assert loaded.thresholds == found
    loaded.save(tmp_path / "copy.pt")  # a save of a loaded detector keeps its thresholds
    assert ClassifierDetector.load(tmp_path / "copy.pt", device="cpu").thresholds == found


def test_a_checkpoint_from_before_calibration_loads_without_thresholds(tmp_path):
    import torch

    ClassifierDetector(config=TINY, device="cpu").save(tmp_path / "new.pt")
    payload = torch.load(tmp_path / "new.pt", weights_only=True)
    assert "thresholds" in payload
    del payload["thresholds"]
    torch.save(payload, tmp_path / "old.pt")
    assert ClassifierDetector.load(tmp_path / "old.pt", device="cpu").thresholds is None
    payload["thresholds"] = {"fpr5": "high"}
    torch.save(payload, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="expected thresholds"):
        ClassifierDetector.load(tmp_path / "bad.pt", device="cpu")


def test_detectors_without_calibration_say_none():
    from fakebench.detect.factory import create

    assert create("blink").thresholds is None
    assert ClassifierDetector(config=TINY).thresholds is None


def test_detect_score_prints_the_calibrated_verdict_beside_the_one_at_half(tmp_path, monkeypatch, capsys):
    from fakebench.cli import main
    from fakebench.detect import score

    detector = ClassifierDetector(config=TINY, device="cpu")
    detector.thresholds = calibrate(np.linspace(0, 0.8, 21), np.zeros(21))  # 5 % of 21 reals: 1 above 0.76
    detector.save(tmp_path / "calibrated.pt")
    monkeypatch.setattr(score, "score_file", lambda *a, **k: (VideoScore(0.7, 4, {}), None))
    assert main(["detect", "score", "--detector", "classifier", "--weights", str(tmp_path / "calibrated.pt"),
                 "clip.mp4", "-q"]) == 0
    assert "fake at 0.5, real at 0.760 (5 % FPR on held-out reals)" in capsys.readouterr().out
    assert main(["detect", "score", "--detector", "classifier", "--weights", str(tmp_path / "calibrated.pt"),
                 "clip.mp4", "--json", "-q"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert (row["verdict"], row["verdict_fpr5"], row["threshold_fpr5"]) == ("fake", "real", 0.76)


def colour_face(seed: int = 0) -> np.ndarray:
    """A sharp colour texture (its detail shows what a down-up resize or a blur took away)."""
    import cv2

    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur(rng.uniform(0, 255, (64, 64, 3)).astype(np.float32), (0, 0), 0.7).astype(np.uint8)


def test_augmentation_is_seeded_and_covers_gray_and_low_resolution():
    face = colour_face()
    np.testing.assert_array_equal(augment(face, np.random.default_rng(3)), augment(face, np.random.default_rng(3)))
    outs = [augment(face, np.random.default_rng(s)) for s in range(300)]
    assert all(o.shape == face.shape and o.dtype == np.uint8 for o in outs)
    gray = np.mean([(o == o[..., :1]).all() for o in outs])
    assert 0.05 < gray < 0.3  # a colour crop becomes gray now and then (p = 0.15)
    detail = lambda img: np.abs(np.diff(img.astype(np.float32), axis=1)).mean()  # noqa: E731
    assert min(detail(o) for o in outs) < 0.3 * detail(face)  # some are shrunk to a low resolution and grown back
    assert np.mean([np.array_equal(o, face) for o in outs]) < 0.2


def test_alignment_jitter_is_seeded_and_moves_the_boundary_with_the_face():
    boundary = np.zeros((64, 64), np.float32)
    boundary[20:44, 28:32] = 1.0  # a piece of blend edge, drawn into the image too
    image = np.repeat((boundary * 255).astype(np.uint8)[..., None], 3, axis=2)
    moved = [jitter(image, boundary, np.random.default_rng(s)) for s in range(40)]
    again = jitter(image, boundary, np.random.default_rng(3))
    np.testing.assert_array_equal(moved[3][0], again[0])
    np.testing.assert_array_equal(moved[3][1], again[1])
    changed = [(img, b) for img, b in moved if not np.array_equal(b, boundary)]
    assert 0.1 < len(changed) / len(moved) < 0.6  # p = 0.3
    for img, b in changed:  # the boundary went where the pixels went
        assert np.abs(img[..., 0] / 255 - b).max() < 0.02 and b.sum() > 0.8 * boundary.sum()
