"""The ``provenance`` detector and ``fakebench provenance check``: marked faces read as fake with their payload,
no real sample frame is flagged, and a bad input is one line."""

from __future__ import annotations

import json
from dataclasses import replace

import cv2
import numpy as np
import pytest

from fakebench import mark
from fakebench.cli import main
from fakebench.detect import create
from fakebench.detect.provenance import ProvenanceDetector
from fakebench.detect.score import score_file
from fakebench.detect.synthetic import blink_openness, synthetic_track
from fakebench.media import read_video, write_image
from tests.conftest import sample

PAYLOAD = mark.Payload(0x0B0E, 0x1234, 120)


def _marked_track(marked: bool, n: int = 4):
    """A track of ``n`` 160 px textured "faces" (identity affines), each marked at its centre when ``marked``."""
    track = synthetic_track(blink_openness(n, 25.0, []), size=160, seed=1)
    rng = np.random.default_rng(2)
    for i in range(n):
        face = cv2.GaussianBlur(rng.normal(128, 20, (160, 160)), (0, 0), 1.2).clip(0, 255).astype(np.uint8)
        face = np.repeat(face[:, :, None], 3, 2)
        track.crops[i] = mark.embed(face, np.full((160, 160), 255, np.uint8), PAYLOAD, (80.0, 80.0)) if marked else face
    return track


def test_it_is_registered_and_scores_marked_faces_near_1_and_the_rest_near_0():
    detector = create("provenance")
    assert isinstance(detector, ProvenanceDetector)
    marked, plain = detector.explain(_marked_track(True)), detector.explain(_marked_track(False))
    assert marked.score > 1 - 1e-6 and np.all(marked.frame_scores > 1 - 1e-6)
    assert marked.evidence["marked"] and marked.evidence["payload"] == PAYLOAD.as_dict()
    assert marked.evidence["frames_marked"] == marked.evidence["frames_with_payload"] == 4
    assert plain.score < 1e-3 and not plain.evidence["marked"] and plain.evidence["payload"] is None


def test_frames_without_a_face_get_no_score():
    track = _marked_track(True)
    track.has_face[1] = False
    scores = ProvenanceDetector().score_frames(track)
    assert np.isnan(scores[1]) and np.all(scores[[0, 2, 3]] > 1 - 1e-6)


# -- real sample media ------------------------------------------------------------------------------------------
REAL = ("A", "B", "C", "D", "E", "E-lq", "ORL")


@pytest.mark.media
@pytest.mark.parametrize("sample_id", REAL)
def test_unmarked_frames_of_every_sample_are_not_flagged(sample_id):
    detector = ProvenanceDetector()
    detector.request = replace(detector.request, count=8)
    paths = sample(sample_id)
    paths = paths[::50] if sample_id == "ORL" else paths  # ORL: 8 stills of 8 people
    for path in paths:
        result, _ = score_file(detector, path)
        assert result.frames_used >= 1, path
        assert not result.evidence["marked"] and result.evidence["frames_marked"] == 0, (path, result.evidence)
        assert result.score < 1e-3 and np.nanmax(result.frame_scores) < 1e-3


@pytest.fixture(scope="module")
def marked_still(tmp_path_factory):
    """A frame of C with the mark put on its face (as the convert loop marks a swapped face), saved as PNG."""
    frame = read_video(sample("C")[0], indices=[100]).frames[0]
    track = ProvenanceDetector.request.extractor(device="cpu", use_cache=False).extract_frames(frame[None])
    mask = np.zeros(frame.shape[:2], np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(track.landmarks[0]).astype(np.int32)), 255)
    path = tmp_path_factory.mktemp("still") / "marked.png"
    write_image(path, mark.embed(frame, mask, PAYLOAD, mark.anchor(track.affines[0], track.size)))
    return path


@pytest.mark.media
def test_check_finds_the_mark_and_its_payload_in_a_still(marked_still, capsys):
    assert main(["provenance", "check", str(marked_still), "--json", "-q", "--device", "cpu"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["marked"] and row["confidence"] > 1 - 1e-6 and row["payload"] == PAYLOAD.as_dict()
    assert main(["provenance", "check", str(marked_still), "-q", "--device", "cpu"]) == 0
    line = capsys.readouterr().out.strip()
    assert f"{marked_still}\tmarked\tconfidence 1.000000" in line and "run 0b0e checkpoint 1234 segment from frame 120" in line


@pytest.mark.media
def test_check_says_not_marked_on_a_real_video(capsys):
    assert main(["provenance", "check", str(sample("D")[0]), "--frames", "4", "-q", "--device", "cpu"]) == 0
    assert "\tnot marked\tconfidence 0.000" in capsys.readouterr().out


def test_a_corrupt_file_a_folder_and_a_bad_option_are_one_line_each(tmp_path, capsys):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00not a video" * 100)
    folder = tmp_path / "clips"
    folder.mkdir()
    code = main(["provenance", "check", str(broken), str(folder), "-q", "--device", "cpu"])
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert code == 2 and out == "" and len(lines) == 2
    assert "broken.mp4: cannot be decoded as a video" in lines[0] and "clips: is a folder" in lines[1]
    assert main(["provenance", "check", str(broken), "--frames", "0"]) == 2
    assert capsys.readouterr().err.strip() == "fakebench: error: --frames must be a positive integer, got 0"
