"""Synthetic face tracks: a face whose eyes open and close on cue (the detector contract and the tests use them)."""

from __future__ import annotations

import numpy as np

from fakebench.faces.track import FaceTrack


def face_landmarks(openness: np.ndarray, rng: np.random.Generator, ear_open: float = 0.3,
                   jitter: float = 0.3) -> np.ndarray:
    """``float32 (N,68,2)``: a frontal face 100 px wide whose eye aspect ratio is ``ear_open * openness``."""
    n = len(openness)
    base = np.zeros((68, 2))
    base[:17] = np.stack([np.linspace(60, 160, 17), 120 + 40 * np.sin(np.linspace(0, np.pi, 17))], 1)  # jaw
    base[17:27] = np.stack([np.linspace(70, 150, 10), np.full(10, 80.0)], 1)  # brows
    base[27:36] = np.stack([np.full(9, 110.0), np.linspace(95, 130, 9)], 1)  # nose
    base[48:68] = np.stack([110 + 20 * np.cos(np.linspace(0, 2 * np.pi, 20)), 150 + 6 * np.sin(np.linspace(0, 2 * np.pi, 20))], 1)
    marks = np.repeat(base[None], n, 0)
    width = 24.0
    half_h = ear_open * np.asarray(openness, np.float64) * width / 2  # EAR = 2h/w for this eye shape
    for start, cx in ((36, 85.0), (42, 135.0)):
        cy = 95.0
        marks[:, start + 0] = (cx - width / 2, cy)
        marks[:, start + 3] = (cx + width / 2, cy)
        for k, dx, sign in ((1, -width / 6, -1), (2, width / 6, -1), (4, width / 6, 1), (5, -width / 6, 1)):
            marks[:, start + k, 0] = cx + dx
            marks[:, start + k, 1] = cy + sign * half_h
    marks += rng.normal(0, jitter, marks.shape)
    return marks.astype(np.float32)


def blink_openness(n: int, fps: float, blink_times: list[float], duration: float = 0.2) -> np.ndarray:
    """Openness 1 with a V-shaped closure to 0.1 lasting ``duration`` s at each time in ``blink_times``."""
    t = np.arange(n) / fps
    openness = np.ones(n)
    for bt in blink_times:
        dip = np.clip(1 - np.abs(t - bt) / (duration / 2), 0, 1)
        openness = np.minimum(openness, 1 - 0.9 * dip)
    return openness


def synthetic_track(openness: np.ndarray, fps: float = 25.0, seed: int = 0, size: int = 32,
                    has_face: np.ndarray | None = None, frames: np.ndarray | None = None) -> FaceTrack:
    rng = np.random.default_rng(seed)
    n = len(openness)
    has = np.ones(n, bool) if has_face is None else np.asarray(has_face, bool)
    marks = face_landmarks(openness, rng)
    marks[~has] = np.nan
    boxes = np.where(has[:, None], np.array([[55, 60, 165, 180]], np.float32), np.nan).astype(np.float32)
    crops = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    crops[~has] = 0
    return FaceTrack(
        source="synthetic.mp4", fps=fps, width=220, height=240, n_video_frames=n, size=size, margin=0.25,
        frames=np.arange(n) if frames is None else np.asarray(frames), has_face=has, n_faces=has.astype(np.int16),
        boxes=boxes, scores=has.astype(np.float32), points5=np.full((n, 5, 2), 100, np.float32), landmarks=marks,
        affines=np.tile(np.array([[1, 0, 0], [0, 1, 0]], np.float32), (n, 1, 1)), crops=crops)
