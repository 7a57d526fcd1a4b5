"""The blink-rate heuristic: on synthetic eye traces, then against blinks labelled by eye on real video."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fakebench.detect.blink import BlinkConfig, BlinkDetector, blink_probability, eye_aspect_ratio
from fakebench.detect.score import score_file, track_for
from fakebench.detect.synthetic import blink_openness, face_landmarks, synthetic_track
from fakebench.errors import FakebenchError
from tests.conftest import sample

LABELS = json.loads((Path(__file__).parent / "data" / "blinks.json").read_text())
FPS = 25.0


def test_eye_aspect_ratio_matches_the_eye_shape():
    marks = face_landmarks(np.array([1.0, 0.5, 0.1]), np.random.default_rng(0), jitter=0)
    np.testing.assert_allclose(eye_aspect_ratio(marks), [0.3, 0.15, 0.03], atol=1e-6)
    with pytest.raises(FakebenchError, match=r"expected \(N,68,2\)"):
        eye_aspect_ratio(np.zeros((3, 5, 2)))


def test_counts_regular_blinks_and_calls_the_person_real():
    times = np.arange(1.5, 60, 4.0)  # 15 blinks/min
    result = BlinkDetector().explain(synthetic_track(blink_openness(int(60 * FPS), FPS, list(times))))
    assert result.evidence["blinks"] == len(times)
    assert result.evidence["blinks_per_min"] == pytest.approx(15, abs=0.5)
    assert 0.1 < result.evidence["mean_blink_s"] < 0.25
    assert result.score < 0.1


def test_short_blinks_survive_at_low_frame_rates():
    fps = 12.0  # a 0.12 s blink spans one or two frames here; a 3-frame median would erase it
    times = np.arange(1.5, 60, 4.0)
    track = synthetic_track(blink_openness(int(60 * fps), fps, list(times), duration=0.12), fps=fps)
    assert BlinkDetector().explain(track).evidence["blinks"] >= len(times) - 1


def test_a_face_that_never_blinks_looks_fake():
    result = BlinkDetector().explain(synthetic_track(np.ones(int(60 * FPS))))
    assert result.evidence["blinks"] == 0
    assert result.score > 0.95


def test_narrowing_and_looking_down_are_not_blinks():
    n = int(30 * FPS)
    openness = np.ones(n)
    openness[100:160] = 0.6  # smile: eyes narrowed for 2.4 s
    openness[300:360] = 0.3  # looking down for 2.4 s, lids nearly shut
    openness[500:520] = 0.2  # a slow 0.8 s closure: longer than any blink
    blinks = BlinkDetector().blinks(synthetic_track(openness))
    assert len(blinks.peaks) == 0


def test_blinks_during_a_smile_still_count():
    n = int(20 * FPS)
    openness = np.ones(n)
    openness[100:300] = 0.6
    openness = np.minimum(openness, blink_openness(n, FPS, [6.0, 10.0]))  # both inside the narrowed stretch
    assert len(BlinkDetector().blinks(synthetic_track(openness)).peaks) == 2


def test_the_score_follows_the_human_range_and_short_clips_stay_undecided():
    assert blink_probability(0, 1.0) > 0.95
    assert blink_probability(17, 1.0) < 0.05
    probs = [blink_probability(k, 1.0) for k in range(30)]
    assert all(a >= b for a, b in zip(probs, probs[1:]))
    assert blink_probability(0, 1e-9) == pytest.approx(0.5, abs=1e-6)  # no time seen, no evidence
    assert abs(blink_probability(0, 5 / 60) - 0.5) < abs(blink_probability(0, 1.0) - 0.5)


def test_too_short_a_clip_gives_one_half_and_says_so():
    result = BlinkDetector().explain(synthetic_track(np.ones(int(8 * FPS))))
    assert result.score == 0.5
    assert any("too short" in flag and "10 s" in flag for flag in result.evidence["flags"])


def test_low_fps_gives_one_half_and_says_so():
    result = BlinkDetector().explain(synthetic_track(np.ones(8 * 60), fps=8.0))
    assert result.score == 0.5
    assert any("fps 8.0 < 10" in flag for flag in result.evidence["flags"])


def test_face_lost_for_a_long_stretch_counts_only_the_time_with_a_face():
    n = int(60 * FPS)
    has = np.ones(n, bool)
    has[500:1250] = False  # 30 s without a face
    times = [2.0, 6.0, 10.0, 14.0, 18.0, 52.0, 56.0]
    result = BlinkDetector().explain(synthetic_track(blink_openness(n, FPS, times), has_face=has))
    assert result.evidence["seconds_with_face"] == pytest.approx(30.0, abs=0.1)
    assert result.evidence["blinks"] == len(times)
    assert result.evidence["blinks_per_min"] == pytest.approx(14.0, abs=0.5)
    assert any("face lost in 50%" in flag for flag in result.evidence["flags"])


def test_a_dip_at_the_edge_of_a_gap_is_not_counted():
    n = int(20 * FPS)
    has = np.ones(n, bool)
    has[252:300] = False  # the face is lost right after the eye closed
    blinks = BlinkDetector().blinks(synthetic_track(blink_openness(n, FPS, [10.0]), has_face=has))
    assert len(blinks.peaks) == 0


def test_sparse_tracks_and_tracks_without_landmarks_are_refused():
    track = synthetic_track(np.ones(100), frames=np.arange(0, 400, 4))
    with pytest.raises(FakebenchError, match="needs every frame .* every 4 frames"):
        BlinkDetector().explain(track)
    track = synthetic_track(np.ones(400))
    track.landmarks[:] = np.nan
    with pytest.raises(FakebenchError, match="needs dlib's 68 landmarks"):
        BlinkDetector().explain(track)


def test_config_is_stored_and_checked(tmp_path):
    detector = BlinkDetector(config=BlinkConfig(min_depth=0.3))
    loaded = BlinkDetector.load(detector.save(tmp_path / "blink.json"))
    assert loaded.config.min_depth == 0.3
    (tmp_path / "bad.json").write_text(json.dumps({"detector": "blink", "config": {"min_dept": 0.3}}))
    with pytest.raises(FakebenchError, match="min_dept"):
        BlinkDetector.load(tmp_path / "bad.json")


def test_plot_draws_the_trace(tmp_path):
    out = BlinkDetector().plot(synthetic_track(blink_openness(500, FPS, [3.0, 9.0, 15.0])), tmp_path / "ear.png")
    assert out.stat().st_size > 10_000


# -- real video -------------------------------------------------------------------------------------
def _match(detected: list[int], labels: list[list[int]], slack: int = 2) -> tuple[int, list[int]]:
    hits = sum(any(a - slack <= p <= b + slack for p in detected) for a, b in labels)
    extra = [p for p in detected if not any(a - slack <= p <= b + slack for a, b in labels)]
    return hits, extra


@pytest.mark.media
@pytest.mark.slow
def test_blinks_match_the_ones_labelled_by_eye():
    detector = BlinkDetector()
    found = labelled = hits = false = 0
    for stretch in LABELS["stretches"]:
        path = sample(stretch["sample"])[stretch["file"]]
        track = track_for(detector, path, start=stretch["start"], stop=stretch["stop"])
        peaks = track.frames[detector.blinks(track).peaks].tolist()
        scored = [p for p in peaks if not any(a - 2 <= p <= b + 2 for a, b in stretch["uncertain"])]
        got, extra = _match(scored, stretch["blinks"])
        for name, (a, b) in stretch["not_blinks"].items():
            inside = [p for p in peaks if a <= p <= b and not any(x - 2 <= p <= y + 2 for x, y in stretch["blinks"])]
            assert not inside, f"{stretch['sample']} {name} {a}-{b} counted as blinks at {inside}"
        found += len(scored)
        labelled += len(stretch["blinks"])
        hits += got
        false += len(extra)
    recall, precision = hits / labelled, (found - false) / max(found, 1)
    assert recall >= 0.85, f"recall {recall:.2f} ({hits}/{labelled})"
    assert precision >= 0.9, f"precision {precision:.2f} ({false} false of {found})"


@pytest.mark.media
def test_no_face_clip_is_undecided_and_says_why():
    result, _ = score_file(BlinkDetector(), sample("NOFACE")[0])
    assert result.score == 0.5
    assert any("no face" in flag for flag in result.evidence["flags"])


@pytest.mark.media
def test_a_still_image_is_refused():
    with pytest.raises(FakebenchError, match="needs a video, got a still image"):
        score_file(BlinkDetector(), sample("ORL")[0])


@pytest.mark.media
def test_hands_over_the_eyes_do_not_make_blinks(tmp_path):
    """Cover both eyes of A for 2 s with a skin-coloured block: no blink may appear there."""
    from fakebench.media import iter_frames, write_video

    path = sample("A")[0]
    detector = BlinkDetector()
    clean = track_for(detector, path, start=480, stop=840)
    frames = []
    for i, frame in iter_frames(path, range(480, 840)):
        frame = frame.copy()
        if 600 <= i < 648:
            pos = i - 480
            x1, y1 = np.nanmin(clean.landmarks[pos, 36:48], 0).astype(int) - 10
            x2, y2 = np.nanmax(clean.landmarks[pos, 36:48], 0).astype(int) + 10
            frame[y1:y2, x1:x2] = (190, 140, 120)
        frames.append(frame)
    covered = write_video(tmp_path / "covered.mp4", frames, fps=24.0)
    track = track_for(detector, covered)
    peaks = track.frames[detector.blinks(track).peaks] + 480
    assert not [p for p in peaks if 596 <= p <= 652], peaks


@pytest.mark.media
def test_cli_scores_gray_video_and_writes_json_and_plot(tmp_path, capsys):
    import cv2

    from fakebench.cli import main
    from fakebench.media import iter_frames, to_rgb, write_video

    gray = [to_rgb(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY)) for _, f in iter_frames(sample("A")[0], range(1200, 1680))]
    clip_path = write_video(tmp_path / "gray.mp4", gray, fps=24.0)
    code = main(["detect", "score", "--detector", "blink", str(clip_path), "--json", "--plot", str(tmp_path / "ear.png"), "-q"])
    assert code == 0
    row = json.loads(capsys.readouterr().out)
    assert row["frames_used"] == 480
    assert row["evidence"]["blinks"] >= 5  # six labelled in this stretch
    assert row["score"] < 0.2
    assert {"blinks_per_min", "mean_blink_s", "ear_baseline", "intervals_s"} <= set(row["evidence"])
    assert (tmp_path / "ear.png").stat().st_size > 10_000


def test_cli_refuses_an_image_with_one_line(tmp_path, capsys):
    from fakebench.cli import main
    from fakebench.media import write_image

    image = write_image(tmp_path / "face.png", np.zeros((64, 64, 3), np.uint8))
    assert main(["detect", "score", "--detector", "blink", str(image), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "needs a video, got a still image" in err[0]


def test_cli_lists_detectors(capsys):
    from fakebench.cli import main

    assert main(["detect", "list"]) == 0
    assert "blink" in capsys.readouterr().out
    assert subprocess.run([sys.executable, "-m", "fakebench", "detect", "score", "--help"], capture_output=True).returncode == 0
