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


# -- the replicate metrics against the plain code of 3f0b700, kept verbatim below ---------------------------------
# The sweep/crossing/kernel code must give every replicate the value the plain cumulative-sum code gave, to
# 1e-12, on the same counts. The reference is the code as it was before that rewrite, copied unchanged.

from collections.abc import Sequence  # noqa: E402  (the reference's annotations)

FPR_TARGETS = {"tpr_fpr1": 0.01, "tpr_fpr5": 0.05}
_BLOCK = 4_000_000  # elements of a (replicates x scores) block: ~32 MB of float64


def _sorted_desc(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Order of ``scores`` from highest to lowest, and the last position of each run of equal scores."""
    order = np.argsort(-scores, kind="stable")
    s = scores[order]
    ends = np.flatnonzero(np.r_[s[1:] != s[:-1], True])
    return order, ends


def _weighted_metrics(pos_w: np.ndarray, neg_w: np.ndarray, ends: np.ndarray, above_half: int,
                      names: Sequence[str]) -> dict[str, np.ndarray]:
    """Metrics of B weighted sets at once.

    ``pos_w``/``neg_w`` float (B, N): weight of each score as a fake / real sample, scores sorted from
    highest to lowest; ``ends`` (G,): last position of each run of equal scores; ``above_half``: how
    many runs have a score > 0.5. Returns name -> (B,) arrays.
    """
    tp = np.cumsum(pos_w, axis=1)[:, ends].astype(np.float64)
    fp = np.cumsum(neg_w, axis=1)[:, ends].astype(np.float64)
    n_pos, n_neg = tp[:, -1:], fp[:, -1:]
    out: dict[str, np.ndarray] = {}
    zeros = np.zeros((len(tp), 1))
    tpr = np.hstack([zeros, tp / n_pos])
    fpr = np.hstack([zeros, fp / n_neg])
    if "auc" in names:
        out["auc"] = (np.diff(fpr, axis=1) * (tpr[:, 1:] + tpr[:, :-1])).sum(axis=1) / 2
    if "ap" in names:
        precision = tp / np.maximum(tp + fp, 1e-300)
        out["ap"] = (np.diff(tpr, axis=1) * precision).sum(axis=1)
    if "eer" in names:
        d = fpr - (1 - tpr)  # rises from -1 to +1 along the curve
        k = np.argmax(d >= 0, axis=1)
        rows = np.arange(len(d))
        k0 = np.maximum(k - 1, 0)
        d0, d1 = d[rows, k0], d[rows, k]
        t = np.where(d1 > d0, -d0 / np.where(d1 > d0, d1 - d0, 1), 0.0)
        f0, f1 = fpr[rows, k0], fpr[rows, k]
        n0, n1 = 1 - tpr[rows, k0], 1 - tpr[rows, k]
        out["eer"] = ((f0 + t * (f1 - f0)) + (n0 + t * (n1 - n0))) / 2  # equal at the crossing; mean guards rounding
    for name, target in FPR_TARGETS.items():
        if name in names:
            last = (fpr <= target + 1e-12).sum(axis=1) - 1
            out[name] = tpr[np.arange(len(tpr)), last]
    if "acc" in names:
        tp_half = tp[:, above_half - 1] if above_half else np.zeros(len(tp))
        fp_half = fp[:, above_half - 1] if above_half else np.zeros(len(tp))
        out["acc"] = (tp_half + (n_neg[:, 0] - fp_half)) / (n_pos[:, 0] + n_neg[:, 0])
    return out


def _replicate_metrics(scores: np.ndarray, labels: np.ndarray, video: np.ndarray, counts: np.ndarray,
                       names: Sequence[str]) -> dict[str, np.ndarray]:
    """Each metric for every row of ``counts`` (replicates x videos)."""
    names = list(names)
    out: dict[str, np.ndarray] = {}
    n_boot = len(counts)
    if "auc" in names and _kernel_is_cheaper(video, labels, n_boot):
        out["auc"] = _auc_by_kernel(scores, labels, video, counts)
        names.remove("auc")
    if not names:
        return out
    order, ends = _sorted_desc(scores)
    vid, pos = video[order], labels[order].astype(bool)
    above = int((scores[order][ends] > 0.5).sum())
    block = max(1, _BLOCK // max(len(scores), 1))
    parts: dict[str, list[np.ndarray]] = {n: [] for n in names}
    # integer counts: float32 sums stay exact below 2^24 and move half the bytes
    most = len(counts[0]) * np.bincount(video).max()  # a replicate's total weight is at most this
    dtype = np.float32 if most < 2**24 else np.float64
    pos = pos.astype(dtype)
    for start in range(0, n_boot, block):
        w = counts[start:start + block].astype(dtype)[:, vid]
        pos_w = w * pos
        values = _weighted_metrics(pos_w, w - pos_w, ends, above, names)
        for name in names:
            parts[name].append(values[name])
    out.update({n: np.concatenate(parts[n]) for n in names})
    return out


def _kernel_is_cheaper(video: np.ndarray, labels: np.ndarray, n_boot: int) -> bool:
    """The pair-count route pays when videos hold many scores each (frame-level sets)."""
    n_pos_v = len(np.unique(video[labels == 1]))
    n_neg_v = len(np.unique(video[labels == 0]))
    pairs = n_pos_v * n_neg_v
    if pairs > 25_000_000:
        return False
    cumsum_cost = 6.0 * n_boot * len(video)
    kernel_cost = 3.0 * len(video) * n_neg_v + n_boot * pairs * 0.05  # a BLAS multiply-add is ~20x a numpy pass
    return kernel_cost < cumsum_cost


def _auc_by_kernel(scores: np.ndarray, labels: np.ndarray, video: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """AUC of every replicate through K[i, j] = Mann-Whitney count between fake video i and real video j."""
    from scipy import sparse

    pos_v, pos_video = np.unique(video[labels == 1], return_inverse=True)
    neg_v, neg_video = np.unique(video[labels == 0], return_inverse=True)
    pos_s, neg_s = scores[labels == 1], scores[labels == 0]
    # the real scores in increasing order; for each fake score, how many reals lie below / tie
    order = np.argsort(neg_s, kind="stable")
    neg_sorted, neg_vid_sorted = neg_s[order], neg_video.ravel()[order]
    below = np.searchsorted(neg_sorted, pos_s, side="left")
    upto = np.searchsorted(neg_sorted, pos_s, side="right")
    # K = sum over fake scores f of onehot(video f) x (histogram of real videos among the first `below` reals
    # + half those tied); built as A @ H with H the running histogram, over blocks of real videos
    n_neg = len(neg_sorted)
    dtype = np.float32 if n_neg < 2**24 else np.float64  # running counts stay exact in float32 below 2^24
    a_below = sparse.csr_matrix((np.full(len(pos_s), 0.5, dtype), (pos_video.ravel(), below)), shape=(len(pos_v), n_neg + 1))
    a_upto = sparse.csr_matrix((np.full(len(pos_s), 0.5, dtype), (pos_video.ravel(), upto)), shape=(len(pos_v), n_neg + 1))
    a = (a_below + a_upto).tocsr()
    kernel = np.empty((len(pos_v), len(neg_v)))
    step = max(1, 2_000_000 // (n_neg + 1))
    hist = np.empty((min(step, len(neg_v)), n_neg + 1), dtype)  # real videos x positions: cumsum along rows
    rows_all = np.arange(1, n_neg + 1)
    for j0 in range(0, len(neg_v), step):
        j1 = min(j0 + step, len(neg_v))
        block = hist[:j1 - j0]
        block.fill(0)
        inside = (neg_vid_sorted >= j0) & (neg_vid_sorted < j1)
        block[neg_vid_sorted[inside] - j0, rows_all[inside]] = 1
        np.cumsum(block, axis=1, out=block)
        kernel[:, j0:j1] = a @ block.T
    c_pos, c_neg = counts[:, pos_v], counts[:, neg_v]
    frames_pos = np.bincount(pos_video.ravel(), minlength=len(pos_v)).astype(np.float64)
    frames_neg = np.bincount(neg_video.ravel(), minlength=len(neg_v)).astype(np.float64)
    numerator = np.einsum("bj,bj->b", c_pos @ kernel, c_neg)
    return numerator / ((c_pos @ frames_pos) * (c_neg @ frames_neg))


def _reference(scores, labels, video, counts, names, route=None):
    """3f0b700's replicate metrics; ``route`` "curve" / "kernel" forces its AUC route."""
    global _kernel_is_cheaper
    chosen = _kernel_is_cheaper

    def forced(*args):
        return route == "kernel" if route is not None else chosen(*args)

    _kernel_is_cheaper = forced
    try:
        return _replicate_metrics(scores, labels, video, counts, names)
    finally:
        _kernel_is_cheaper = chosen


def _draw_counts(v_label: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, V) stratified draw counts, reals and fakes drawn separately with replacement (built here, not by
    M.resample_counts, so the comparison holds whatever the draws)."""
    counts = np.zeros((n, len(v_label)))
    for cls in (0, 1):
        members = np.flatnonzero(v_label == cls)
        draws = rng.integers(0, len(members), (n, len(members)))
        counts[:, members] = np.apply_along_axis(np.bincount, 1, draws, minlength=len(members))
    return counts


def _replicate_case(kind: str, seed: int):
    """(scores, labels, video, video labels) of one kind of set."""
    rng = np.random.default_rng(seed)
    per = {"ties": 20, "many_frames": 400, "one_frame": 1, "half": 6, "tiny": 1, "two_per_class": 3,
           "chunks": 150, "all_tied": 5, "uneven": None}[kind]
    n_videos = {"one_frame": 500, "tiny": 2, "two_per_class": 4, "many_frames": 12, "chunks": 80}.get(kind, 40)
    v_label = np.arange(n_videos) % 2
    if kind == "uneven":  # 1 to 300 frames, and a third of the videos fake
        frames = rng.integers(1, 301, n_videos)
        v_label = (rng.random(n_videos) < 1 / 3).astype(int)
        v_label[:2] = [0, 1]
    else:
        frames = np.full(n_videos, per)
    video = np.repeat(np.arange(n_videos), frames)
    labels = v_label[video]
    scores = rng.normal(size=len(video)) + 0.8 * labels + np.repeat(rng.normal(size=n_videos), frames)
    if kind in ("ties", "chunks"):
        scores = np.round(scores, 1)  # ties within and across videos
    if kind == "half":
        scores = np.round(1 / (1 + np.exp(-scores)), 1)  # many scores exactly 0.5
    if kind == "all_tied":
        scores = np.full(len(video), 0.5)
    return scores, labels, video, v_label


REPLICATE_KINDS = ("ties", "many_frames", "one_frame", "half", "tiny", "two_per_class", "chunks", "all_tied",
                   "uneven")


@pytest.mark.parametrize("kind", REPLICATE_KINDS)
@pytest.mark.parametrize("seed", range(2))
def test_replicate_metrics_equal_the_plain_code_on_the_same_draws(kind, seed, monkeypatch):
    scores, labels, video, v_label = _replicate_case(kind, seed)
    counts = _draw_counts(v_label, 60, np.random.default_rng(100 + seed))
    expected = _reference(scores, labels, video, counts, M.METRICS)
    expected_curve = _reference(scores, labels, video, counts, M.METRICS, route="curve")
    got = M._replicate_metrics(scores, labels, video, counts, M.METRICS)
    assert set(got) == set(M.METRICS)
    for name in M.METRICS:
        assert got[name].shape == (60,) and got[name].dtype == np.float64
        np.testing.assert_allclose(got[name], expected[name], rtol=0, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(got[name], expected_curve[name], rtol=0, atol=1e-12, err_msg=name)
    # each AUC route, and a metric asked alone (its route and its sums can differ)
    for kernel in (False, True):
        monkeypatch.setattr(M, "_kernel_is_cheaper", lambda *a, kernel=kernel, **k: kernel)
        got = M._replicate_metrics(scores, labels, video, counts, ("auc", "ap"))
        np.testing.assert_allclose(got["auc"], expected["auc"], rtol=0, atol=1e-12)
        np.testing.assert_allclose(got["ap"], expected["ap"], rtol=0, atol=1e-12)
    monkeypatch.undo()
    for name in M.METRICS:
        alone = M._replicate_metrics(scores, labels, video, counts, (name,))
        np.testing.assert_allclose(alone[name], expected[name], rtol=0, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("kind", ("ties", "chunks", "uneven", "one_frame"))
def test_replicate_metrics_equal_the_plain_code_across_small_chunks_and_checkpoints(kind, monkeypatch):
    # runs of equal scores that straddle the sweep's chunks, and crossings found over many checkpoint levels
    monkeypatch.setattr(M, "_SWEEP_CHUNK", 5)
    monkeypatch.setattr(M, "_CROSSING_STEPS", 4)
    monkeypatch.setattr(M, "_kernel_is_cheaper", lambda *a, **k: False)
    scores, labels, video, v_label = _replicate_case(kind, 7)
    counts = _draw_counts(v_label, 25, np.random.default_rng(8))
    expected = _reference(scores, labels, video, counts, M.METRICS, route="curve")
    got = M._replicate_metrics(scores, labels, video, counts, M.METRICS)
    for name in M.METRICS:
        np.testing.assert_allclose(got[name], expected[name], rtol=0, atol=1e-12, err_msg=name)


def test_bootstrap_intervals_equal_the_plain_code():
    # the user-facing numbers: percentile intervals over the replicates, same draws in
    scores, labels, video, v_label = _replicate_case("uneven", 3)
    counts = _draw_counts(v_label, 200, np.random.default_rng(4))
    vid, _ = M._video_table(labels, video)
    new = M.bootstrap(labels, scores, video, counts=counts)
    old = M.Bootstrap(new.point, _reference(scores, labels, vid, counts, M.METRICS))
    for name in M.METRICS:
        assert new.interval(name) == pytest.approx(old.interval(name), abs=1e-12), name
