"""One contract over every registered detector (timm's test over its registry)."""

from __future__ import annotations

import numpy as np
import pytest

from fakebench.detect import DETECTORS, build
from fakebench.errors import FakebenchError
from tests.detect.synth import blink_openness, synthetic_track

NAMES = DETECTORS.names()


def clip(name: str, n: int | None = None, fps: float = 25.0, seed: int = 0):
    """30 s for clip-level detectors (the blink detector needs 10 s of face), a few crops for frame-level ones."""
    n = n or (750 if not DETECTORS.get(name).frame_level else 6)
    return synthetic_track(blink_openness(n, fps, [2.0, 6.5, 11.0, 17.0, 24.0]), fps=fps, seed=seed)


def make(name: str, **kwargs):
    """CNN detectors at a 64 px input keep the contract fast on a CPU; the interface is the same."""
    cls = DETECTORS.get(name)
    if hasattr(cls, "config_class") and "input_size" in getattr(cls.config_class, "__dataclass_fields__", {}):
        from dataclasses import replace

        kwargs.setdefault("config", replace(cls().config, input_size=64))
    return cls(**kwargs)


def test_registry_lists_detectors_and_refuses_unknown_names():
    assert "blink" in NAMES
    with pytest.raises(FakebenchError, match=r"unknown detector 'blnk' \(did you mean 'blink'\?\); known: .*blink"):
        build("blnk")


@pytest.mark.parametrize("name", NAMES)
def test_video_score_is_a_probability(name):
    score = build(name).score_video(clip(name, n=None if not DETECTORS.get(name).frame_level else 2))  # defaults
    assert isinstance(score, float)
    assert np.isfinite(score) and 0.0 <= score <= 1.0


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_with_a_seed(name):
    assert make(name).score_video(clip(name, seed=3)) == make(name).score_video(clip(name, seed=3))


@pytest.mark.parametrize("name", NAMES)
def test_batch_equals_loop(name):
    detector = make(name)
    track = clip(name, n=12)
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
    detector = make(name)
    result = detector.explain(clip(name, n=1))
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
    detector = make(name)
    with pytest.raises(FakebenchError, match=match):
        detector.score_video(bad)
    with pytest.raises(FakebenchError):
        detector.score_frames(bad)


@pytest.mark.parametrize("name", NAMES)
def test_save_load_gives_the_same_scores(name, tmp_path):
    detector = make(name)
    path = detector.save(tmp_path / f"{name}.weights")
    again = build(name, weights=path)
    assert again.score_video(clip(name)) == detector.score_video(clip(name))


@pytest.mark.parametrize("name", NAMES)
def test_loading_a_foreign_or_broken_file_says_what_it_expected(name, tmp_path):
    broken = tmp_path / "broken.weights"
    broken.write_bytes(b"\x00garbage")
    with pytest.raises(FakebenchError, match=f"expected .*{name}"):
        build(name, weights=broken)
