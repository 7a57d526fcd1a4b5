"""The tiny data set of the CI benchmark (data/ci.yaml), built from sample A in a few seconds."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fakebench.media import read_video, write_video

FPS = 12.0  # every second frame of A's 24 fps
LENGTH = 108  # 9 s
REAL_STARTS = (0, 800, 2000)  # in 12-fps frames
FAKE_STARTS = (400, 1200, 1600)
SLOWDOWN = 4


def build_ci_data(sample_a: Path, root: Path) -> Path:
    """``root/real/real{k}.mp4`` and ``root/fake/slow{k}.mp4`` (mp4v, 12 fps, 9 s each)."""
    wanted = sorted({2 * (s + i) for s in REAL_STARTS for i in range(LENGTH)}
                    | {2 * (s + i) for s in FAKE_STARTS for i in range(LENGTH // SLOWDOWN)})
    video = read_video(sample_a, indices=wanted)
    by_number = dict(zip(video.indices.tolist(), video.frames))

    def clip(start: int, n: int) -> np.ndarray:
        return np.stack([by_number[2 * (start + i)] for i in range(n)])

    for k, start in enumerate(REAL_STARTS):
        write_video(root / "real" / f"real{k}.mp4", clip(start, LENGTH), fps=FPS)
    for k, start in enumerate(FAKE_STARTS):
        write_video(root / "fake" / f"slow{k}.mp4", np.repeat(clip(start, LENGTH // SLOWDOWN), SLOWDOWN, axis=0), fps=FPS)
    return root
