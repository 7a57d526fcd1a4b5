"""Reading and writing video and image files.

Frames crossing this module's boundary are ``uint8 (H,W,3) RGB`` (a video: ``(T,H,W,3)``). OpenCV
decodes (and gives BGR, converted here); OpenCV writes mp4v/MJPG/FFV1; H.264 is written through
the ffmpeg that imageio-ffmpeg bundles, which works offline.

Bad input is refused with one line naming the file: missing, a folder, zero bytes, not a video
(or truncated so that its index is gone). A video whose stream ends before its header's frame
count is read up to the last good frame, with a warning.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fakebench.errors import MediaError
from fakebench.files import disk_error, durable_replace, temp_beside, write_bytes

log = logging.getLogger(__name__)

VIDEO_EXTS = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv"})
IMAGE_EXTS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".ppm", ".pbm", ".tif", ".tiff", ".webp"})
CODECS = ("mp4v", "h264", "mjpg", "ffv1")


def is_video(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTS


def is_image(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTS


@dataclass(frozen=True)
class VideoInfo:
    """What a video's container says: frames per second, frame count, frame size in pixels."""

    path: Path
    fps: float
    n_frames: int
    width: int
    height: int

    @property
    def duration(self) -> float:
        """Length in seconds (0 when the fps is unknown)."""
        return self.n_frames / self.fps if self.fps > 0 else 0.0


def check_file(path: str | os.PathLike, what: str = "file") -> Path:
    """Refuse a missing path, a folder, or an empty file, with a message that says which."""
    path = Path(path)
    if not path.exists():
        raise MediaError(f"{path}: no such {what}; check the path")
    if path.is_dir():
        raise MediaError(f"{path}: is a folder, expected a {what}; pass the file itself")
    if path.stat().st_size == 0:
        raise MediaError(f"{path}: file is empty (0 bytes); re-copy or re-download it")
    return path


def _open(path: Path) -> cv2.VideoCapture:
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise MediaError(
            f"{path}: cannot be decoded as a video (not a video, or truncated so its index is missing); "
            "re-encode or re-download it"
        )
    return cap


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Open a video, check that its first frame decodes, and return what its container says."""
    path = check_file(path, "video")
    cap = _open(path)
    try:
        info = VideoInfo(
            path=path,
            fps=float(cap.get(cv2.CAP_PROP_FPS) or 0.0),
            n_frames=int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0),
            width=int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            height=int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )
        if not cap.grab():
            raise MediaError(f"{path}: opens as a video but no frame decodes; the file is damaged, re-encode it")
    finally:
        cap.release()
    return info


def sample_indices(
    n_frames: int,
    *,
    count: int | None = None,
    stride: int | None = None,
    start: int = 0,
    stop: int | None = None,
) -> np.ndarray:
    """Frame indices to read from a video of ``n_frames`` frames, within ``[start, stop)``.

    ``count``: that many indices spread evenly over the range, first and last included (the
    32-frame protocol of DeepfakeBench and most papers); fewer when the range is shorter.
    ``stride``: every ``stride``-th frame from ``start``. Neither: every frame.
    """
    stop = n_frames if stop is None else min(stop, n_frames)
    if start < 0 or stop < start:
        raise ValueError(f"expected 0 <= start <= stop, got start={start} stop={stop}")
    if count is not None and stride is not None:
        raise ValueError("pass count or stride, not both")
    if count is not None:
        if count < 1:
            raise ValueError(f"count must be >= 1, got {count}")
        if stop - start <= count:
            return np.arange(start, stop)
        return np.unique(np.linspace(start, stop - 1, count).round().astype(np.int64))
    stride = 1 if stride is None else stride
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    return np.arange(start, stop, stride)


def iter_frames(path: str | os.PathLike, indices: Iterable[int] | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(index, frame)`` for the wanted frames (all when ``indices`` is None), streaming.

    Only the wanted frames are converted and kept; the rest are grabbed and skipped, so a long
    video never sits in memory. Stops with a warning if the stream ends before the last wanted
    index (a truncated file, or a header that over-counts its frames).
    """
    path = check_file(path, "video")
    wanted = None if indices is None else sorted(set(int(i) for i in indices))
    cap = _open(path)
    try:
        if wanted is None:
            claimed = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
            index = 0
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                yield index, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                index += 1
            if index == 0:
                raise MediaError(f"{path}: opens as a video but no frame decodes; the file is damaged, re-encode it")
            if index < claimed:
                _warn_short(path, index, claimed - 1)
            return
        index = 0
        for target in wanted:
            while index < target:
                if not cap.grab():
                    _warn_short(path, index, target)
                    return
                index += 1
            ok, frame = cap.read()
            if not ok:
                _warn_short(path, index, target)
                return
            yield index, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            index += 1
    finally:
        cap.release()


def _warn_short(path: Path, decoded: int, wanted: int) -> None:
    log.warning("%s: stream ends after %d frames, before frame %d that was asked for (truncated, or the "
                "header over-counts); using the frames that decode", path, decoded, wanted)


@dataclass
class Video:
    """Decoded frames of a video with where they came from."""

    frames: np.ndarray  # uint8 (T,H,W,3) RGB
    indices: np.ndarray  # int64 (T,): frame numbers in the source video
    info: VideoInfo


def read_video(
    path: str | os.PathLike,
    *,
    indices: Iterable[int] | None = None,
    count: int | None = None,
    stride: int | None = None,
) -> Video:
    """Decode a video (all frames, given ``indices``, ``count`` evenly spread, or every ``stride``-th)."""
    info = probe_video(path)
    if indices is None and (count is not None or stride is not None):
        indices = sample_indices(info.n_frames, count=count, stride=stride)
    got_idx, got = [], []
    for index, frame in iter_frames(info.path, indices):
        got_idx.append(index)
        got.append(frame)
    if not got:
        raise MediaError(f"{info.path}: none of the requested frames decode; the file is damaged, re-encode it")
    return Video(frames=np.stack(got), indices=np.asarray(got_idx, dtype=np.int64), info=info)


def count_frames(path: str | os.PathLike) -> int:
    """Frames that really decode (the header's count can be wrong), by grabbing each one."""
    cap = _open(check_file(path, "video"))
    try:
        n = 0
        while cap.grab():
            n += 1
        return n
    finally:
        cap.release()


class VideoWriter:
    """Write RGB frames to a video file; the file appears only when ``close()`` succeeds.

    ``codec``: ``mp4v`` (OpenCV, MPEG-4 Part 2), ``h264`` (libx264 through imageio-ffmpeg, with
    ``crf``: 0 lossless .. 51 worst, 23 default), ``mjpg`` or ``ffv1`` (lossless, use .mkv/.avi).
    ``metadata`` is written into the container (H.264 only: ffmpeg ``-metadata key=value``).
    Use as a context manager; leaving the block with an exception leaves no file behind.
    """

    def __init__(self, path: str | os.PathLike, fps: float, *, codec: str = "mp4v", crf: int = 23,
                 metadata: dict[str, str] | None = None):
        if codec not in CODECS:
            raise MediaError(f"unknown codec {codec!r}: expected one of {', '.join(CODECS)}")
        if not fps or fps <= 0:
            raise MediaError(f"fps must be positive to write {path}, got {fps}")
        self.path = Path(path)
        self.fps = float(fps)
        self.codec = codec
        self.crf = int(crf)
        self.metadata = dict(metadata or {})
        self.n_written = 0
        self._size: tuple[int, int] | None = None
        self._tmp: Path | None = None
        self._sink = None

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def write(self, frame: np.ndarray) -> None:
        """Append one ``uint8 (H,W,3) RGB`` frame; all frames must have the first frame's size."""
        frame = _check_frame(frame)
        h, w = frame.shape[:2]
        if self._sink is None:
            self._start(w, h)
        elif (w, h) != self._size:
            raise MediaError(f"{self.path}: frame {self.n_written} is {w}x{h}, the video is {self._size[0]}x{self._size[1]}")
        if self.codec == "h264":
            self._sink.send(np.ascontiguousarray(frame))
        else:
            self._sink.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        self.n_written += 1

    def _start(self, w: int, h: int) -> None:
        self._size = (w, h)
        self._tmp = temp_beside(self.path)
        if self.codec == "h264":
            import imageio_ffmpeg

            # yuv420p needs even sides; odd-sized frames keep their size with yuv444p instead.
            pix_fmt = "yuv420p" if w % 2 == 0 and h % 2 == 0 else "yuv444p"
            params = ["-crf", str(self.crf), "-preset", "medium"]
            for key, value in self.metadata.items():
                params += ["-metadata", f"{key}={value}"]
            self._sink = imageio_ffmpeg.write_frames(
                str(self._tmp), (w, h), fps=self.fps, codec="libx264", pix_fmt_in="rgb24",
                pix_fmt_out=pix_fmt, macro_block_size=1, output_params=params, ffmpeg_log_level="error",
            )
            self._sink.send(None)
        else:
            fourcc = cv2.VideoWriter_fourcc(*{"mp4v": "mp4v", "mjpg": "MJPG", "ffv1": "FFV1"}[self.codec])
            self._sink = cv2.VideoWriter(str(self._tmp), fourcc, self.fps, (w, h))
            if not self._sink.isOpened():
                self.abort()
                raise MediaError(f"{self.path}: OpenCV cannot write codec {self.codec} to this container; "
                                 "use .mp4 for mp4v/h264, .avi or .mkv for mjpg/ffv1")

    def close(self) -> None:
        if self._sink is None:
            raise MediaError(f"{self.path}: no frames were written; a video needs at least one frame")
        if self.codec == "h264":
            self._sink.close()
        else:
            self._sink.release()
        self._sink = None
        if self._tmp.stat().st_size == 0:  # the encoders say nothing when the disk is full
            self.abort()
            raise MediaError(f"{self.path}: the encoder wrote nothing (disk full or not writable?); the previous file, "
                             "if any, is left as it was")
        try:
            durable_replace(self._tmp, self.path)
        except OSError as err:
            self.abort()
            raise (disk_error(self.path, err) or err) from err
        self._tmp = None

    def abort(self) -> None:
        """Drop the partial file."""
        if self._sink is not None:
            try:
                self._sink.close() if self.codec == "h264" else self._sink.release()
            except Exception:  # noqa: BLE001 - the partial file is deleted either way
                log.debug("closing an aborted writer failed", exc_info=True)
            self._sink = None
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)
            self._tmp = None


def write_video(path: str | os.PathLike, frames: Iterable[np.ndarray], fps: float, **kwargs) -> Path:
    """Write ``frames`` (``uint8 (T,H,W,3) RGB`` or an iterable of frames); see ``VideoWriter``."""
    with VideoWriter(path, fps, **kwargs) as writer:
        for frame in frames:
            writer.write(frame)
    return Path(path)


def _check_frame(frame: np.ndarray) -> np.ndarray:
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        desc = f"{frame.dtype} {tuple(frame.shape)}" if isinstance(frame, np.ndarray) else type(frame).__name__
        raise MediaError(f"expected a uint8 (H,W,3) RGB frame, got {desc}")
    return frame


def to_rgb(image: np.ndarray) -> np.ndarray:
    """Any decoded image as ``uint8 (H,W,3)``: gray is replicated, alpha dropped, 16-bit scaled."""
    if image.dtype == np.uint16:
        image = (image / 257.0).round().astype(np.uint8)
    elif image.dtype != np.uint8:
        raise MediaError(f"expected an 8- or 16-bit image, got {image.dtype}")
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim == 3 and image.shape[2] == 1:
        return np.repeat(image, 3, axis=2)
    if image.ndim == 3 and image.shape[2] == 4:
        return np.ascontiguousarray(image[:, :, :3])
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    raise MediaError(f"expected a gray, RGB or RGBA image, got shape {image.shape}")


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read png/jpg/pgm/... as ``uint8 (H,W,3) RGB`` (gray and RGBA converted)."""
    path = check_file(path, "image")
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise MediaError(f"{path}: cannot be decoded as an image; expected png, jpg, pgm, bmp or tiff")
    if image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA)
    return to_rgb(image)


def write_image(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Write a ``uint8 (H,W,3) RGB`` image (format from the extension), atomically."""
    image = _check_frame(image)
    try:
        ok, data = cv2.imencode(Path(path).suffix or ".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    except cv2.error:
        ok = False
    if not ok:
        raise MediaError(f"{path}: OpenCV cannot write this image format; use .png or .jpg")
    write_bytes(path, data.tobytes())  # encoded in memory: a full disk is an OSError, not a silent False
    return Path(path)
