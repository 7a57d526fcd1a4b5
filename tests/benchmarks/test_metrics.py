"""Metrics against sklearn, the EER on a curve built by hand, bootstrap coverage, DeLong against the bootstrap."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from fakebench.benchmarks import metrics as M
from fakebench.errors import FakebenchError


@pytest.mark.parametrize("seed", range(6))
def test_metrics_equal_sklearn_on_random_data(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(10, 400))
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]
    s = rng.random(n) + 0.4 * y
    if seed % 2:
        s = np.round(s, 1)  # many ties
    got = M.compute(y, s)
    assert got["auc"] == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert got["ap"] == pytest.approx(average_precision_score(y, s), abs=1e-12)
    fpr, tpr, thr = roc_curve(y, s, drop_intermediate=False)
    for name, target in M.FPR_TARGETS.items():
        assert got[name] == pytest.approx(tpr[fpr <= target + 1e-12].max(), abs=1e-12)
    assert got["acc"] == pytest.approx(((s > 0.5) == y).mean())
    fnr = 1 - tpr  # EER from sklearn's curve: where FPR - FNR changes sign, linear between the two points
    k = int(np.argmax(fpr - fnr >= 0))
    d0, d1 = fpr[k - 1] - fnr[k - 1], fpr[k] - fnr[k]
    t = -d0 / (d1 - d0) if d1 > d0 else 0.0
    assert got["eer"] == pytest.approx(fpr[k - 1] + t * (fpr[k] - fpr[k - 1]), abs=1e-12)


def test_eer_on_a_constructed_curve():
    # reals at 0..9, fakes at 3.5..12.5. Calling "fake" from 6.5 up: reals 7, 8, 9 pass (FPR 3/10) and fakes
    # 3.5, 4.5, 5.5 are missed (FNR 3/10): the two error rates meet at 0.3 exactly.
    y = np.r_[np.zeros(10), np.ones(10)].astype(int)
    s = np.r_[np.arange(10.0), np.arange(10.0) + 3.5]
    assert M.compute(y, s)["eer"] == pytest.approx(0.3)
    # between two ROC points the rates cross part-way: reals 0, 2, fakes 1, 3 -> the curve steps (0,.5) -> (.5,.5)
    # -> (.5,1); FPR = FNR = 0.5 on the segment from (0, .5) to (.5, .5)
    assert M.compute([0, 1, 0, 1], [0.0, 1.0, 2.0, 3.0])["eer"] == pytest.approx(0.5)
    # perfectly separated: 0; reversed: 1; all tied (the diagonal): 0.5
    assert M.compute([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])["eer"] == 0.0
    assert M.compute([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1])["eer"] == 1.0
    assert M.compute([0, 1, 0, 1], [0.5] * 4)["eer"] == pytest.approx(0.5)


def test_one_class_gives_nan_and_a_warning():
    with pytest.warns(M.OneClassWarning, match="only real"):
        got = M.compute([0, 0, 0], [0.1, 0.7, 0.2])
    assert math.isnan(got["auc"]) and math.isnan(got["eer"]) and got["acc"] == pytest.approx(2 / 3)
    with pytest.warns(M.OneClassWarning):
        boot = M.bootstrap([1, 1], [0.3, 0.9])
    assert math.isnan(boot.interval("auc")[0])


def test_bad_inputs_are_refused():
    with pytest.raises(FakebenchError, match="labels 0 .* or 1"):
        M.compute([0, 2], [0.1, 0.2])
    with pytest.raises(FakebenchError, match="NaN"):
        M.compute([0, 1], [0.1, np.nan])
    with pytest.raises(FakebenchError, match="both real and fake"):
        M.bootstrap([0, 1], [0.1, 0.2], groups=["v", "v"])


def test_both_bootstrap_routes_agree():
    rng = np.random.default_rng(3)
    video = np.repeat(np.arange(60), 20)
    y = (np.arange(60) % 2)[video]
    s = np.round(rng.normal(size=len(y)) + 0.6 * y + np.repeat(rng.normal(size=60), 20), 2)
    vid, v_label = M._video_table(y, video)
    counts = M.resample_counts(v_label, 40, rng)
    kernel = M._auc_by_kernel(s, y, vid, counts)
    order, ends = M._sorted_desc(s)
    w = counts[:, vid[order]]
    direct = M._weighted_metrics(w * y[order], w - w * y[order], ends, 0, ["auc"])["auc"]
    np.testing.assert_allclose(kernel, direct, atol=1e-12)
    # a replicate is a real resample: its AUC equals sklearn's on the repeated frames
    reps = np.repeat(np.arange(len(y)), counts[0][vid].astype(int))
    assert kernel[0] == pytest.approx(roc_auc_score(y[reps], s[reps]), abs=1e-12)


def test_resampling_is_stratified_and_seeded():
    labels = np.array([0] * 7 + [1] * 3)
    counts = M.resample_counts(labels, 50, np.random.default_rng(0))
    assert (counts[:, labels == 0].sum(1) == 7).all() and (counts[:, labels == 1].sum(1) == 3).all()
    np.testing.assert_array_equal(counts, M.resample_counts(labels, 50, np.random.default_rng(0)))


def test_bootstrap_interval_covers_the_true_auc_about_95_percent():
    # binormal model: fakes N(d, 1), reals N(0, 1): true AUC = Phi(d / sqrt 2)
    rng = np.random.default_rng(12)
    d = 1.0
    truth = norm.cdf(d / math.sqrt(2))
    trials, covered = 200, 0
    for _ in range(trials):
        y = np.r_[np.zeros(80, int), np.ones(80, int)]
        s = rng.normal(size=160) + d * y
        low, high = M.bootstrap(y, s, n=500, rng=rng, names=("auc",)).interval("auc")
        covered += low <= truth <= high
    assert 0.89 <= covered / trials <= 0.99, covered


def test_resampling_videos_not_frames_keeps_coverage_with_correlated_frames():
    # each video has its own offset: frames of a video are not independent. Resampling videos covers the
    # truth; resampling frames as if independent would give intervals far too narrow.
    rng = np.random.default_rng(5)
    truth = norm.cdf(0.8 / math.sqrt(2 * (1 + 1)))  # per-frame: N(0.8 + u, 1) vs N(u', 1), u ~ N(0, 1)
    covered_video = covered_frame = 0
    trials = 60
    for _ in range(trials):
        vid = np.repeat(np.arange(40), 16)
        y = (np.arange(40) % 2)[vid]
        s = rng.normal(size=len(y)) + 0.8 * y + np.repeat(rng.normal(size=40), 16)
        lo, hi = M.bootstrap(y, s, vid, n=300, rng=rng, names=("auc",)).interval("auc")
        covered_video += lo <= truth <= hi
        lo, hi = M.bootstrap(y, s, None, n=300, rng=rng, names=("auc",)).interval("auc")
        covered_frame += lo <= truth <= hi
    assert covered_video / trials >= 0.85
    assert covered_frame / trials < 0.75


def test_delong_agrees_with_the_paired_bootstrap_on_a_clear_difference():
    rng = np.random.default_rng(7)
    y = np.r_[np.zeros(150, int), np.ones(150, int)]
    common = rng.normal(size=300)
    a = common + 1.6 * y + 0.5 * rng.normal(size=300)
    b = common + 0.4 * y + 0.5 * rng.normal(size=300)
    dl = M.delong(y, a, b)
    bs = M.compare_bootstrap(y, a, b, n=2000, rng=rng)
    assert dl.auc_a == pytest.approx(roc_auc_score(y, a)) and dl.auc_b == pytest.approx(roc_auc_score(y, b))
    assert dl.diff > 0.15 and dl.p < 1e-4 and bs.p < 1e-3
    assert dl.se == pytest.approx(bs.se, rel=0.25)
    assert dl.diff_lo > 0 and bs.diff_lo > 0
    same = M.delong(y, a, a)
    assert same.diff == 0 and same.p == 1.0


def test_delong_matches_the_textbook_variance_on_a_small_set():
    # O(n^2) DeLong by definition, against the midrank version
    rng = np.random.default_rng(2)
    y = np.r_[np.zeros(9, int), np.ones(7, int)]
    a, b = rng.normal(size=16) + y, np.round(rng.normal(size=16) + 0.3 * y, 1)

    def components(s):
        x, z = s[y == 1], s[y == 0]
        psi = (x[:, None] > z[None]) + 0.5 * (x[:, None] == z[None])
        return psi.mean(1), psi.mean(0)

    (va, wa), (vb, wb) = components(a), components(b)
    var = (np.var(va - vb, ddof=1) / 7) + (np.var(wa - wb, ddof=1) / 9)
    assert M.delong(y, a, b).se == pytest.approx(math.sqrt(var), rel=1e-9)


def _predictions(seed: int = 0, shift: float = 1.0, n_videos: int = 40, frames: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for v in range(n_videos):
        label = v % 2
        for f in range(frames):
            rows.append(("cnn", "set", "test", f"v{v}", f, label, float(1 / (1 + np.exp(-(rng.normal() + shift * (label - .5))))),
                         "none", 0))
        rows.append(("cnn", "set", "test", f"v{v}", -1, label, 0.5, "none", 0))
        rows.append(("blink", "set", "test", f"v{v}", -1, label, float(rng.random()), "none", 0))
    return pd.DataFrame(rows, columns=["detector", "dataset", "split", "video_id", "frame", "label", "score",
                                       "perturbation", "level"])


def test_evaluate_aggregates_explicitly_and_compares_detectors():
    pred = _predictions()
    pred.loc[(pred["video_id"] == "v0") & (pred["frame"] >= 0), "score"] = np.nan  # no face anywhere in v0
    rows, comparisons = M.evaluate(pred, aggregation="max", n_boot=100)
    by = {(r["detector"], r["unit"]): r for r in rows}
    assert set(by) == {("blink", "video"), ("cnn", "video"), ("cnn", "frame")}
    assert by[("cnn", "video")]["aggregation"] == "max" and by[("blink", "video")]["aggregation"] == "detector"
    assert by[("cnn", "frame")]["no_face"] == 4 and by[("cnn", "frame")]["n_frames"] == 156
    videos = M.video_scores(pred, "max")
    cnn = videos[videos["detector"] == "cnn"].set_index("video_id")
    frames = pred[(pred["detector"] == "cnn") & (pred["frame"] >= 0)]
    assert cnn.loc["v1", "score"] == pytest.approx(frames[frames["video_id"] == "v1"]["score"].max())
    assert cnn.loc["v0", "score"] == 0.5
    assert by[("cnn", "video")]["auc"] == pytest.approx(roc_auc_score(cnn["label"], cnn["score"]))
    assert by[("cnn", "video")]["auc_lo"] <= by[("cnn", "video")]["auc"] <= by[("cnn", "video")]["auc_hi"]
    assert len(comparisons) == 1 and {comparisons[0]["a"], comparisons[0]["b"]} == {"blink", "cnn"}
    again, _ = M.evaluate(pred, aggregation="max", n_boot=100)
    assert again == rows or all(
        (x == y) or (isinstance(x, float) and math.isnan(x) and math.isnan(y))
        for r1, r2 in zip(rows, again) for x, y in zip(r1.values(), r2.values()))
