"""Speed of the blink detector's dense EAR pipeline on A: MTCNN on every frame vs on every 4th.

The blink detector needs landmarks on every frame. Running MTCNN on a stride and following the
face with the landmarks in between is what it does by default; this measures both, in one run,
on the same 192 consecutive frames (decode excluded), EAR and blink search included. Checked: a
face on every frame, the known blinks found, and MTCNN run on every ``detect_every``-th frame only.
"""

from __future__ import annotations

import numpy as np
import pytest

from fakebench.detect.blink import BlinkDetector, eye_aspect_ratio, find_blinks
from fakebench.faces import FaceExtractor
from fakebench.media import read_video
from tests.conftest import sample

pytestmark = pytest.mark.media
N_FRAMES = 192


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    return read_video(sample("A")[0], indices=range(1200, 1200 + N_FRAMES)).frames


@pytest.mark.parametrize("detect_every", [1, 4], ids=["mtcnn-every-frame", "mtcnn-every-4th"])
def test_blink_pipeline_throughput(benchmark, frames, detect_every):
    extractor = FaceExtractor(size=64, device="cpu", use_cache=False, detect_every=detect_every)
    extractor.extract_frames(frames[:16])  # build the networks
    detected = []  # frames handed to MTCNN per call
    detect = extractor.detector.detect

    def counted(batch):
        detected.append(len(batch))
        return detect(batch)

    extractor.detector.detect = counted

    def run():
        detected.clear()
        track = extractor.extract_frames(frames, fps=24.0)
        ear = np.where(track.has_face, eye_aspect_ratio(track.landmarks), np.nan)
        return track, find_blinks(ear, 24.0, BlinkDetector().config)

    track, blinks = benchmark.pedantic(run, rounds=3, warmup_rounds=0)
    assert track.n_with_face == N_FRAMES
    assert len(blinks.peaks) >= 1  # 1234-1238 and 1389-1397 are in this stretch
    assert sum(detected) == -(-N_FRAMES // detect_every)  # the stride was taken: MTCNN saw only those frames
    if benchmark.stats:
        benchmark.extra_info["frames_per_s"] = round(N_FRAMES / benchmark.stats.stats.median, 1)
