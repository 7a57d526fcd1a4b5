"""The provenance mark: invisible, read back with its payload from one real frame, never read where it is not,
still there after the CRF 23 re-encode, in every fake the convert loop writes unless told not to."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fakebench import mark
from fakebench.benchmarks.perturb import h264_roundtrip
from fakebench.mark import Payload, embed, encode, read, read_pooled, viterbi
from fakebench.media import read_video
from tests.conftest import sample

PAYLOAD = Payload(0x3FA2, 0x9C1E, 3600)
IDENTITY = np.array([[1, 0, 0], [0, 1, 0]], np.float32)


def _texture(h: int, w: int, seed: int) -> np.ndarray:
    """``uint8 (h,w,3)``: smooth shading plus skin-like grain, a stand-in for a face."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    base = 120 + 40 * np.sin(xx / 23.0 + seed) * np.cos(yy / 31.0) + cv2.GaussianBlur(rng.normal(0, 12, (h, w)), (0, 0), 1.5)
    return np.repeat(np.clip(base, 0, 255).astype(np.uint8)[:, :, None], 3, 2)


def _face_mask(landmarks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(landmarks).astype(np.int32)), 255)
    return mask


# -- the payload and its code ---------------------------------------------------------------------------
def test_payload_round_trips_and_a_flipped_bit_fails_the_crc():
    bits = PAYLOAD.bits()
    assert len(bits) == 64 and Payload.from_bits(bits) == PAYLOAD
    assert PAYLOAD.as_dict() == {"run": "3fa2", "checkpoint": "9c1e", "start_frame": 3600}
    for k in (0, 17, 40, 63):
        flipped = bits.copy()
        flipped[k] ^= 1
        assert Payload.from_bits(flipped) is None
    with pytest.raises(ValueError, match="16 bits"):
        Payload(1 << 16, 0, 0)


def test_the_convolutional_code_corrects_noisy_soft_bits():
    rng = np.random.default_rng(0)
    coded = 2.0 * encode(PAYLOAD.bits()) - 1.0
    assert len(coded) == 140
    wrong_signs = 0
    for _ in range(20):  # per-bit SNR 2: about 2 % of the soft values have the wrong sign
        soft = 2.0 * coded + rng.standard_normal(len(coded))
        wrong_signs += int((np.sign(soft) != coded).sum())
        assert Payload.from_bits(viterbi(soft)) == PAYLOAD
    assert wrong_signs > 0


# -- embedding: only inside the mask, invisible -------------------------------------------------------------
def test_the_mark_changes_only_the_masked_pixels_and_keeps_psnr_above_40_db():
    frame = _texture(180, 200, 0)
    mask = np.zeros((180, 200), np.uint8)
    cv2.ellipse(mask, (100, 90), (60, 75), 0, 0, 360, 255, -1)
    marked = embed(frame, mask, PAYLOAD)
    diff = marked.astype(np.float64) - frame
    assert not diff[mask == 0].any()
    assert (diff[..., 0] == diff[..., 1]).all() and (diff[..., 1] == diff[..., 2]).all()  # luma only, no tint
    psnr = 10 * np.log10(255.0 ** 2 / np.mean(diff[mask > 0] ** 2))
    assert 39.5 < psnr < 41.0
    assert embed(frame, np.zeros_like(mask), PAYLOAD) is frame


# -- reading: the false-positive bound and the geometric search, on synthetic pictures ---------------------
def test_unmarked_pictures_score_like_a_unit_normal_and_never_reach_the_thresholds():
    at_anchor, near, search = [], [], []
    for seed in range(60):
        crop = _texture(160, 160, seed)
        at_anchor.append(mark.sync_z(mark.fold(crop, IDENTITY, 0.15)[0])[0, 0])  # one hypothesis
        r = read(crop[None], IDENTITY[None], 0.15)[0]
        near.append(r.z)
        search.append(r.z_search)
        assert not r.marked and r.payload is None and r.confidence < 1e-3
    assert abs(np.mean(at_anchor)) < 0.4 and 0.6 < np.std(at_anchor) < 1.4  # a unit Rademacher sum in the key
    assert max(near) < mark.THRESHOLD - 1.5 and max(search) < mark.SEARCH_THRESHOLD - 1.5


def test_the_mark_is_read_near_the_face_and_a_displaced_or_halved_copy_by_the_search():
    frame = _texture(300, 300, 1)
    marked = embed(frame, np.full((300, 300), 255, np.uint8), PAYLOAD, at=(121.5, 118.0))
    face = np.array([[[1, 0, -40], [0, 1, -40]]], np.float32)  # a 160 px crop centred on (120, 120)
    near = read(marked[40:200, 40:200][None], face, 0.15)[0]
    assert near.z >= mark.THRESHOLD and near.payload == PAYLOAD and near.shift == (-2.0, 1.5)  # (dy, dx)
    displaced = read(marked[53:213, 27:187][None], IDENTITY[None], 0.15)[0]  # read 13 px away from the anchor
    assert displaced.z < mark.THRESHOLD <= displaced.z_search and displaced.payload == PAYLOAD
    assert displaced.marked and displaced.confidence > 1 - 1e-6
    half = cv2.resize(marked, (150, 150), interpolation=cv2.INTER_AREA)
    halved = read(half[None], IDENTITY[None], 0.15)[0]
    assert halved.marked and halved.scale == 0.5


# -- real sample frames ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def extractor():
    from fakebench.detect.provenance import ProvenanceDetector

    return ProvenanceDetector.request.extractor(device="cpu", use_cache=False)


@pytest.fixture(scope="module")
def marked_a(extractor):
    """Eight frames of A, each marked inside its landmark hull (as the convert loop marks a swapped face)."""
    frames = read_video(sample("A")[0], indices=range(1200, 1208)).frames
    track = extractor.extract_frames(frames)
    assert track.has_face.all()
    masks = [_face_mask(track.landmarks[i], frames.shape[1:3]) for i in range(len(frames))]
    anchors = [mark.anchor(a, track.size) for a in track.affines]
    return frames, np.stack([embed(f, m, PAYLOAD, at) for f, m, at in zip(frames, masks, anchors)]), track


@pytest.mark.media
def test_a_marked_real_frame_is_detected_and_its_payload_read_back(marked_a, extractor):
    frames, marked, _ = marked_a
    track = extractor.extract_frames(marked[:1])  # the faces found again, on the marked frame itself
    reading = read(track.crops, track.affines, track.margin)[0]
    assert reading.marked and reading.z >= mark.THRESHOLD and reading.confidence > 1 - 1e-6
    assert reading.payload == PAYLOAD
    clean = extractor.extract_frames(frames[:1])
    assert not read(clean.crops, clean.affines, clean.margin)[0].marked


# -- the convert loop marks every fake, unless told not to; the mark survives a re-upload ------------------
@pytest.fixture(scope="module")
def tiny_fakes(tiny_run, tmp_path_factory):
    """Twelve frames of A converted by the tiny run, with the mark and with ``mark=False``: {marked: (path, manifest)}."""
    from fakebench.generate.convert import ConvertSettings, convert

    folder = tmp_path_factory.mktemp("marked")
    return {marked: (folder / f"fake-{marked}.mp4", convert(tiny_run, sample("A")[0], to="b", out=folder / f"fake-{marked}.mp4",
                                                            start=300, stop=312, device="cpu", progress=False,
                                                            settings=ConvertSettings(mark=marked)))
            for marked in (True, False)}


@pytest.mark.media
def test_convert_marks_its_fakes_and_no_mark_leaves_them_unmarked(tiny_fakes):
    from fakebench.detect.provenance import ProvenanceDetector
    from fakebench.detect.score import score_file

    detector = ProvenanceDetector()
    (marked, manifest), (plain, plain_manifest) = tiny_fakes[True], tiny_fakes[False]
    entry = manifest["settings"]["mark"]
    assert entry["payload"]["start_frame"] == 300 and entry["key"] == mark.KEY
    verdict = score_file(detector, marked)[0]
    assert verdict.evidence["marked"] and verdict.score > 1 - 1e-6 and verdict.evidence["payload"] == entry["payload"]
    assert verdict.evidence["frames_marked"] == verdict.evidence["frames_read"] >= 6  # the tiny model's faces
    assert plain_manifest["settings"]["mark"] is False
    unmarked = score_file(detector, plain)[0]
    assert not unmarked.evidence["marked"] and unmarked.score < 1e-3 and unmarked.evidence["frames_marked"] == 0


@pytest.mark.media
def test_the_mark_survives_the_crf_23_re_encode(tiny_fakes, extractor):
    path, _ = tiny_fakes[True]
    again = h264_roundtrip(read_video(path).frames, 23, fps=24)  # a re-upload of the fake
    track = extractor.extract_frames(again)
    crops, affines = track.crops[track.has_face], track.affines[track.has_face]
    readings = read(crops, affines, track.margin)
    assert len(readings) >= 6 and sum(r.marked for r in readings) >= len(readings) - 1
    pooled = read_pooled(crops, affines, track.margin)
    assert pooled.marked and pooled.confidence > 1 - 1e-6  # (the payload's finer ring mostly does not survive CRF 23)
