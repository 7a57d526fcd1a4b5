"""Bootstrap speed: 2,000 stratified replicates of the frame-level AUC on 100k frame scores (issue 7: <= 2 s).

100,000 frames in 3,125 videos of 32 frames (the 32-frame protocol), half of them fake; every replicate
redraws the real and the fake videos with replacement and takes all their frames. Also timed: every
metric on the same set, and the AUC of 10,000 video-level scores. Checked: the point AUC is
scikit-learn's, every metric has its replicates, and their spread is that of a slow direct bootstrap
(scikit-learn's AUC on resampled videos), so a fast path that loses the video grouping fails.
"""

from __future__ import annotations

import numpy as np
import pytest

from fakebench.benchmarks.metrics import METRICS, bootstrap


@pytest.fixture(scope="module")
def frames():
    rng = np.random.default_rng(0)
    n_videos, per = 3125, 32
    video = np.repeat(np.arange(n_videos), per)
    labels = (np.arange(n_videos) % 2)[video]
    scores = rng.normal(size=len(video)) + 0.8 * labels + np.repeat(rng.normal(size=n_videos), per)
    return labels, scores, video


def direct_auc_sd(labels: np.ndarray, scores: np.ndarray, video: np.ndarray, n: int, seed: int) -> float:
    """The sd of the AUC over ``n`` stratified video resamples, each scored by scikit-learn (slow, plain)."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    order = np.argsort(video, kind="stable")
    ids, starts = np.unique(video[order], return_index=True)
    members = np.split(order, starts[1:])  # frame positions of each video
    video_label = labels[order[starts]]
    values = []
    for _ in range(n):
        drawn = np.concatenate([rng.choice(ids[video_label == c], (video_label == c).sum()) for c in (0, 1)])
        frames = np.concatenate([members[i] for i in np.searchsorted(ids, drawn)])
        values.append(roc_auc_score(labels[frames], scores[frames]))
    return float(np.std(values))


def test_auc_2000_replicates_100k_frames(benchmark, frames):
    from sklearn.metrics import roc_auc_score

    labels, scores, video = frames
    result = benchmark.pedantic(bootstrap, args=(labels, scores, video), kwargs={"n": 2000, "names": ("auc",)},
                                rounds=5, warmup_rounds=1)
    replicates = result.replicates["auc"]
    assert len(replicates) == 2000 and np.isfinite(replicates).all()
    assert result.point["auc"] == pytest.approx(roc_auc_score(labels, scores), abs=1e-9)
    # resampling frames instead of videos would shrink the sd about 4x (32 frames share a video effect)
    assert replicates.std() == pytest.approx(direct_auc_sd(labels, scores, video, 100, seed=1), rel=0.3)


def test_all_metrics_2000_replicates_100k_frames(benchmark, frames):
    labels, scores, video = frames
    result = benchmark.pedantic(bootstrap, args=(labels, scores, video), kwargs={"n": 2000}, rounds=1)
    assert set(result.replicates) == set(METRICS)
    for name, values in result.replicates.items():
        low, high = result.interval(name)
        assert len(values) == 2000 and low <= result.point[name] <= high, name


def test_auc_2000_replicates_10k_videos(benchmark):
    rng = np.random.default_rng(1)
    labels = np.arange(10_000) % 2
    scores = rng.normal(size=10_000) + labels
    result = benchmark.pedantic(bootstrap, args=(labels, scores), kwargs={"n": 2000}, rounds=3, warmup_rounds=1)
    replicates = result.replicates["auc"]
    assert len(replicates) == 2000
    video = np.arange(len(labels))  # each score its own video
    assert replicates.std() == pytest.approx(direct_auc_sd(labels, scores, video, 200, seed=1), rel=0.2)


@pytest.mark.parametrize("n_videos", [200, 1000], ids=["200x500", "1000x100"])
def test_all_metrics_2000_replicates_100k_frames_by_video_size(benchmark, n_videos):
    """All metrics, 2,000 replicates, 100k frame scores: 200 videos of 500 frames, or 1,000 of 100."""
    from fakebench.benchmarks.metrics import Bootstrap, _video_table
    from tests.benchmarks.test_metrics import _draw_counts, _reference

    rng = np.random.default_rng(2)
    per = 100_000 // n_videos
    video = np.repeat(np.arange(n_videos), per)
    labels = (np.arange(n_videos) % 2)[video]
    scores = rng.normal(size=len(video)) + 0.8 * labels + np.repeat(rng.normal(size=n_videos), per)
    result = benchmark.pedantic(bootstrap, args=(labels, scores, video), kwargs={"n": 2000}, rounds=3,
                                warmup_rounds=1)
    assert set(result.replicates) == set(METRICS) and all(len(v) == 2000 for v in result.replicates.values())
    # on one small draw, the intervals of the code before the sweep (3f0b700), to 1e-12
    vid, v_label = _video_table(labels, video)
    counts = _draw_counts(v_label, 40, np.random.default_rng(3))
    new = bootstrap(labels, scores, video, counts=counts)
    old = Bootstrap(new.point, _reference(scores, labels, vid, counts, METRICS))
    for name in METRICS:
        assert new.interval(name) == pytest.approx(old.interval(name), abs=1e-12), name
