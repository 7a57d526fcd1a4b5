"""Simulation studies of the benchmark's statistics: each fails on the method it replaced.

Clips that share a source (a video, a person) move together: the bootstrap must resample whole
source groups, DeLong must use the clustered (Obuchowski) variance, and at perfect separation the
interval must keep a lower bound that does not collapse to 1. Not timed; seeded, so deterministic.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from fakebench.benchmarks import metrics as M

GROUPS, CLIPS = 60, 4  # source groups; real clips and fake clips per group
DELTA, SD_GROUP, SD_FAKE_GROUP, SD_CLIP = 1.2, 0.6, 0.6, 0.5


def _clustered_set(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores of CLIPS real + CLIPS fake clips per group: a group effect shared by all its clips, another by its fakes."""
    labels = np.tile(np.r_[np.zeros(CLIPS), np.ones(CLIPS)], GROUPS).astype(np.int64)
    group = np.repeat(np.arange(GROUPS), 2 * CLIPS)
    shared, fake_shift = rng.normal(0, SD_GROUP, GROUPS), rng.normal(0, SD_FAKE_GROUP, GROUPS)
    scores = DELTA * labels + shared[group] + fake_shift[group] * labels + rng.normal(0, SD_CLIP, len(labels))
    return labels, scores, group


def _true_auc() -> float:
    """E[AUC]: a pair from one group differs by DELTA + fake shift + noise, a pair from two groups also by two shared effects."""
    same = math.sqrt(SD_FAKE_GROUP ** 2 + 2 * SD_CLIP ** 2)
    cross = math.sqrt(2 * SD_GROUP ** 2 + SD_FAKE_GROUP ** 2 + 2 * SD_CLIP ** 2)
    return norm.cdf(DELTA / same) / GROUPS + norm.cdf(DELTA / cross) * (1 - 1 / GROUPS)


def test_the_cluster_bootstrap_covers_the_true_auc_where_the_clip_bootstrap_does_not():
    rng = np.random.default_rng(7)
    true = _true_auc()
    covered = {"groups": 0, "clips": 0}
    n_sets = 500
    for i in range(n_sets):
        labels, scores, group = _clustered_set(rng)
        for how, clusters in (("groups", group), ("clips", None)):
            lo, hi = M.bootstrap(labels, scores, clusters=clusters, n=1000, names=("auc",),
                                 rng=np.random.default_rng(i)).interval("auc")
            covered[how] += lo <= true <= hi
    share = {k: v / n_sets for k, v in covered.items()}
    assert 0.93 <= share["groups"] <= 0.97, share
    assert share["clips"] < 0.90, share  # clips taken as independent: the interval is too narrow


def test_a_cluster_replicate_draws_whole_groups_stratified_by_what_they_hold():
    labels = np.array([0, 1, 0, 1, 0, 0, 1])  # per video
    clusters = np.array([0, 0, 1, 1, 2, 3, 4])  # groups 0, 1 mixed; 2, 3 real only; 4 fake only
    counts = M.resample_counts(labels, 300, np.random.default_rng(0), clusters)
    # the videos of one group are drawn together
    np.testing.assert_array_equal(counts[:, 0], counts[:, 1])
    np.testing.assert_array_equal(counts[:, 2], counts[:, 3])
    # each stratum keeps its size: two mixed, two real-only, one fake-only group per replicate
    assert (counts[:, 0] + counts[:, 2] == 2).all()
    assert (counts[:, 4] + counts[:, 5] == 2).all()
    assert (counts[:, 6] == 1).all()


def test_a_video_in_two_groups_is_refused():
    with pytest.raises(M.FakebenchError, match="two source groups"):
        M.bootstrap([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], ["v", "v", "w", "x"], clusters=["g", "h", "g", "g"])


def _two_detectors(rng: np.random.Generator):
    """Two detectors of equal AUC whose errors each follow the source group (a detector-specific group effect)."""
    labels, _, group = _clustered_set(rng)
    out = []
    for _ in range(2):
        shared, fake_shift = rng.normal(0, SD_GROUP, GROUPS), rng.normal(0, SD_FAKE_GROUP, GROUPS)
        out.append(DELTA * labels + shared[group] + fake_shift[group] * labels + rng.normal(0, SD_CLIP, len(labels)))
    return labels, out[0], out[1], group


def test_clustered_delong_holds_its_size_where_plain_delong_rejects_too_often():
    rng = np.random.default_rng(3)
    rejected = {"obuchowski": 0, "delong": 0}
    n_sets = 400
    for _ in range(n_sets):
        labels, a, b, group = _two_detectors(rng)
        rejected["obuchowski"] += M.delong(labels, a, b, clusters=group).p < 0.05
        rejected["delong"] += M.delong(labels, a, b).p < 0.05
    share = {k: v / n_sets for k, v in rejected.items()}
    assert share["obuchowski"] <= 0.08, share  # nominal 5 %
    assert share["delong"] >= 0.12, share  # clips taken as independent: many false differences


def test_clustered_delong_with_one_sample_per_group_is_close_to_delong():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    a, b = y + rng.normal(0, 1, 300), y + rng.normal(0, 1.2, 300)
    plain, clustered = M.delong(y, a, b), M.delong(y, a, b, clusters=np.arange(300))
    assert clustered.method == "obuchowski"
    assert clustered.diff == plain.diff
    assert clustered.se == pytest.approx(plain.se, rel=0.02)


def test_the_lower_bound_holds_at_perfect_separation_where_the_bootstrap_collapses():
    """Binormal detector of true AUC 0.98 on 15 + 15 videos: the bound's lower end rarely lies above 0.98."""
    true = 0.98
    shift = math.sqrt(2) * norm.ppf(true)
    rng = np.random.default_rng(11)
    above = {"bound": 0, "bootstrap": 0}
    perfect = 0
    n_sets = 1000
    for i in range(n_sets):
        labels = np.r_[np.zeros(15), np.ones(15)].astype(np.int64)
        scores = rng.normal(0, 1, 30) + shift * labels
        boot = M.bootstrap(labels, scores, n=500, names=("auc",), rng=np.random.default_rng(i))
        auc = boot.point["auc"]
        perfect += auc == 1.0
        above["bound"] += M.auc_lower_bound(auc, 15, 15) > true
        above["bootstrap"] += boot.interval("auc")[0] > true
    assert perfect >= 100  # the case the bound is for occurs
    assert above["bound"] / n_sets <= 0.05, above  # nominal 2.5 % (the lower end of a 95 % interval)
    assert above["bootstrap"] / n_sets >= 0.10, above


def test_the_lower_bound_does_not_collapse_and_grows_with_the_sample():
    small, large = M.auc_lower_bound(1.0, 3, 3), M.auc_lower_bound(1.0, 100, 100)
    assert 0.3 < small < large < 1.0
    assert large > 0.95
    assert M.auc_lower_bound(0.8, 50, 50) < 0.8
    assert math.isnan(M.auc_lower_bound(math.nan, 3, 3))
