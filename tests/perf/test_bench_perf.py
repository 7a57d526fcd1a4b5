"""Bootstrap speed: 2,000 stratified replicates of the frame-level AUC on 100k frame scores (issue 7: <= 2 s).

100,000 frames in 3,125 videos of 32 frames (the 32-frame protocol), half of them fake; every replicate
redraws the real and the fake videos with replacement and takes all their frames. Also timed: every
metric on the same set, and the AUC of 10,000 video-level scores.
"""

from __future__ import annotations

import numpy as np
import pytest

from fakebench.benchmarks.metrics import bootstrap


@pytest.fixture(scope="module")
def frames():
    rng = np.random.default_rng(0)
    n_videos, per = 3125, 32
    video = np.repeat(np.arange(n_videos), per)
    labels = (np.arange(n_videos) % 2)[video]
    scores = rng.normal(size=len(video)) + 0.8 * labels + np.repeat(rng.normal(size=n_videos), per)
    return labels, scores, video


def test_auc_2000_replicates_100k_frames(benchmark, frames):
    labels, scores, video = frames
    result = benchmark.pedantic(bootstrap, args=(labels, scores, video), kwargs={"n": 2000, "names": ("auc",)},
                                rounds=5, warmup_rounds=1)
    low, high = result.interval("auc")
    assert low < result.point["auc"] < high
    assert len(result.replicates["auc"]) == 2000


def test_all_metrics_2000_replicates_100k_frames(benchmark, frames):
    labels, scores, video = frames
    result = benchmark.pedantic(bootstrap, args=(labels, scores, video), kwargs={"n": 2000}, rounds=1)
    assert all(len(v) == 2000 for v in result.replicates.values())


def test_auc_2000_replicates_10k_videos(benchmark):
    rng = np.random.default_rng(1)
    labels = np.arange(10_000) % 2
    scores = rng.normal(size=10_000) + labels
    result = benchmark.pedantic(bootstrap, args=(labels, scores), kwargs={"n": 2000}, rounds=3, warmup_rounds=1)
    assert len(result.replicates["auc"]) == 2000
