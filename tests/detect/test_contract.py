"""One contract over every registered detector (timm's test over its registry)."""

from __future__ import annotations

import numpy as np
import pytest

from fakebench.detect import DETECTORS, build
from fakebench.errors import FakebenchError
from tests.detect.synth import blink_openness, synthetic_track

NAMES = DETECTORS.names()


def clip(n: int = 750, fps: float = 25.0, seed: int = 0):
    return synthetic_track(blink_openness(n, fps, [2.0, 6.5, 11.0, 17.0, 24.0]), fps=fps, seed=seed)


def test_registry_lists_detectors_and_refuses_unknown_names():
    assert "blink" in NAMES
    with pytest.raises(FakebenchError, match=r"unknown detector 'blnk' \(did you mean 'blink'\?\); known: .*blink"):
        build("blnk")


@pytest.mark.parametrize("name", NAMES)
def test_video_score_is_a_probability(name):
    score = build(name).score_video(clip())
    assert isinstance(score, float)
    assert np.isfinite(score) and 0.0 <= score <= 1.0


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_with_a_seed(name):
    assert build(name).score_video(clip(seed=3)) == build(name).score_video(clip(seed=3))


@pytest.mark.parametrize("name", NAMES)
def test_batch_equals_loop(name):
    detector = build(name)
    track = clip(n=12)
    if not detector.frame_level:
        with pytest.raises(FakebenchError, match="whole clips"):
            detector.score_frames(track)
        return
    batch = detector.score_frames(track.crops)
    loop = np.concatenate([detector.score_frames(track.crops[i:i + 1]) for i in range(len(track))])
    np.testing.assert_allclose(batch, loop, rtol=1e-5, atol=1e-6)
    assert np.all((batch >= 0) & (batch <= 1))


@pytest.mark.parametrize("name", NAMES)
def test_one_frame_works_or_is_refused_clearly(name):
    detector = build(name)
    result = detector.explain(clip(n=1))
    assert 0.0 <= result.score <= 1.0
    if not detector.frame_level:  # a clip-level judge cannot say anything from one frame
        assert result.score == 0.5
        assert any("too short" in f for f in result.evidence["flags"])


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bad, match", [
    (np.zeros((2, 3, 64, 64), np.float32), "expected"),
    ("clip.mp4", "expected a FaceTrack"),
    (np.zeros((64, 64, 3), np.uint8), "expected"),
])
def test_wrong_inputs_are_refused_with_a_message(name, bad, match):
    detector = build(name)
    with pytest.raises(FakebenchError, match=match):
        detector.score_video(bad)
    with pytest.raises(FakebenchError):
        detector.score_frames(bad)


@pytest.mark.parametrize("name", NAMES)
def test_save_load_gives_the_same_scores(name, tmp_path):
    detector = build(name)
    path = detector.save(tmp_path / f"{name}.weights")
    again = build(name, weights=path)
    assert again.score_video(clip()) == detector.score_video(clip())


@pytest.mark.parametrize("name", NAMES)
def test_loading_a_foreign_or_broken_file_says_what_it_expected(name, tmp_path):
    broken = tmp_path / "broken.weights"
    broken.write_bytes(b"\x00garbage")
    with pytest.raises(FakebenchError, match=f"expected .*{name}"):
        build(name, weights=broken)
