"""Robustness perturbations: DeeperForensics-1.0's seven distortions at five levels, plus JPEG quality.

Frames in and out are ``uint8 (T,H,W,3) RGB``. Level 1 is the mildest, 5 the strongest; level 0 is
no change. The parameters per level are DeeperForensics-1.0's (Jiang et al. 2020, its
``perturbation/`` code), the names are ours:

=============  =================================  ===============================================================
name           parameter at levels 1..5           what it does (the documented amount the tests check)
=============  =================================  ===============================================================
``saturation`` 0.4, 0.3, 0.2, 0.1, 0.0            chroma: Cb and Cr deviations from grey times the parameter
                                                  (level 5: greyscale). DF-1.0 "CS".
``contrast``   0.85, 0.725, 0.6, 0.475, 0.35      every RGB value times the parameter (DF-1.0 "CC": really a
                                                  darkening, kept as published).
``block``      16, 32, 48, 64, 80                 that many 8x8 grey (128) squares per 256 px of the shorter side
                                                  (at least that many), at random places. DF-1.0 "BW" (which
                                                  puts none on frames under 256 px).
``noise``      0.001, 0.002, 0.005, 0.01, 0.05    Gaussian noise of that variance added to Y, Cb and Cr on DF-1.0's
                                                  0..1 scale, which is studio swing (black..white = 219/255 of it for
                                                  Y, full chroma 224/255): in full-range grey levels sd 9.4, 13.3,
                                                  21.0, 29.7, 66.4 in Y and 9.2, 13.0, 20.5, 29.0, 64.9 in Cb, Cr;
                                                  then back to RGB, clipped to 0..255. DF-1.0 "GNC".
``blur``       7, 9, 13, 17, 21                   Gaussian blur, kernel that many px, sigma = kernel / 6. DF-1.0 "GB".
``pixelate``   2, 3, 4, 5, 6                      shrink by that factor, grow back (bilinear). DF-1.0 "JPEG" (sic).
``h264``       30, 32, 35, 38, 40                 the clip re-encoded with libx264 at that CRF (preset medium,
                                                  yuv420p) through imageio-ffmpeg. DF-1.0 "VC".
``jpeg``       90, 70, 50, 30, 10                 each frame JPEG-coded at that quality (OpenCV, 4:2:0). Not in DF-1.0.
=============  =================================  ===============================================================

Randomness (``block``, ``noise``) is seeded per frame from ``(seed, key, frame number)``, where
``key`` names the video (its content hash): the same frame gets the same noise however the video
is sampled, in every run. ``h264`` is deterministic as x264 is.

Where they apply (``mode``): ``frames`` (default) perturbs the decoded frames before face
detection, as a viewer of the perturbed video would see them: the face detector and landmarks see
the damage too. ``h264`` there re-encodes the whole frame range the detector samples from, so
motion prediction works as in a real re-upload. ``crops`` is the fast mode: the aligned face crops
of the clean track are perturbed (no new face detection, the clean track is reused from the
cache). It is not what a viewer sees: blur, pixelation and blocks act at crop scale instead of frame
scale, ``h264`` codes the sequence of crops, and a detector that reads landmarks only (``blink``)
does not see the perturbation at all.
"""

from __future__ import annotations

import os
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from fakebench.errors import ConfigError, FakebenchError

Mode = Literal["frames", "crops"]
MODES = ("frames", "crops")
LEVELS = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class Distortion:
    name: str
    params: tuple  # the parameter at levels 1..5
    about: str
    per_frame: bool = True  # False: acts on the clip as a whole (h264)
    random: bool = False


DISTORTIONS: dict[str, Distortion] = {d.name: d for d in (
    Distortion("saturation", (0.4, 0.3, 0.2, 0.1, 0.0), "chroma scaled by the parameter (DF-1.0 CS)"),
    Distortion("contrast", (0.85, 0.725, 0.6, 0.475, 0.35), "RGB values scaled by the parameter (DF-1.0 CC)"),
    Distortion("block", (16, 32, 48, 64, 80), "8x8 grey squares per 256 px of the short side (DF-1.0 BW)", random=True),
    Distortion("noise", (0.001, 0.002, 0.005, 0.01, 0.05), "Gaussian noise variance in studio-swing YCbCr on 0..1 (DF-1.0 GNC)",
               random=True),
    Distortion("blur", (7, 9, 13, 17, 21), "Gaussian kernel side, sigma = side / 6 (DF-1.0 GB)"),
    Distortion("pixelate", (2, 3, 4, 5, 6), "shrink factor, then grow back (DF-1.0 'JPEG')"),
    Distortion("h264", (30, 32, 35, 38, 40), "libx264 CRF of the re-encoded clip (DF-1.0 VC)", per_frame=False),
    Distortion("jpeg", (90, 70, 50, 30, 10), "JPEG quality of each frame (not in DF-1.0)"),
)}
NAMES = tuple(DISTORTIONS)


def check(name: str, level: int) -> Distortion:
    """The distortion called ``name``; a level outside 0..5 or an unknown name raises with what is known."""
    import difflib

    if name not in DISTORTIONS:
        close = difflib.get_close_matches(name, NAMES, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"unknown perturbation {name!r}{hint}; known: {', '.join(NAMES)}")
    if isinstance(level, bool) or not isinstance(level, int | np.integer) or not 0 <= level <= 5:
        raise ConfigError(f"perturbation {name}: level {level!r}; expected an integer 1..5 (0 = unchanged)")
    return DISTORTIONS[name]


def parameter(name: str, level: int) -> float | int:
    """The parameter of ``name`` at ``level`` (1..5)."""
    dist = check(name, level)
    if level == 0:
        raise ConfigError(f"perturbation {name}: level 0 is no perturbation and has no parameter")
    return dist.params[level - 1]


def frame_rng(seed: int, key: str, index: int, name: str, level: int) -> np.random.Generator:
    """The generator of one frame's random perturbation: fixed by (seed, video key, frame number, name, level)."""
    return np.random.default_rng([seed & 0xFFFFFFFF, zlib.crc32(key.encode()), int(index), zlib.crc32(name.encode()),
                                  level])


def video_key(path: str | os.PathLike) -> str:
    """The content hash that names a video in ``frame_rng`` (memoised in the cache)."""
    from fakebench.files import content_key

    return content_key(path)[:16]


# -- one frame ------------------------------------------------------------------------------------

def _ycbcr(frame: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(frame.astype(np.float32) / 255.0, cv2.COLOR_RGB2YCrCb)  # Y, Cr, Cb on 0..1, chroma about 0.5


# DF-1.0 adds its noise to YCbCr scaled to studio swing (Y 16..235, Cb and Cr 16..240 of 255): a step of 1 there
# is 255/219 full-range steps in Y and 255/224 in chroma. Per channel of _ycbcr's output (Y, Cr, Cb).
_STUDIO_SWING = np.array([255 / 219, 255 / 224, 255 / 224], np.float32)


def _rgb(ycc: np.ndarray) -> np.ndarray:
    import cv2

    rgb = cv2.cvtColor(ycc.astype(np.float32), cv2.COLOR_YCrCb2RGB)
    return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)


def perturb_frame(frame: np.ndarray, name: str, level: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """One ``uint8 (H,W,3) RGB`` frame perturbed (a new array); ``rng`` is needed by ``block`` and ``noise``."""
    import cv2

    dist = check(name, level)
    if level == 0:
        return frame.copy()
    if not dist.per_frame:
        return h264_roundtrip(frame[None], parameter(name, level))[0]
    if dist.random and rng is None:
        raise FakebenchError(f"perturbation {name} is random: pass rng (perturb.frame_rng(seed, key, index, ...))")
    p = dist.params[level - 1]
    h, w = frame.shape[:2]
    if name == "saturation":
        ycc = _ycbcr(frame)
        ycc[..., 1:] = 0.5 + (ycc[..., 1:] - 0.5) * p
        return _rgb(ycc)
    if name == "contrast":
        return np.clip(np.rint(frame.astype(np.float32) * p), 0, 255).astype(np.uint8)
    if name == "block":
        out = frame.copy()
        side = 8
        n = int(p) * max(1, min(h, w) // 256)
        if h <= side or w <= side:
            return out
        ys = rng.integers(0, h - side, n)
        xs = rng.integers(0, w - side, n)
        for y, x in zip(ys, xs):
            out[y:y + side, x:x + side] = 128
        return out
    if name == "noise":
        ycc = _ycbcr(frame)
        ycc += rng.standard_normal(ycc.shape, dtype=np.float32) * (np.float32(np.sqrt(p)) * _STUDIO_SWING)
        return _rgb(ycc)
    if name == "blur":
        return cv2.GaussianBlur(frame, (int(p), int(p)), p / 6.0)
    if name == "pixelate":
        small = cv2.resize(frame, (max(1, w // int(p)), max(1, h // int(p))), interpolation=cv2.INTER_LINEAR)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    if name == "jpeg":
        ok, data = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(p)])
        if not ok:
            raise FakebenchError(f"OpenCV could not JPEG-encode a {w}x{h} frame")
        return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    raise AssertionError(f"distortion {name} has no implementation")  # every name in DISTORTIONS is handled above


def perturb_frames(frames: np.ndarray, name: str, level: int, *, seed: int = 0, key: str = "",
                   indices=None, fps: float = 25.0) -> np.ndarray:
    """``uint8 (T,H,W,3) RGB`` frames perturbed; ``indices`` are their frame numbers (default 0..T-1).

    Per-frame distortions draw frame ``i``'s randomness from ``frame_rng(seed, key, indices[i], ...)``;
    ``h264`` codes the frames as one clip at ``fps``.
    """
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise FakebenchError(f"expected uint8 (T,H,W,3) RGB frames, got {frames.dtype} {frames.shape}: stack HWC frames")
    dist = check(name, level)
    if level == 0 or len(frames) == 0:
        return frames.copy()
    if not dist.per_frame:
        return h264_roundtrip(frames, parameter(name, level), fps=fps)
    indices = np.arange(len(frames)) if indices is None else np.asarray(indices)
    return np.stack([perturb_frame(f, name, level, frame_rng(seed, key, int(i), name, level) if dist.random else None)
                     for f, i in zip(frames, indices)])


def h264_roundtrip(frames: np.ndarray, crf: int, fps: float = 25.0) -> np.ndarray:
    """The frames coded as one H.264 clip at ``crf`` and decoded again (same count, same size)."""
    from fakebench.media import read_video, write_video

    with tempfile.TemporaryDirectory(prefix="fakebench-h264-") as tmp:
        path = write_video(Path(tmp) / "clip.mp4", frames, fps=fps or 25.0, codec="h264", crf=int(crf))
        decoded = read_video(path).frames
    if len(decoded) != len(frames):
        raise FakebenchError(f"H.264 round trip gave {len(decoded)} frames for {len(frames)}; the bundled ffmpeg "
                             "dropped frames (report this with the clip)")
    return decoded


# -- a video file -----------------------------------------------------------------------------------

def write_perturbed(path: str | os.PathLike, out: str | os.PathLike, name: str, level: int, indices: np.ndarray, *,
                    seed: int = 0, key: str = "", start: int = 0, stop: int | None = None) -> tuple[Path, np.ndarray]:
    """Write the perturbed frames of ``path`` that a detector samples (``indices``) to ``out``.

    Per-frame distortions: only the sampled frames are decoded, perturbed and written, losslessly
    (FFV1; give ``out`` a ``.mkv`` suffix). ``h264``: the whole range ``[start, stop)`` (at least up to
    the last sampled frame) is re-encoded at the level's CRF (``out`` ``.mp4``), as an upload would be.
    Returns the written file and, for each of its frames, the source frame number.
    """
    from fakebench.media import VideoWriter, iter_frames, probe_video

    dist = check(name, level)
    info = probe_video(path)
    fps = info.fps or 25.0
    indices = np.asarray(indices, np.int64)
    if len(indices) == 0:
        raise FakebenchError(f"{path}: no frames to perturb")
    if dist.per_frame:
        kept = []
        with VideoWriter(out, fps, codec="ffv1") as writer:
            for index, frame in iter_frames(path, indices):
                rng = frame_rng(seed, key, index, name, level) if dist.random else None
                writer.write(perturb_frame(frame, name, level, rng) if level else frame)
                kept.append(index)
        return Path(out), np.asarray(kept, np.int64)
    stop = int(indices.max()) + 1 if stop is None else max(int(stop), int(indices.max()) + 1)
    kept = []
    with VideoWriter(out, fps, codec="h264", crf=int(parameter(name, level))) as writer:
        for index, frame in iter_frames(path, range(int(start), stop)):
            writer.write(frame)
            kept.append(index)
    return Path(out), np.asarray(kept, np.int64)
