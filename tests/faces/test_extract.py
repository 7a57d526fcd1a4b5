"""The face pipeline on the real sample media: detection rate, alignment accuracy, paste-back,
the content-keyed cache, and faces that are missing, lost, several, gray, tiny or huge."""

from __future__ import annotations

import logging
import shutil

import cv2
import numpy as np
import pytest

from fakebench.errors import MediaError
from fakebench.faces import FaceExtractor, eye_centres, paste_back, template, transform_points
from fakebench.faces.export import export_track
from fakebench.faces.track import FaceTrack
from fakebench.media import read_video, write_image, write_video
from tests.conftest import sample

pytestmark = pytest.mark.media


@pytest.fixture(scope="module")
def franck():
    return sample("A")[0]


@pytest.fixture(scope="module")
def track_a(franck) -> FaceTrack:
    """64 frames spread over A's 200 s, 128 px crops with the default margin."""
    return FaceExtractor(size=128, device="cpu").extract(franck, count=64, progress=False)


def test_one_face_in_nearly_every_frame_of_a(track_a):
    assert len(track_a) == 64
    assert track_a.has_face.mean() >= 0.99
    assert (track_a.n_faces == 1).mean() >= 0.99
    assert track_a.crops.shape == (64, 128, 128, 3) and track_a.crops.dtype == np.uint8


def test_eyes_sit_on_the_template_after_alignment(track_a):
    # dlib's eye centres (mean of the 6 eye landmarks) mapped into the 128 px crop
    eyes = np.stack([eye_centres(transform_points(track_a.landmarks[i], track_a.affines[i]))
                     for i in np.flatnonzero(track_a.has_face)])
    error = np.linalg.norm(eyes - template(128, track_a.margin)[:2], axis=2)
    assert np.median(error) <= 1.5
    assert (error <= 3.0).mean() >= 0.95


def hull_mask(landmarks: np.ndarray, shape) -> np.ndarray:
    mask = np.zeros(shape[:2], np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(landmarks.astype(np.int32)), 1)
    return mask.astype(bool)


@pytest.mark.parametrize("size,max_error", [(256, 2.0), (128, 4.5)])
def test_pasting_the_crop_back_reproduces_the_face(franck, track_a, size, max_error):
    track = track_a if size == 128 else FaceExtractor(size=size, device="cpu").extract(franck, count=64, progress=False)
    video = read_video(franck, indices=track.frames[:12])
    errors = []
    for i, frame in enumerate(video.frames):
        restored = paste_back(frame, track.crops[i], track.affines[i])
        face = hull_mask(track.landmarks[i], frame.shape)
        errors.append(np.abs(restored.astype(int) - frame)[face].mean())
    assert np.mean(errors) < max_error  # gray levels over the face; 256 px keeps more detail than 128


def test_second_run_loads_the_cache_without_detecting(franck, track_a):
    again = FaceExtractor(size=128, device="cpu")
    track = again.extract(franck, count=64, progress=False)
    assert again.detector._mtcnn is None  # the network was never built
    assert np.array_equal(track.crops, track_a.crops)
    assert np.array_equal(track.landmarks, track_a.landmarks, equal_nan=True)


def test_new_crop_size_reuses_cached_detections(franck, track_a):
    small = FaceExtractor(size=64, device="cpu")
    track = small.extract(franck, count=64, progress=False)
    assert small.detector._mtcnn is None
    assert track.crops.shape == (64, 64, 64, 3)
    assert np.allclose(track.boxes, track_a.boxes, equal_nan=True)


def test_cache_follows_content_not_path(tmp_path, franck, track_a):
    copy = tmp_path / "renamed.mp4"
    shutil.copy(franck, copy)
    ex = FaceExtractor(size=128, device="cpu")
    track = ex.extract(copy, count=64, progress=False)
    assert ex.detector._mtcnn is None and track.source == str(copy)


def test_without_the_cache_nothing_is_written_there(tmp_path, franck, track_a):
    ex = FaceExtractor(size=128, device="cpu", use_cache=False, cache_dir=tmp_path / "cache")
    track = ex.extract(franck, count=8, progress=False)
    assert track.n_with_face == 8 and ex.detector._mtcnn is not None  # detected afresh
    assert not (tmp_path / "cache").exists()


def test_video_without_a_face():
    track = FaceExtractor(size=64, device="cpu").extract(sample("NOFACE")[0], count=12, progress=False)
    # 12 frames spread over the 98 the header claims; the last (97) does not decode (95 do)
    assert track.frames.tolist()[-1] == 88 and len(track) == 11 and track.n_with_face == 0
    assert track.n_faces.sum() == 0 and np.isnan(track.boxes).all()


def test_frames_where_the_face_is_lost_are_recorded(franck):
    frames = read_video(franck, count=10).frames
    frames[[3, 4, 7]] = 90  # the face leaves the picture
    track = FaceExtractor(size=64, device="cpu").extract_frames(frames)
    assert track.has_face.tolist() == [i not in (3, 4, 7) for i in range(10)]
    assert track.table()["has_face"].tolist() == track.has_face.tolist()


def test_several_faces_follow_the_largest_and_report_the_others(franck, caplog):
    a = read_video(franck, count=6).frames
    b = read_video(sample("B")[0], count=6).frames
    b_small = np.stack([cv2.resize(f, (240, 180)) for f in b])
    pad = np.zeros((6, a.shape[1] - 180, 240, 3), np.uint8)
    both = np.concatenate([a, np.concatenate([b_small, pad], axis=1)], axis=2)  # A (large) | B (small)
    with caplog.at_level(logging.WARNING, logger="fakebench"):
        track = FaceExtractor(size=64, device="cpu").extract_frames(both)
    assert (track.n_faces == 2).all()
    assert (track.boxes[:, 2] < a.shape[2]).all()  # the tracked face is A's, on the left
    assert len(track.others) == 6 and (track.others[:, 1] > a.shape[2]).all()  # B's face, each frame
    assert "several faces in 6 of 6 sampled frames" in caplog.text


def test_gray_video_and_gray_still_and_rgba_image(tmp_path, franck):
    frames = read_video(franck, count=6).frames
    gray = np.stack([cv2.cvtColor(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB) for f in frames])
    write_video(tmp_path / "gray.mp4", gray, fps=24)
    ex = FaceExtractor(size=64, device="cpu")
    assert ex.extract(tmp_path / "gray.mp4", progress=False).n_with_face == 6
    still = ex.extract(sample("ORL")[0], progress=False)  # 92x112 gray pgm
    assert len(still) == 1 and still.has_face[0] and still.fps == 0
    rgba = np.dstack([frames[0], np.full(frames[0].shape[:2], 200, np.uint8)])
    cv2.imwrite(str(tmp_path / "rgba.png"), cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
    assert ex.extract(tmp_path / "rgba.png", progress=False).has_face[0]


def test_tiny_and_huge_frames(franck):
    tiny = FaceExtractor(size=64, device="cpu").extract(sample("E")[0], count=8, progress=False)  # 176x144
    assert tiny.has_face.mean() >= 0.75
    frame = read_video(franck, count=2).frames[1]
    normal = FaceExtractor(size=64, device="cpu").extract_frames(frame[None])
    huge = np.ascontiguousarray(cv2.resize(frame, None, fx=8, fy=8, interpolation=cv2.INTER_CUBIC))  # 2880x2304
    big = FaceExtractor(size=64, device="cpu").extract_frames(huge[None])
    assert big.has_face[0]
    assert np.allclose(big.boxes[0] / 8, normal.boxes[0], atol=6)  # mapped back to full-resolution pixels


def test_in_memory_frames_are_checked():
    ex = FaceExtractor(size=64, device="cpu")
    with pytest.raises(MediaError, match=r"expected uint8 \(T,H,W,3\) RGB frames with T >= 1, got float32"):
        ex.extract_frames(np.zeros((2, 32, 32, 3), np.float32))
    with pytest.raises(MediaError, match=r"got uint8 \(2, 3, 32, 32\)"):
        ex.extract_frames(np.zeros((2, 3, 32, 32), np.uint8))


def test_export_writes_crops_table_and_track(tmp_path, track_a):
    folder = export_track(track_a, tmp_path / "out" / "franck")
    assert sorted(p.name for p in folder.iterdir()) == [".fakebench.json", "crops", "frames.csv", "summary.json",
                                                        "track.npz"]  # the marker: a folder fakebench wrote
    assert len(list((folder / "crops").glob("*.png"))) == track_a.n_with_face
    loaded = FaceTrack.load(folder / "track.npz")
    assert np.array_equal(loaded.frames, track_a.frames) and loaded.crops.shape[0] == 0
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]  # no staging left


def test_unreadable_track_file_is_one_line(tmp_path):
    bad = tmp_path / "track.npz"
    bad.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(MediaError, match="not a readable face track"):
        FaceTrack.load(bad)
    cut = tmp_path / "cut.npz"
    FaceExtractor(size=64, device="cpu").extract(write_image(tmp_path / "x.png", np.zeros((40, 40, 3), np.uint8)),
                                                progress=False).save(cut)
    cut.write_bytes(cut.read_bytes()[:300])
    with pytest.raises(MediaError, match="not a readable face track"):
        FaceTrack.load(cut)


def test_crops_without_landmarks_align_on_mtcnn_points(franck, track_a):
    quick = FaceExtractor(size=128, device="cpu", landmarks=False)
    track = quick.extract(franck, count=8, progress=False)
    assert track.has_face.all() and np.isnan(track.landmarks).all()
    assert quick.align == "mtcnn" and quick.landmarks._predictor is None  # dlib never loaded
    eyes = np.stack([transform_points(track.points5[i, :2], track.affines[i]) for i in range(len(track))])
    assert np.abs(eyes - template(128, track.margin)[:2]).max() < 4.0


def test_detecting_on_a_stride_follows_the_face_with_the_landmarks(franck):
    """MTCNN on every 4th frame, landmarks on every frame: the same points as detecting every frame."""
    video = read_video(franck, indices=range(1200, 1296))
    dense = FaceExtractor(size=64, device="cpu", use_cache=False).extract_frames(video.frames)
    strided_extractor = FaceExtractor(size=64, device="cpu", use_cache=False, detect_every=4)
    calls = []
    detect = strided_extractor.detector.detect
    strided_extractor.detector.detect = lambda frames: calls.append(len(frames)) or detect(frames)
    strided = strided_extractor.extract_frames(video.frames)
    assert sum(calls) == 24  # one frame in four went through MTCNN
    assert strided.has_face.all()
    error = np.linalg.norm(strided.landmarks - dense.landmarks, axis=-1)
    assert np.median(error) < 1.0 and np.percentile(error, 95) < 3.0
    with pytest.raises(ValueError, match="needs landmarks=True"):
        FaceExtractor(detect_every=4, landmarks=False)
