"""The data set of the CI benchmark (data/ci.yaml), built from sample A in about a minute.

Sample A (200 s, 24 fps) is read at 12 fps and cut into SEGMENTS stretches of SEGMENT frames. Each
stretch gives one real clip (its first LENGTH frames) and one fake: the next LENGTH / SLOWDOWN frames
slowed down SLOWDOWN times (each frame shown four times: a quarter of the blinks, each four times as
long). A real clip and its fake come from one stretch of one recording, so they share a source
group (``source_groups.csv``, read by the folder layout): the bootstrap and the gate resample the
stretches, not the clips.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from fakebench.media import read_video, write_video

FPS = 12.0  # every second frame of A's 24 fps
LENGTH = 108  # 9 s
SEGMENT = 200  # 12-fps frames per stretch of A: a real clip (108) and the 27 frames of its fake fit in one
SEGMENTS = 12
SLOWDOWN = 4


def build_ci_data(sample_a: Path, root: Path) -> Path:
    """``root/real/real{k}.mp4``, ``root/fake/slow{k}.mp4`` (mp4v, 12 fps, 9 s each) and ``root/source_groups.csv``."""
    starts = [k * SEGMENT for k in range(SEGMENTS)]
    wanted = sorted({2 * (s + i) for s in starts for i in range(LENGTH + LENGTH // SLOWDOWN)})
    video = read_video(sample_a, indices=wanted)
    by_number = dict(zip(video.indices.tolist(), video.frames))

    def clip(start: int, n: int) -> np.ndarray:
        return np.stack([by_number[2 * (start + i)] for i in range(n)])

    rows = []
    for k, start in enumerate(starts):
        write_video(root / "real" / f"real{k}.mp4", clip(start, LENGTH), fps=FPS)
        slow = np.repeat(clip(start + LENGTH, LENGTH // SLOWDOWN), SLOWDOWN, axis=0)
        write_video(root / "fake" / f"slow{k}.mp4", slow, fps=FPS)
        rows += [(f"real/real{k}.mp4", f"A:{k}"), (f"fake/slow{k}.mp4", f"A:{k}")]
    with open(root / "source_groups.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "source_group"])
        writer.writerows(rows)
    return root
