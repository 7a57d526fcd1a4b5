"""Video and image I/O: round trips, frame sampling, and one clear error per kind of bad file."""

from __future__ import annotations

import logging
import subprocess

import cv2
import imageio_ffmpeg
import numpy as np
import pytest

from fakebench import media
from fakebench.errors import MediaError
from tests.conftest import sample, synthetic_frames


# -- sampling --------------------------------------------------------------------------------------
def test_count_spreads_evenly_and_keeps_first_and_last():
    idx = media.sample_indices(300, count=32)
    assert len(idx) == 32 and idx[0] == 0 and idx[-1] == 299
    assert np.all(np.diff(idx) > 0)
    gaps = np.diff(idx)
    assert gaps.max() - gaps.min() <= 1  # evenly spread


def test_count_larger_than_video_takes_every_frame():
    assert media.sample_indices(5, count=32).tolist() == [0, 1, 2, 3, 4]


def test_stride_and_range():
    assert media.sample_indices(20, stride=4).tolist() == [0, 4, 8, 12, 16]
    assert media.sample_indices(20, stride=4, start=6, stop=15).tolist() == [6, 10, 14]
    assert media.sample_indices(10, count=3, start=5).tolist() == [5, 7, 9]


@pytest.mark.parametrize("kwargs", [{"count": 0}, {"stride": 0}, {"count": 2, "stride": 2}, {"start": 5, "stop": 2}])
def test_bad_sampling_is_refused(kwargs):
    with pytest.raises(ValueError):
        media.sample_indices(10, **kwargs)


# -- reading ---------------------------------------------------------------------------------------
def test_read_video_gives_rgb_frames_fps_and_count(small_video):
    path, frames = small_video
    video = media.read_video(path)
    assert video.frames.shape == (12, 48, 64, 3) and video.frames.dtype == np.uint8
    assert video.info.fps == pytest.approx(10.0) and video.info.n_frames == 12
    assert video.indices.tolist() == list(range(12))
    # lossy codec, but the same pictures in the same order and colour order (RGB, not BGR)
    assert np.abs(video.frames.astype(int) - frames).mean() < 8
    blue = video.frames[..., 2].mean(axis=(1, 2))
    assert np.all(np.diff(blue) > 0)


def test_iter_frames_streams_only_the_wanted_frames(small_video):
    path, frames = small_video
    stream = media.iter_frames(path, [9, 2, 5])
    assert not isinstance(stream, list)
    got = list(stream)
    assert [i for i, _ in got] == [2, 5, 9]
    for i, frame in got:
        assert np.abs(frame.astype(int) - frames[i]).mean() < 8


def test_read_video_by_count_and_stride(small_video):
    path, _ = small_video
    assert media.read_video(path, count=4).indices.tolist() == [0, 4, 7, 11]
    assert media.read_video(path, stride=5).indices.tolist() == [0, 5, 10]
    assert media.count_frames(path) == 12


# -- writing ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("codec,ext", [("mp4v", ".mp4"), ("h264", ".mp4"), ("mjpg", ".avi"), ("ffv1", ".mkv")])
def test_write_then_read_round_trip(tmp_path, codec, ext):
    frames = synthetic_frames(n=10, h=48, w=64)
    path = media.write_video(tmp_path / f"out{ext}", frames, fps=12.5, codec=codec, crf=18)
    video = media.read_video(path)
    assert video.frames.shape == frames.shape
    assert video.info.fps == pytest.approx(12.5, rel=1e-3)
    tolerance = 0.5 if codec == "ffv1" else 8
    assert np.abs(video.frames.astype(int) - frames).mean() < tolerance


def test_h264_keeps_odd_sizes_and_writes_metadata(tmp_path):
    frames = synthetic_frames(n=6, h=45, w=61)
    path = media.write_video(tmp_path / "odd.mp4", frames, fps=25, codec="h264",
                             metadata={"comment": "synthetic: fakebench"})
    info = media.probe_video(path)
    assert (info.width, info.height, info.n_frames) == (61, 45, 6)
    probe = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)],
                           capture_output=True, text=True)
    assert "synthetic: fakebench" in probe.stderr
    assert "h264" in probe.stderr


def test_h264_crf_trades_size_for_quality(tmp_path):
    rng = np.random.default_rng(0)
    frames = np.clip(synthetic_frames(n=8, h=96, w=128).astype(int) + rng.normal(0, 12, (8, 96, 128, 3)), 0, 255)
    frames = frames.astype(np.uint8)
    good = media.write_video(tmp_path / "good.mp4", frames, fps=25, codec="h264", crf=18)
    bad = media.write_video(tmp_path / "bad.mp4", frames, fps=25, codec="h264", crf=40)
    assert bad.stat().st_size < good.stat().st_size
    err_good = np.abs(media.read_video(good).frames.astype(int) - frames).mean()
    err_bad = np.abs(media.read_video(bad).frames.astype(int) - frames).mean()
    assert err_bad > err_good


def test_writer_leaves_nothing_when_the_block_fails(tmp_path):
    target = tmp_path / "half.mp4"
    frames = synthetic_frames(n=4)
    with pytest.raises(RuntimeError), media.VideoWriter(target, fps=10) as writer:
        writer.write(frames[0])
        raise RuntimeError("killed mid-write")
    assert list(tmp_path.iterdir()) == []


def test_writer_refuses_bad_frames(tmp_path):
    with media.VideoWriter(tmp_path / "x.mp4", fps=10) as writer:
        with pytest.raises(MediaError, match=r"expected a uint8 \(H,W,3\) RGB frame, got float32"):
            writer.write(np.zeros((48, 64, 3), np.float32))
        writer.write(np.zeros((48, 64, 3), np.uint8))
        with pytest.raises(MediaError, match="frame 1 is 32x32, the video is 64x48"):
            writer.write(np.zeros((32, 32, 3), np.uint8))
    with pytest.raises(MediaError, match="no frames were written"):
        media.VideoWriter(tmp_path / "empty.mp4", fps=10).close()


# -- images ----------------------------------------------------------------------------------------
def test_gray_rgba_and_16bit_images_become_rgb(tmp_path):
    gray = (np.arange(48 * 64).reshape(48, 64) % 256).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "gray.png"), gray)
    cv2.imwrite(str(tmp_path / "gray.pgm"), gray)
    rgba = np.dstack([gray, gray // 2, gray // 3, np.full_like(gray, 128)])
    cv2.imwrite(str(tmp_path / "rgba.png"), cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
    cv2.imwrite(str(tmp_path / "deep.png"), gray.astype(np.uint16) * 257)
    for name in ("gray.png", "gray.pgm", "deep.png"):
        image = media.read_image(tmp_path / name)
        assert image.shape == (48, 64, 3) and image.dtype == np.uint8
        assert np.array_equal(image[..., 0], gray) and np.array_equal(image[..., 2], gray)
    image = media.read_image(tmp_path / "rgba.png")
    assert image.shape == (48, 64, 3)
    assert np.array_equal(image[..., 1], gray // 2)  # channel order kept: R, G, B


def test_image_round_trip(tmp_path):
    frame = synthetic_frames(n=1)[0]
    media.write_image(tmp_path / "f.png", frame)
    assert np.array_equal(media.read_image(tmp_path / "f.png"), frame)


# -- bad input -------------------------------------------------------------------------------------
def test_bad_files_get_one_clear_line(tmp_path, small_video):
    good, _ = small_video
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "text.mp4").write_text("this is not a video\n")
    (tmp_path / "head.mp4").write_bytes(good.read_bytes()[:600])
    cases = {
        tmp_path / "missing.mp4": "no such video",
        tmp_path: "is a folder, expected a video",
        tmp_path / "empty.mp4": r"file is empty \(0 bytes\)",
        tmp_path / "text.mp4": "cannot be decoded as a video",
        tmp_path / "head.mp4": "cannot be decoded as a video",
    }
    for path, message in cases.items():
        with pytest.raises(MediaError, match=message) as err:
            media.read_video(path)
        assert "\n" not in str(err.value) and str(path) in str(err.value)
    with pytest.raises(MediaError, match="cannot be decoded as an image"):
        media.read_image(tmp_path / "text.mp4")


@pytest.mark.media
def test_truncated_stream_reads_what_decodes_and_warns(tmp_path, caplog):
    source = sample("D")[0]
    faststart = tmp_path / "faststart.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-i", str(source), "-c", "copy",
                    "-movflags", "+faststart", str(faststart)], check=True)
    data = faststart.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    with caplog.at_level(logging.WARNING, logger="fakebench.media"):
        video = media.read_video(cut)
    assert media.probe_video(cut).n_frames == 72
    assert 10 < len(video.frames) < 72
    assert "stream ends after" in caplog.text


@pytest.mark.media
def test_header_that_overcounts_frames_is_read_to_the_end(caplog):
    path = sample("NOFACE")[0]
    with caplog.at_level(logging.WARNING, logger="fakebench.media"):
        video = media.read_video(path)
    assert video.info.n_frames == 98 and len(video.frames) == 95
    assert "stream ends after 95 frames" in caplog.text
