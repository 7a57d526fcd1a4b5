"""Detection metrics with confidence intervals, from labels and scores (or from the predictions table).

Inputs: ``labels`` int (N,) 0 real / 1 fake, ``scores`` float (N,) P(fake) (higher = more fake),
and for confidence intervals ``groups`` (N,): the video each score belongs to. A frame-level set
is resampled by whole videos, never by frames (frames of one video are not independent).

Metrics (names as in every table):

- ``auc``: area under the ROC curve; ties count one half (Mann-Whitney), as sklearn's ``roc_auc_score``.
- ``ap``: average precision, sum over thresholds of (R_k - R_k-1) P_k (sklearn's definition, no interpolation).
- ``eer``: equal error rate, where FPR = FNR on the ROC curve (linear between its points).
- ``acc``: accuracy when a score > 0.5 means fake (0.5 itself, "undecided", counts as real).
- ``tpr_fpr1``, ``tpr_fpr5``: TPR at the best threshold whose FPR is <= 1 % / 5 % (an achievable
  operating point, no interpolation).

A set with one class only gives NaN for every metric but ``acc``, with a ``OneClassWarning``.

Confidence intervals (``bootstrap``): a stratified bootstrap over independent units. With
``clusters`` (the source group of each score: the original video a clip or a fake comes from, else
the person), whole source groups are drawn with replacement and every video of a drawn group, and
every frame of those videos, comes along: clips that share a source move together, so treating them
as independent makes the interval too narrow (tests/benchmarks/test_statistics.py: 95 % of 500
simulated benchmarks covered with groups, 88 % with clips). The groups are stratified by what they
hold (real only, fake only, both), each stratum drawn separately, so every replicate has both
classes. Without ``clusters`` each video is its own group (reals and fakes drawn separately). The
2.5 and 97.5 percentiles of the replicates give the 95 % interval. Vectorised: a replicate is a
row of per-video counts (B, V); the scores are sorted once and a video's frames within a run of
equal scores merged into one counted item; accuracy is ``counts @`` each video's frames above 0.5,
EER and TPR at FPR are found at the one run where the curve crosses (matrix products at checkpoints,
then a short window), AP is one pass of running sums for all replicates, and AUC on many frames per
video goes through the matrix K of Mann-Whitney counts between every (fake video, real video) pair,
so a replicate's AUC is ``c_fake @ K @ c_real``. Equal to the plain cumulative-sum computation to
1e-12 (tests/benchmarks/test_metrics.py keeps it as the reference).

``auc_lower_bound``: the lower end of the score interval of an AUC (Newcombe's method), which does
not collapse to 1 at perfect separation as every bootstrap replicate does.

``delong``: DeLong's test for two detectors scored on the same videos (Sun & Xu's O(n log n) form),
with Obuchowski's clustered variance when given source groups; ``compare_bootstrap``: the same
question answered by a paired (cluster) bootstrap.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from fakebench.errors import FakebenchError

log = logging.getLogger("fakebench.benchmarks")

METRICS = ("auc", "ap", "eer", "acc", "tpr_fpr1", "tpr_fpr5")
FPR_TARGETS = {"tpr_fpr1": 0.01, "tpr_fpr5": 0.05}
CALIBRATED = ("fpr1", "fpr5")  # a detector's thresholds at 1 % / 5 % FPR on its own held-out reals


class OneClassWarning(UserWarning):
    """Metrics asked of a set that holds only real or only fake samples."""


# -- checks -------------------------------------------------------------------------------------

def check_scores(labels, scores, groups=None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``labels`` int64 (N,) in {0, 1}, ``scores`` float64 (N,) finite, ``groups`` (N,) or None."""
    labels = np.asarray(labels)
    scores = np.asarray(scores, np.float64)
    if labels.ndim != 1 or scores.ndim != 1 or len(labels) != len(scores):
        raise FakebenchError(f"expected labels and scores as two 1-D arrays of one length, got shapes {labels.shape} "
                             f"and {scores.shape}")
    if len(labels) and not np.isin(labels, (0, 1)).all():
        raise FakebenchError(f"expected labels 0 (real) or 1 (fake), got {sorted(set(np.unique(labels).tolist()))[:5]}")
    if not np.isfinite(scores).all():
        raise FakebenchError(f"{int((~np.isfinite(scores)).sum())} scores are NaN or infinite: drop frames without a "
                             "face before computing metrics (metrics.evaluate does)")
    if groups is not None:
        groups = np.asarray(groups)
        if groups.shape != labels.shape:
            raise FakebenchError(f"expected one group (video id) per score, got {groups.shape} for {labels.shape} scores")
    return labels.astype(np.int64), scores, groups


def _one_class(labels: np.ndarray) -> bool:
    n_fake = int(labels.sum())
    if n_fake == 0 or n_fake == len(labels):
        kind = "no samples" if len(labels) == 0 else ("only fake" if n_fake else "only real")
        warnings.warn(f"{kind} samples ({len(labels)}): AUC, AP, EER and TPR@FPR are undefined (NaN); "
                      "score real and fake videos together", OneClassWarning, stacklevel=3)
        return True
    return False


# -- the metrics of weighted sets, vectorised over replicates -------------------------------------

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


def compute(labels, scores, names: Sequence[str] = METRICS) -> dict[str, float]:
    """The metrics of one set (see the module docstring); one-class sets give NaN but ``acc``."""
    labels, scores, _ = check_scores(labels, scores)
    unknown = sorted(set(names) - set(METRICS))
    if unknown:
        raise FakebenchError(f"unknown metric {unknown[0]!r}; known: {', '.join(METRICS)}")
    if len(labels) == 0:
        _one_class(labels)
        return dict.fromkeys(names, math.nan)
    if _one_class(labels):
        acc = float(((scores > 0.5).astype(np.int64) == labels).mean())
        return {n: (acc if n == "acc" else math.nan) for n in names}
    order, ends = _sorted_desc(scores)
    lab = labels[order].astype(np.float64)
    above = int((scores[order][ends] > 0.5).sum())
    values = _weighted_metrics(lab[None], 1 - lab[None], ends, above, names)
    return {n: float(values[n][0]) for n in names}


def roc_points(labels, scores) -> tuple[np.ndarray, np.ndarray]:
    """``(fpr, tpr)`` of the ROC curve, from (0, 0) to (1, 1), one point per distinct score."""
    labels, scores, _ = check_scores(labels, scores)
    if _one_class(labels):
        return np.array([0.0, 1.0]), np.array([math.nan, math.nan])
    order, ends = _sorted_desc(scores)
    lab = labels[order]
    tp, fp = np.cumsum(lab)[ends], np.cumsum(1 - lab)[ends]
    return np.r_[0.0, fp / fp[-1]], np.r_[0.0, tp / tp[-1]]


# -- bootstrap ----------------------------------------------------------------------------------

@dataclass
class Bootstrap:
    """Point estimates, the replicate values behind them, and percentile intervals."""

    point: dict[str, float]
    replicates: dict[str, np.ndarray] = field(default_factory=dict)  # name -> float64 (B,)
    ci: float = 0.95

    def interval(self, name: str) -> tuple[float, float]:
        values = self.replicates.get(name)
        if values is None or len(values) == 0 or not np.isfinite(values).any():
            return math.nan, math.nan
        alpha = (1 - self.ci) / 2
        low, high = np.nanquantile(values, [alpha, 1 - alpha])
        return float(low), float(high)

    def table(self) -> dict[str, float]:
        """``{auc: .., auc_lo: .., auc_hi: .., ...}``"""
        out = {}
        for name, value in self.point.items():
            low, high = self.interval(name)
            out.update({name: value, f"{name}_lo": low, f"{name}_hi": high})
        return out


def _video_table(labels: np.ndarray, groups: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Video number of each score (0..V-1) and each video's label; a video must hold one label."""
    if groups is None:
        return np.arange(len(labels)), labels.copy()
    _, video = np.unique(groups, return_inverse=True)
    video = video.ravel()
    v_label = np.zeros(video.max() + 1 if len(video) else 0, np.int64)
    v_label[video] = labels
    if (v_label[video] != labels).any():
        bad = groups[np.flatnonzero(v_label[video] != labels)[0]]
        raise FakebenchError(f"video {bad!r} has both real and fake scores; a video has one label (check the "
                             "video ids: they must be unique across data sets)")
    return video, v_label


def resample_counts(video_labels: np.ndarray, n: int, rng: np.random.Generator,
                    clusters: np.ndarray | None = None) -> np.ndarray:
    """``float64 (n, V)``: how often each video is drawn in each replicate.

    ``clusters`` None: every video is its own unit, reals and fakes drawn separately. ``clusters``
    int (V,) (the source group of each video, numbered 0..C-1): whole groups are drawn and every
    video of a drawn group comes along; the groups are stratified by what they hold (real only,
    fake only, both), each stratum drawn separately with replacement as many times as it has
    groups, so every replicate holds both classes and as many real-only, fake-only and mixed groups
    as the set.
    """
    if clusters is None:
        n_videos = len(video_labels)
        counts = np.zeros((n, n_videos))
        for cls in (0, 1):
            members = np.flatnonzero(video_labels == cls)
            counts[:, members] = _draw(len(members), n, rng)
        return counts
    clusters = np.asarray(clusters, np.int64)
    n_groups = int(clusters.max()) + 1 if len(clusters) else 0
    has = np.zeros((n_groups, 2), bool)
    has[clusters, video_labels] = True
    stratum = has[:, 1].astype(np.int64) * 2 + has[:, 0]  # 1 real only, 2 fake only, 3 both
    group_counts = np.zeros((n, n_groups))
    for kind in (1, 2, 3):
        members = np.flatnonzero(stratum == kind)
        group_counts[:, members] = _draw(len(members), n, rng)
    return group_counts[:, clusters]


def _draw(k: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """``(n, k)``: how often each of k members is drawn in n replicates of k draws with replacement."""
    if k == 0:
        return np.zeros((n, 0))
    draws = rng.integers(0, k, size=(n, k))
    return np.bincount((draws + np.arange(n)[:, None] * k).ravel(), minlength=n * k).reshape(n, k).astype(np.float64)


def _cluster_table(video: np.ndarray, clusters, n_videos: int) -> np.ndarray | None:
    """Source group number (0..C-1) of each video, from one group label per score; a video lies in one group."""
    if clusters is None:
        return None
    clusters = np.asarray(clusters)
    if clusters.shape != video.shape:
        raise FakebenchError(f"expected one source group per score, got {clusters.shape} for {video.shape} scores")
    _, number = np.unique(clusters, return_inverse=True)
    number = number.ravel()
    of_video = np.zeros(n_videos, np.int64)
    of_video[video] = number
    if (of_video[video] != number).any():
        bad = np.flatnonzero(of_video[video] != number)[0]
        raise FakebenchError(f"the scores of one video lie in two source groups (e.g. {clusters[bad]!r}); a video "
                             "belongs to one group")
    return of_video


def _replicate_metrics(scores: np.ndarray, labels: np.ndarray, video: np.ndarray, counts: np.ndarray,
                       names: Sequence[str]) -> dict[str, np.ndarray]:
    """Each metric for every row of ``counts`` (replicates x videos).

    ``scores`` float64 (N,), ``labels`` int (N,), ``video`` int (N,): the video number 0..V-1 of each score,
    ``counts`` float64 (B, V): whole draw counts. Returns name -> float64 (B,), the metrics of each replicate's
    weighted set as ``_weighted_metrics`` gives them (to ~1e-15: the counts being integers, every running sum is
    exact, and eer, acc and tpr@fpr come out bit for bit).

    Every frame of a video carries its video's count, so only ap (and auc on video-level sets) is computed per
    (replicate, score): acc is ``counts @`` each video's frames on the right side of 0.5; eer and tpr@fpr are
    the one run where a monotone test flips along the curve (``_first_crossing``: matrix products at
    checkpoints, then a few scores one by one); auc comes from the pair-count kernel when that is cheaper
    (``_kernel_is_cheaper``); ap sweeps down the sorted scores with running sums for all replicates at once
    (``_sweep``). BLAS runs on one thread here: on a shared 2-core machine OpenBLAS's second thread, waiting for
    a busy core, made these small products 10-40x slower.
    """
    names = list(names)
    out: dict[str, np.ndarray] = {}
    with _one_blas_thread():
        items = _Items(scores, labels, video, counts.shape[1])
        if "auc" in names and _kernel_is_cheaper(video, labels, len(counts), sweeping="ap" in names):
            out["auc"] = _auc_by_kernel(scores, labels, video, counts, items)
            names.remove("auc")
        n_pos = counts @ (items.frames * items.v_fake)
        n_neg = counts @ (items.frames * ~items.v_fake)
        if "acc" in names:
            right = np.where(items.v_fake, items.above, items.frames - items.above)  # fakes > 0.5, reals <= 0.5
            out["acc"] = (counts @ right) / (n_pos + n_neg)
        if not set(names) - {"acc"}:
            return out
        # integer counts: float32 sums stay exact below 2^24 and move half the bytes
        most = counts.shape[1] * items.frames.max()  # a replicate's total weight is at most this
        counts_t = np.ascontiguousarray(counts.T, dtype=np.float32 if most < 2**24 else np.float64)  # (V, B)
        if "eer" in names or set(names) & set(FPR_TARGETS):
            prefix = _Prefix(items, counts, counts_t)
        npos, nneg = n_pos[:, None], n_neg[:, None]
        if "eer" in names:
            # the first run where FPR >= FNR; EER on the segment from the run's start to its end, as in
            # _weighted_metrics (the same float64 expressions on the same exact counts)
            (tp0, fp0), (tp1, fp1) = _first_crossing(prefix, lambda tp, fp: fp / nneg - (1 - tp / npos) >= 0)
            tpr0, tpr1, fpr0, fpr1 = tp0 / n_pos, tp1 / n_pos, fp0 / n_neg, fp1 / n_neg
            d0, d1 = fpr0 - (1 - tpr0), fpr1 - (1 - tpr1)
            t = np.where(d1 > d0, -d0 / np.where(d1 > d0, d1 - d0, 1), 0.0)
            n0, n1 = 1 - tpr0, 1 - tpr1
            out["eer"] = ((fpr0 + t * (fpr1 - fpr0)) + (n0 + t * (n1 - n0))) / 2
        for name, target in FPR_TARGETS.items():
            if name in names:
                # the first run whose end passes the FPR target: TPR where it starts
                (tp0, _), _ = _first_crossing(prefix, lambda tp, fp, limit=target + 1e-12: ~(fp / nneg <= limit))
                out[name] = tp0 / n_pos
        sweep = [n for n in names if n in ("ap", "auc")]
        if sweep:
            out.update(_sweep(items, counts_t, sweep, n_pos, n_neg))
    return out


def _kernel_is_cheaper(video: np.ndarray, labels: np.ndarray, n_boot: int, sweeping: bool = False) -> bool:
    """The pair-count route pays when videos hold many scores each (frame-level sets).

    Measured on 2 cores: the kernel costs ~0.05 ns per (replicate, fake video, real video) for its product
    plus ~1 us per score to build; the sweep ~5.5 ns per (replicate, score), a third less when it runs anyway
    (``sweeping``: AP asked for too).
    """
    n_pos_v = len(np.unique(video[labels == 1]))
    n_neg_v = len(np.unique(video[labels == 0]))
    pairs = n_pos_v * n_neg_v
    if pairs > 25_000_000:
        return False
    kernel_cost = 0.05 * n_boot * pairs + 1000.0 * len(video)
    sweep_cost = 5.5 * n_boot * len(video) * (0.65 if sweeping else 1.0)
    return kernel_cost < sweep_cost


def _auc_by_kernel(scores: np.ndarray, labels: np.ndarray, video: np.ndarray, counts: np.ndarray,
                   items: _Items | None = None) -> np.ndarray:
    """AUC of every replicate through K[i, j] = Mann-Whitney count between fake video i and real video j.

    A replicate's AUC is ``c_fake @ K @ c_real / (n_fake n_real)``. K = (frames of i) x (frames of j) - S with
    S[i, j] = the sum over the fake frames f of video i of A_j(f): the frames of real video j scored above f,
    plus half those tied with it. Down the runs of equal scores that hold fakes, A_j grows by entries (one per
    real item; a real item tied with fakes counts half at their run and half after it). In blocks of runs: the
    entries of earlier blocks reach every fake of a block at once (one matrix product), the entries inside a
    block pair with its fakes one by one. Every count is an integer or a half: exact in float64, and in float32
    while the sums stay below 2^23.
    """
    it = items if items is not None else _Items(scores, labels, video, counts.shape[1])
    run_fake = np.zeros(it.n_runs, bool)
    run_fake[it.run[it.fake]] = True
    n_fake_runs = np.cumsum(run_fake)  # runs holding fakes, up to and including each run
    g_f = int(n_fake_runs[-1])
    pos_v, neg_v = np.flatnonzero(it.v_fake), np.flatnonzero(~it.v_fake)
    number = np.zeros(it.n_videos, np.int64)  # of each video among the fakes / among the reals
    number[pos_v], number[neg_v] = np.arange(len(pos_v)), np.arange(len(neg_v))
    n_p, n_n = len(pos_v), len(neg_v)
    frames_pos = it.frames[pos_v].astype(np.float64)
    frames_neg = it.frames[neg_v].astype(np.float64)
    f_items = np.flatnonzero(it.fake)
    k_f = n_fake_runs[it.run[f_items]] - 1  # fake-holding run of each fake item
    i_f = number[it.vid[f_items]]
    m_f = it.mult[f_items].astype(np.float64)
    r_items = np.flatnonzero(~it.fake)
    tied = run_fake[it.run[r_items]]
    k_r = n_fake_runs[it.run[r_items]] - tied  # tied: its own run, else the next fake-holding run
    m_r = it.mult[r_items].astype(np.float64)
    j_r = number[it.vid[r_items]]
    e_row, e_j = np.r_[k_r, k_r[tied] + 1], np.r_[j_r, j_r[tied]]
    e_w = np.r_[np.where(tied, m_r / 2, m_r), m_r[tied] / 2]
    keep = e_row < g_f  # entries below every fake reach none
    order = np.argsort(e_row[keep], kind="stable")
    e_row, e_j, e_w = e_row[keep][order], e_j[keep][order], e_w[keep][order]
    # block size: pairs inside blocks (~10 ns each in numpy) against the product's multiply-adds (~0.02 ns)
    per_run = max(len(e_row) / g_f, 1e-3)
    block = int(np.clip(np.sqrt(n_p * n_n * g_f * 0.004 / (len(f_items) * per_run)), 4, 4096))
    n_blocks = -(-g_f // block)
    exact32 = 2.0 * frames_pos.max() * frames_neg.max() * max(n_p, n_n) < 2**24
    dtype = np.float32 if exact32 else np.float64
    hp = np.bincount(i_f * n_blocks + k_f // block, weights=m_f, minlength=n_p * n_blocks).reshape(n_p, n_blocks)
    before = np.zeros((n_blocks, n_n), dtype)  # entries of the blocks before each block, per real video
    if n_blocks > 1:
        before[1:] = np.bincount((e_row // block) * n_n + e_j, weights=e_w,
                                 minlength=n_blocks * n_n)[:(n_blocks - 1) * n_n].reshape(n_blocks - 1, n_n)
        np.cumsum(before, axis=0, out=before)
    s = hp.astype(dtype) @ before
    first = np.searchsorted(e_row, (k_f // block) * block, side="left")  # the block's first entry
    upto = np.searchsorted(e_row, k_f, side="right")
    n_pairs = upto - first
    total = int(n_pairs.sum())
    if total:
        owner = np.repeat(np.arange(len(f_items)), n_pairs)
        e = np.arange(total) - np.repeat(np.cumsum(n_pairs) - n_pairs - first, n_pairs)
        keys = i_f[owner] * n_n + e_j[e]
        if it.merged or tied.any():
            local = np.bincount(keys, weights=m_f[owner] * e_w[e], minlength=n_p * n_n)
        else:  # every weight is 1
            local = np.bincount(keys, minlength=n_p * n_n)
        s += local.reshape(n_p, n_n)
    kernel = np.subtract(np.multiply.outer(frames_pos, frames_neg).astype(dtype), s, out=s)
    c_pos, c_neg = counts[:, pos_v], counts[:, neg_v]
    numerator = np.einsum("bj,bj->b", (c_pos.astype(dtype) @ kernel).astype(np.float64), c_neg)
    return numerator / ((c_pos @ frames_pos) * (c_neg @ frames_neg))


_BLAS_CONTROL = None  # threadpoolctl's controller, made on first use


def _one_blas_thread():
    """A context in which BLAS runs on one thread (see ``_replicate_metrics``)."""
    global _BLAS_CONTROL
    if _BLAS_CONTROL is None:
        from threadpoolctl import ThreadpoolController  # a dependency of scikit-learn

        _BLAS_CONTROL = ThreadpoolController()
    return _BLAS_CONTROL.limit(limits=1, user_api="blas")


class _Items:
    """The scores from highest to lowest, the frames of one video within one run of equal scores as one item.

    Per item (I,): ``vid``, ``mult`` (its frames), ``run`` (its run of equal scores, 0..G-1), ``fake``;
    ``bounds`` int (G + 1,): the item where each run starts, then I. Per video (V,): ``frames``, ``above``
    (frames scored > 0.5), ``v_fake``.
    """

    def __init__(self, scores: np.ndarray, labels: np.ndarray, video: np.ndarray, n_videos: int):
        order, ends = _sorted_desc(scores)
        if len(ends) == len(scores):  # no ties: every frame its own item
            self.run, self.vid, self.mult = np.arange(len(scores)), video[order], np.ones(len(scores), np.int64)
        else:
            run = np.zeros(len(scores), np.int64)
            run[ends[:-1] + 1] = 1
            np.cumsum(run, out=run)
            key, self.mult = np.unique(run * n_videos + video[order], return_counts=True)  # by run, then video
            self.run, self.vid = key // n_videos, key % n_videos
        self.merged = bool((self.mult > 1).any())
        self.v_fake = np.zeros(n_videos, bool)
        self.v_fake[video] = labels == 1
        self.fake = self.v_fake[self.vid]
        self.n_items, self.n_runs, self.n_videos = len(self.run), len(ends), n_videos
        self.last = np.flatnonzero(np.r_[self.run[1:] != self.run[:-1], True])  # last item of each run
        self.bounds = np.r_[0, self.last + 1]
        self.frames = np.bincount(video, minlength=n_videos)
        self.above = np.bincount(video[scores > 0.5], minlength=n_videos)


def _checkpoints(bounds: np.ndarray, step: int, lo: int = 0, hi: int | None = None) -> np.ndarray:
    """Run boundaries from ``lo`` to ``hi`` (both boundaries), consecutive ones at most ``step`` items apart or
    with a single run between them."""
    hi = int(bounds[-1]) if hi is None else hi
    grid = np.arange(lo, hi + step, step)
    below = bounds[np.searchsorted(bounds, grid, side="right") - 1]
    above = bounds[np.minimum(np.searchsorted(bounds, grid, side="left"), len(bounds) - 1)]
    cp = np.unique(np.r_[below, above, lo, hi])
    return cp[(cp >= lo) & (cp <= hi)]


class _Prefix:
    """The weight of the fakes (tp) and of the reals (fp) among the first p items, per replicate, at chosen p."""

    def __init__(self, items: _Items, counts: np.ndarray, counts_t: np.ndarray):
        self.items = items
        self.fake_t, self.real_t = counts_t[items.v_fake], counts_t[~items.v_fake]  # (videos, B)
        self.flat = counts.ravel()
        self.coarse: dict = {}

    def at(self, cp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(tp, fp)`` float64 (B, len(cp)) at the item prefixes ``cp`` (increasing): one matrix product each."""
        it = self.items
        key = (int(cp[0]), int(cp[-1]), len(cp))
        if key in self.coarse:
            return self.coarse[key]
        seg = np.searchsorted(cp, np.arange(cp[0], cp[-1]), side="right") - 1
        inside = slice(cp[0], cp[-1])
        hist = np.zeros((len(cp), it.n_videos))
        hist[0] = np.bincount(it.vid[:cp[0]], weights=it.mult[:cp[0]], minlength=it.n_videos)
        hist[1:] = np.bincount(seg * it.n_videos + it.vid[inside], weights=it.mult[inside],
                               minlength=(len(cp) - 1) * it.n_videos).reshape(len(cp) - 1, it.n_videos)
        np.cumsum(hist, axis=0, out=hist)  # frames of each video before each prefix
        hist = hist.astype(self.fake_t.dtype)  # counts: exact products and sums (see _replicate_metrics)
        out = ((hist[:, it.v_fake] @ self.fake_t).T.astype(np.float64),
               (hist[:, ~it.v_fake] @ self.real_t).T.astype(np.float64))
        if cp[0] == 0 and cp[-1] == it.n_items:
            self.coarse[key] = out  # over all items: the same for every metric
        return out


_CROSSING_STEPS = 64  # checkpoints over all items, then items between checkpoints near the crossings


def _first_crossing(prefix: _Prefix, test, steps: int | None = None):
    """For each replicate, the run of equal scores at whose end ``test(tp, fp)`` first holds along the curve
    (``test`` is monotone: false at no items, true at all): ``((tp, fp) at its start, (tp, fp) at its end)``,
    float64 (B,) each.

    Three steps: ``steps`` checkpoints over all items (one matrix product), checkpoints at most ``steps`` items
    apart over the range where replicates cross (another), then item by item in each replicate's last gap.
    """
    steps = steps or _CROSSING_STEPS
    it = prefix.items
    bounds = it.bounds
    cp = _checkpoints(bounds, max(steps, -(-it.n_items // steps)))
    for fine in (False, True):
        tp_c, fp_c = prefix.at(cp)
        j = np.argmax(test(tp_c, fp_c), axis=1)  # >= 1
        lo, hi = cp[j - 1], cp[j]
        if not fine:
            cp = _checkpoints(bounds, steps, int(lo.min()), int(hi.max()))
    n_boot = len(j)
    rows = np.arange(n_boot)
    # between lo and hi: at most `steps` items, or one run (whose end is hi)
    idx = np.minimum(lo[:, None] + np.arange(steps), it.n_items - 1)
    w = prefix.flat.take(rows[:, None] * it.n_videos + it.vid[idx])
    if it.merged:
        w *= it.mult[idx]
    tp_w, fp_w = np.empty((n_boot, steps + 1)), np.empty((n_boot, steps + 1))
    tp_w[:, 0], fp_w[:, 0] = tp_c[rows, j - 1], fp_c[rows, j - 1]
    np.multiply(w, it.fake[idx], out=tp_w[:, 1:])
    np.subtract(w, tp_w[:, 1:], out=fp_w[:, 1:])
    np.cumsum(tp_w, axis=1, out=tp_w)
    np.cumsum(fp_w, axis=1, out=fp_w)
    hit = test(tp_w, fp_w) | (np.arange(steps + 1) > (hi - lo)[:, None])
    q = np.argmax(hit, axis=1)
    p = np.where(hit[rows, q], lo + q, hi)  # the first prefix where the test holds
    run = it.run[p - 1]
    start, end = bounds[run], bounds[run + 1]

    def at(x):
        qx = np.minimum(x - lo, steps)
        return np.where(x == hi, tp_c[rows, j], tp_w[rows, qx]), np.where(x == hi, fp_c[rows, j], fp_w[rows, qx])

    return at(start), at(end)


class _Running:
    """Running sums of gathered rows ``counts_t[ids] * mult`` down a chunk of items, in a layout numpy adds fast.

    Rows are held lane-major: item i of the chunk at row ``(i % lane) * groups + i // lane``, so each of the
    ``lane`` steps adds one contiguous block of ``groups`` rows to the block before (numpy copies an input
    that overlaps the output through a strided view, and its cumsum along an axis goes one element at a
    time); then the group totals, one row at a time. Integer values: exact in float32 below 2^24.
    """

    def __init__(self, n_max: int, width: int, dtype):
        size = n_max + 2 * int(np.sqrt(n_max)) + 2
        self.raw, self.out, self.off = (np.empty((size, width), dtype) for _ in range(3))
        self.lane = self.groups = 1
        self.item_of_row = np.zeros(0, np.int64)

    def __call__(self, counts_t: np.ndarray, ids: np.ndarray, mult: np.ndarray | None, carry: np.ndarray):
        """Gather and sum; returns (the gathered rows, the running rows with the carry as row -1)."""
        n = len(ids)
        self.lane = lane = max(1, int(np.sqrt(n)))
        self.groups = groups = -(-n // lane)
        size = lane * groups
        x, y = self.raw[:size], self.out[:size + 1]
        y[-1] = carry
        if not n:
            return x, y
        order = np.arange(size).reshape(groups, lane).T.ravel()  # the item at each row
        real = order < n
        self.item_of_row = pos = np.where(real, order, n - 1)  # padding rows: weight 0 at the last item
        np.take(counts_t, ids[pos], axis=0, out=x, mode="clip")  # valid indices; mode "raise" buffers out
        if mult is not None:
            x *= np.where(real, mult[pos], 0)[:, None]
        elif not real.all():
            x[~real] = 0
        x3, y3 = x.reshape(lane, groups, -1), y[:-1].reshape(lane, groups, -1)
        y3[0] = x3[0]
        for k in range(1, lane):
            np.add(y3[k - 1], x3[k], out=y3[k])
        off = self.off[:groups]  # carry + the totals of the groups before
        off[0] = carry
        for g in range(1, groups):
            np.add(off[g - 1], y3[-1, g - 1], out=off[g])
        y3 += off
        return x, y

    def rows(self, k: np.ndarray) -> np.ndarray:
        """The row holding the running sum through item k of the chunk (k = -1: the carry)."""
        return np.where(k < 0, self.lane * self.groups, (k % self.lane) * self.groups + k // self.lane)


_SWEEP_CHUNK = 256  # items per step: ~(128 x B) float32 blocks, Python's overhead per numpy call ~10 %


def _sweep(items: _Items, counts_t: np.ndarray, names: Sequence[str], n_pos: np.ndarray,
           n_neg: np.ndarray) -> dict[str, np.ndarray]:
    """AP (and AUC) of every replicate in one pass down the items.

    ``counts_t`` (V, B), float32 where sums stay exact: a gathered item is one contiguous row. Chunk by chunk,
    running sums of the fakes' weights (tp) and of the reals' (fp) for all replicates; AP adds
    ``step tp x tp / (tp + fp)`` at the end of each run that holds fakes, AUC ``step fp x (tp at the run's end +
    tp at its start)`` at the end of each run that holds reals, both in float64.
    """
    n_boot, dtype = counts_t.shape[1], counts_t.dtype
    mult = items.mult.astype(dtype) if items.merged else None
    fake = items.fake
    n_fake_upto, n_real_upto = np.cumsum(fake), np.cumsum(~fake)  # fake / real items at or before each item
    n_fake_before = n_fake_upto - fake
    run_fake, run_real = np.zeros(items.n_runs, bool), np.zeros(items.n_runs, bool)
    run_fake[items.run[fake]] = True
    run_real[items.run[~fake]] = True
    ap_end = items.last[run_fake]  # last item of each run holding a fake
    auc_end = items.last[run_real]
    auc_start = items.bounds[:-1][run_real]  # first item of those runs
    ap_sum, auc_sum = np.zeros(n_boot), np.zeros(n_boot)
    tp_carry, fp_carry, tp_last_ap, fp_last_auc, tp_open = (np.zeros(n_boot, dtype) for _ in range(5))
    ap_fakes = 0  # fake items up to the last run end AP used
    step = _SWEEP_CHUNK
    run_f, run_r = _Running(step, n_boot, dtype), _Running(step, n_boot, dtype)
    size = len(run_f.raw)
    tp_buf, w_buf, d_buf = (np.empty((size, n_boot), dtype) for _ in range(3))
    a64, b64 = np.empty((size, n_boot)), np.empty((size, n_boot))
    for i0 in range(0, items.n_items, step):
        i1 = min(i0 + step, items.n_items)
        f_idx = i0 + np.flatnonzero(fake[i0:i1])
        r_idx = i0 + np.flatnonzero(~fake[i0:i1])
        base_f = (n_fake_upto[i0 - 1] if i0 else 0) + 1  # item k of the chunk's fakes is fake number base_f + k
        base_r = (n_real_upto[i0 - 1] if i0 else 0) + 1
        x_f, tp = run_f(counts_t, items.vid[f_idx], None if mult is None else mult[f_idx], tp_carry)
        _, fp = run_r(counts_t, items.vid[r_idx], None if mult is None else mult[r_idx], fp_carry)
        if "ap" in names:
            e = ap_end[np.searchsorted(ap_end, i0):np.searchsorted(ap_end, i1)]
            if len(e):
                k_e = n_fake_upto[e] - base_f  # the chunk's last fake up to each run end
                if ap_fakes == base_f - 1 and k_e[-1] == len(e) - 1 and len(e) == len(f_idx):
                    # one fake item per run: every running row is a term, its step the gathered row
                    m = len(x_f)
                    tp_e, d_tp = tp[:m], x_f
                    k_r = n_real_upto[items.last[items.run[f_idx[run_f.item_of_row]]]] - base_r
                else:
                    m = len(e)
                    tp_e, d_tp = tp_buf[:m], d_buf[:m]
                    np.take(tp, run_f.rows(k_e), axis=0, out=tp_e, mode="clip")
                    np.subtract(tp_e[0], tp_last_ap, out=d_tp[0])
                    np.subtract(tp_e[1:], tp_e[:-1], out=d_tp[1:])
                    k_r = n_real_upto[e] - base_r
                w_e, ratio = w_buf[:m], a64[:m]
                np.take(fp, run_r.rows(k_r), axis=0, out=w_e, mode="clip")
                w_e += tp_e
                if not tp_e[0].all():  # row 0 is the chunk's first item: the smallest tp
                    np.maximum(w_e, 1, out=w_e)  # nothing drawn yet: the term 0 x 0 / 0 counts 0
                ap_fakes = n_fake_upto[e[-1]]
                tp_last_ap[:] = tp[run_f.rows(k_e[-1])]
                np.divide(tp_e, w_e, out=ratio, dtype=np.float64)
                ap_sum += np.einsum("ij,ij->j", ratio, d_tp)
        if "auc" in names:
            lo, hi = np.searchsorted(auc_end, i0), np.searchsorted(auc_end, i1)
            e, s = auc_end[lo:hi], auc_start[lo:hi]
            m = len(e)
            if m:
                fp_e, d_fp, tp_s, both, other = tp_buf[:m], d_buf[:m], w_buf[:m], a64[:m], b64[:m]
                np.take(fp, run_r.rows(n_real_upto[e] - base_r), axis=0, out=fp_e, mode="clip")
                np.subtract(fp_e[0], fp_last_auc, out=d_fp[0])
                np.subtract(fp_e[1:], fp_e[:-1], out=d_fp[1:])
                fp_last_auc[:] = fp_e[-1]
                np.take(tp, run_f.rows(n_fake_before[s] - base_f), axis=0, out=tp_s, mode="clip")
                if s[0] < i0:  # the run began in an earlier chunk
                    tp_s[0] = tp_open
                np.copyto(other, tp_s)
                np.take(tp, run_f.rows(n_fake_upto[e] - base_f), axis=0, out=tp_s, mode="clip")
                np.copyto(both, tp_s)
                both += other  # up to 2^25: float64
                auc_sum += np.einsum("ij,ij->j", both, d_fp)
            if i1 < items.n_items and items.bounds[items.run[i1]] >= i0:
                tp_open[:] = tp[run_f.rows(n_fake_before[items.bounds[items.run[i1]]] - base_f)]
        tp_carry[:] = tp[run_f.rows(len(f_idx) - 1)]
        fp_carry[:] = fp[run_r.rows(len(r_idx) - 1)]
    out = {}
    if "ap" in names:
        out["ap"] = ap_sum / n_pos
    if "auc" in names:
        out["auc"] = auc_sum / (2 * n_pos * n_neg)
    return out


def bootstrap(labels, scores, groups=None, *, clusters=None, n: int = 2000, ci: float = 0.95,
              rng: np.random.Generator | None = None, names: Sequence[str] = METRICS,
              counts: np.ndarray | None = None) -> Bootstrap:
    """Point metrics and stratified-bootstrap intervals, resampling whole ``groups`` (videos).

    ``groups`` None: each score is its own video. ``clusters`` (N,): the source group of each score
    (the original video, or the person): whole groups are resampled (``resample_counts``); None:
    videos are. ``counts`` (n, V): replicate draws to reuse (a paired comparison passes the same
    draws to both detectors); else drawn from ``rng`` (default seed 0).
    """
    labels, scores, groups = check_scores(labels, scores, groups)
    if not 0 < ci < 1:
        raise FakebenchError(f"ci {ci}: expected a coverage in (0, 1), e.g. 0.95")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OneClassWarning)
        one_class = len(labels) == 0 or labels.min() == labels.max()
    point = compute(labels, scores, names)
    if one_class or n <= 0:
        return Bootstrap(point, {}, ci)
    video, v_label = _video_table(labels, groups)
    if counts is None:
        counts = resample_counts(v_label, n, rng if rng is not None else np.random.default_rng(0),
                                 _cluster_table(video, clusters, len(v_label)))
    elif counts.shape[1] != len(v_label):
        raise FakebenchError(f"counts cover {counts.shape[1]} videos, the set has {len(v_label)}")
    return Bootstrap(point, _replicate_metrics(scores, labels, video, counts, names), ci)


def auc_lower_bound(auc: float, n_fake: float, n_real: float, ci: float = 0.95) -> float:
    """Lower end of the two-sided ``ci`` score interval of an AUC (Newcombe 2006, method 5).

    The Hanley-McNeil variance with both sample sizes replaced by their mean N* = (m + n) / 2,
    V(t) = t (1 - t) / (m n) * [1 + (N* - 1) ((1 - t) / (2 - t) + t / (1 + t))], evaluated at the
    bound t, not at the estimate: the bound solves ``auc - t = z sqrt(V(t))``. So at perfect
    separation (AUC 1, where every bootstrap replicate is 1 and the percentile interval collapses to
    [1, 1]) it still says how far the AUC could be from 1 given m fakes and n reals. Pass the
    number of independent units: with clips that share sources, the number of source groups
    holding fakes and reals (a conservative count).
    """
    from scipy.stats import norm

    if not (math.isfinite(auc) and n_fake >= 1 and n_real >= 1):
        return math.nan
    z = float(norm.ppf(0.5 + ci / 2))
    m, n = float(n_fake), float(n_real)
    half = (m + n) / 2

    def gap(t: float) -> float:
        var = t * (1 - t) / (m * n) * (1 + (half - 1) * ((1 - t) / (2 - t) + t / (1 + t)))
        return auc - t - z * math.sqrt(max(var, 0.0))

    lo, hi = 0.0, auc  # gap(0) = auc >= 0, gap(auc) <= 0
    for _ in range(60):
        mid = (lo + hi) / 2
        if gap(mid) > 0:
            lo = mid
        else:
            hi = mid
    return lo


# -- comparing two detectors on the same videos -------------------------------------------------

@dataclass(frozen=True)
class Comparison:
    """AUC of A and B on the same samples, their difference, its standard error and two-sided p-value."""

    auc_a: float
    auc_b: float
    diff: float
    se: float
    z: float
    p: float
    method: str
    diff_lo: float = math.nan
    diff_hi: float = math.nan


def _midranks(x: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(x, method="average", axis=-1)


def delong(labels, scores_a, scores_b, ci: float = 0.95, clusters=None) -> Comparison:
    """DeLong's test of AUC(A) = AUC(B) on the same samples (Sun & Xu 2014, midranks: O(n log n)).

    ``clusters`` None: samples are taken as independent (pass one score per video). ``clusters``
    (N,): the source group of each sample; the variance is then Obuchowski's (1997) clustered form:
    the DeLong components summed per group, S10 = I/((I-1) M) sum_i (V10_i - m_i A)^2 over the I
    groups (M fakes, m_i in group i), S01 likewise over reals, S11 their cross-product, and
    var(A) = S10/M + S01/N + 2 S11/(M N) (with the covariance of the two detectors the same way).
    """
    from scipy.stats import norm

    labels, a, _ = check_scores(labels, scores_a)
    _, b, _ = check_scores(labels, scores_b)
    method = "delong" if clusters is None else "obuchowski"
    if _one_class(labels):
        return Comparison(*(math.nan,) * 6, method=method)
    pos, neg = labels == 1, labels == 0
    m, n = int(pos.sum()), int(neg.sum())
    both = np.vstack([a, b])
    x, y = both[:, pos], both[:, neg]
    tx, ty = _midranks(x), _midranks(y)
    tz = _midranks(np.hstack([x, y]))
    aucs = (tz[:, :m].sum(axis=1) - m * (m + 1) / 2) / (m * n)
    v01 = (tz[:, :m] - tx) / n  # per fake sample: share of reals it beats
    v10 = 1.0 - (tz[:, m:] - ty) / m  # per real sample: share of fakes that beat it
    if clusters is None:
        s01 = np.atleast_2d(np.cov(v01)) if m > 1 else np.zeros((2, 2))
        s10 = np.atleast_2d(np.cov(v10)) if n > 1 else np.zeros((2, 2))
        cov = s01 / m + s10 / n
    else:
        cov = _clustered_cov(np.asarray(clusters), pos, neg, v01, v10, aucs)
    var = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    diff = float(aucs[0] - aucs[1])
    if var <= 1e-300:
        z = 0.0 if diff == 0 else math.copysign(math.inf, diff)
        p = 1.0 if diff == 0 else 0.0
        se = 0.0
    else:
        se = math.sqrt(var)
        z = diff / se
        p = float(2 * norm.sf(abs(z)))
    q = norm.ppf(0.5 + ci / 2)
    return Comparison(float(aucs[0]), float(aucs[1]), diff, se, z, p, method, diff - q * se, diff + q * se)


def _clustered_cov(clusters: np.ndarray, pos: np.ndarray, neg: np.ndarray, v_fake: np.ndarray, v_real: np.ndarray,
                   aucs: np.ndarray) -> np.ndarray:
    """Obuchowski's (2, 2) covariance of two AUCs from per-sample DeLong components and source groups."""
    if clusters.shape != pos.shape:
        raise FakebenchError(f"expected one source group per sample, got {clusters.shape} for {pos.shape} samples")
    _, number = np.unique(clusters, return_inverse=True)
    number = number.ravel()
    n_groups = int(number.max()) + 1
    m, n = int(pos.sum()), int(neg.sum())
    m_i = np.bincount(number[pos], minlength=n_groups).astype(np.float64)
    n_i = np.bincount(number[neg], minlength=n_groups).astype(np.float64)
    f = np.stack([np.bincount(number[pos], weights=v, minlength=n_groups) for v in v_fake]) - aucs[:, None] * m_i
    r = np.stack([np.bincount(number[neg], weights=v, minlength=n_groups) for v in v_real]) - aucs[:, None] * n_i
    if n_groups < 2:
        return np.zeros((2, 2))
    scale = n_groups / (n_groups - 1)
    s10 = scale * (f @ f.T) / m
    s01 = scale * (r @ r.T) / n
    s11 = scale * (f @ r.T)
    return s10 / m + s01 / n + (s11 + s11.T) / (m * n)


def compare_bootstrap(labels, scores_a, scores_b, groups=None, *, clusters=None, n: int = 2000, ci: float = 0.95,
                      rng: np.random.Generator | None = None) -> Comparison:
    """Paired bootstrap of AUC(A) - AUC(B): the same resampled videos (or source groups) for both detectors."""
    labels, a, groups = check_scores(labels, scores_a, groups)
    _, b, _ = check_scores(labels, scores_b)
    if _one_class(labels):
        return Comparison(*(math.nan,) * 6, method="bootstrap")
    video, v_label = _video_table(labels, groups)
    counts = resample_counts(v_label, n, rng if rng is not None else np.random.default_rng(0),
                             _cluster_table(video, clusters, len(v_label)))
    ra = bootstrap(labels, a, groups, counts=counts, names=("auc",))
    rb = bootstrap(labels, b, groups, counts=counts, names=("auc",))
    d = ra.replicates["auc"] - rb.replicates["auc"]
    diff = ra.point["auc"] - rb.point["auc"]
    se = float(d.std(ddof=1))
    alpha = (1 - ci) / 2
    lo, hi = np.quantile(d, [alpha, 1 - alpha])
    # two-sided p: twice the share of replicates on the other side of zero (shifted to the null)
    p = float(min(1.0, 2 * min((d <= 0).mean(), (d >= 0).mean()))) if diff != 0 else 1.0
    z = diff / se if se > 0 else (0.0 if diff == 0 else math.copysign(math.inf, diff))
    return Comparison(ra.point["auc"], rb.point["auc"], diff, se, z, p, "bootstrap", float(lo), float(hi))


# -- the predictions table --------------------------------------------------------------------------

CELL = ("detector", "dataset", "perturbation", "level")


def video_scores(predictions, aggregation: str | None = None, sources: dict[str, str] | None = None):
    """One row per (detector, dataset, perturbation, level, video): label, score, and where the score came from.

    By default the stored video rows (frame -1): each detector's own verdict, as ``detect score``
    gives it (``source``: ``sources[detector]``, e.g. its aggregation, else "detector"). With an
    ``aggregation`` (mean, max, confident), detectors with frame rows get their finite frame scores
    re-aggregated that way instead (a video without any scored frame gets 0.5, undecided).
    """
    import pandas as pd

    from fakebench.detect.base import aggregate

    keys = [*CELL, "video_id"]
    videos = predictions[predictions["frame"] < 0][[*keys, "split", "label", "score"]]
    sources = sources or {}
    frames = predictions[predictions["frame"] >= 0] if aggregation is not None else predictions.iloc[:0]
    has_frames = set(map(tuple, frames[["detector", "dataset"]].drop_duplicates().to_numpy().tolist()))
    own = videos[[(d, s) not in has_frames for d, s in zip(videos["detector"], videos["dataset"])]]
    own = own.assign(source=[sources.get(d, "detector") for d in own["detector"]])
    if frames.empty:
        return own.reset_index(drop=True)
    finite = frames[np.isfinite(frames["score"])]
    grouped = finite.groupby(keys, sort=False)["score"]
    if aggregation == "mean":
        agg = grouped.mean()
    elif aggregation == "max":
        agg = grouped.max()
    else:
        agg = grouped.agg(lambda s: aggregate(s.to_numpy(), aggregation))
    base = videos[[(d, s) in has_frames for d, s in zip(videos["detector"], videos["dataset"])]].drop(columns="score")
    merged = base.merge(agg.rename("score").reset_index(), on=keys, how="left")
    merged["score"] = merged["score"].fillna(0.5)
    merged["source"] = aggregation
    return pd.concat([own, merged], ignore_index=True)


def _cell_rng(seed: int, *parts) -> np.random.Generator:
    import zlib

    return np.random.default_rng([seed & 0xFFFFFFFF, zlib.crc32("|".join(map(str, parts)).encode())])


def evaluate(predictions, *, aggregation: str | None = None, n_boot: int = 2000, ci: float = 0.95, seed: int = 0,
             frame_intervals: Sequence[str] = ("auc",), progress: bool = False,
             sources: dict[str, str] | None = None, groups: Mapping[tuple[str, str], str] | None = None,
             thresholds: Mapping[str, Mapping | None] | None = None) -> tuple[list[dict], list[dict]]:
    """Metric rows (video and frame level) per (detector, dataset, perturbation, level), and DeLong comparisons.

    Video level (``video_scores``: the stored video rows, or frame rows re-aggregated by
    ``aggregation``): every metric with a bootstrap interval. Frame level (detectors with frame
    rows): every metric, intervals for ``frame_intervals``; frames without a face (NaN) are left
    out and counted. ``groups`` maps (dataset, video_id) to the video's source group: the
    bootstrap then resamples whole source groups (frames come with their video, videos with their
    group) and the comparisons use Obuchowski's clustered DeLong; without it (or for a video it
    lacks) each video is its own group. Each row says what was resampled (``resampled``,
    ``n_groups``) and carries ``auc_lb``, the score-method lower bound (``auc_lower_bound``) over
    the independent units, which stays informative where the bootstrap collapses at AUC 1.
    ``thresholds`` maps a detector to its calibrated thresholds (``{"fpr1": t, "fpr5": t}``, from
    its own held-out reals): video rows then add accuracy, TPR and FPR at those thresholds.
    """
    from tqdm import tqdm

    videos = video_scores(predictions, aggregation, sources)
    videos = videos.assign(source_group=_group_column(videos, groups))
    frames = predictions[predictions["frame"] >= 0]
    rows: list[dict] = []
    one_class: set[str] = set()
    cells = list(videos.groupby(list(CELL), sort=True))
    frame_cells = dict(iter(frames.groupby(list(CELL), sort=False))) if not frames.empty else {}
    resampled = "source group" if groups is not None else "video"
    thresholds = thresholds or {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", OneClassWarning)
        for key, group in tqdm(cells, desc="metrics", unit="cell", disable=not progress):
            detector, dataset, perturbation, level = key
            labels = group["label"].to_numpy()
            scores = group["score"].to_numpy()
            clusters = group["source_group"].to_numpy() if groups is not None else None
            result = bootstrap(labels, scores, clusters=clusters, n=n_boot, ci=ci, rng=_cell_rng(seed, *key, "video"))
            common = {"detector": detector, "dataset": dataset, "perturbation": perturbation, "level": int(level)}
            units = _units(labels, group["source_group"].to_numpy())
            rows.append({**common, "unit": "video", "aggregation": group["source"].iloc[0], "n_videos": len(group),
                         "n_real": int((labels == 0).sum()), "n_fake": int((labels == 1).sum()),
                         "n_frames": None, "no_face": None, "resampled": resampled, **units, **result.table(),
                         "auc_lb": auc_lower_bound(result.point["auc"], units["n_fake_groups"],
                                                   units["n_real_groups"], ci),
                         **_calibrated(labels, scores, thresholds.get(detector))})
            if labels.min() == labels.max():
                one_class.add(dataset)
            cell = frame_cells.get(key)
            if cell is None or cell.empty:
                continue
            ok = np.isfinite(cell["score"].to_numpy())
            sub = cell[ok]
            f_labels = sub["label"].to_numpy()
            point = compute(f_labels, sub["score"].to_numpy())
            f_clusters = None
            if groups is not None:
                f_clusters = _group_column(sub, groups).to_numpy()
            boot = bootstrap(f_labels, sub["score"].to_numpy(), sub["video_id"].to_numpy(), clusters=f_clusters,
                             n=n_boot, ci=ci, names=tuple(frame_intervals), rng=_cell_rng(seed, *key, "frame"))
            table = {}
            for name in METRICS:
                low, high = boot.interval(name) if name in frame_intervals else (math.nan, math.nan)
                table.update({name: point[name], f"{name}_lo": low, f"{name}_hi": high})
            rows.append({**common, "unit": "frame", "aggregation": None, "n_videos": int(sub["video_id"].nunique()),
                         "n_real": int((f_labels == 0).sum()), "n_fake": int((f_labels == 1).sum()),
                         "n_frames": int(len(sub)), "no_face": int((~ok).sum()),
                         "resampled": f"{resampled} (frames with their video)", **units, **table})
    for name in sorted(one_class):
        log.warning("data set %s holds only %s videos in some cells: AUC, AP, EER and TPR@FPR are NaN there", name,
                    "real" if (videos[videos["dataset"] == name]["label"] == 0).all() else "one class of")
    for w in caught:
        if not issubclass(w.category, OneClassWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    rows.sort(key=lambda r: (r["detector"], r["dataset"], r["perturbation"] != "none", r["perturbation"], r["level"],
                             r["unit"] != "video"))
    return rows, _comparisons(videos, ci, clustered=groups is not None)


def _group_column(table, groups: Mapping[tuple[str, str], str] | None):
    """The source group of each row of a table with dataset and video_id columns (the video itself where unknown)."""
    import pandas as pd

    groups = groups or {}
    values = [groups.get((d, v)) or f"{d}/{v}" for d, v in zip(table["dataset"], table["video_id"])]
    return pd.Series([f"{d}|{g}" for d, g in zip(table["dataset"], values)], index=table.index, dtype=object)


def _units(labels: np.ndarray, source_groups: np.ndarray) -> dict[str, int]:
    """How many independent units a cell has: source groups in all, holding fakes, holding reals."""
    return {"n_groups": int(len(np.unique(source_groups))),
            "n_fake_groups": int(len(np.unique(source_groups[labels == 1]))),
            "n_real_groups": int(len(np.unique(source_groups[labels == 0])))}


def _calibrated(labels: np.ndarray, scores: np.ndarray, thresholds: Mapping | None) -> dict[str, float]:
    """Accuracy, TPR and FPR of the videos at each calibrated threshold (a score above it is called fake)."""
    out: dict[str, float] = {}
    for name in CALIBRATED:
        t = (thresholds or {}).get(name)
        if t is None or not math.isfinite(float(t)):
            continue
        fake = scores > float(t)
        out[f"threshold_{name}"] = float(t)
        out[f"acc_{name}"] = float((fake == (labels == 1)).mean())
        out[f"tpr_{name}"] = float(fake[labels == 1].mean()) if (labels == 1).any() else math.nan
        out[f"fpr_{name}"] = float(fake[labels == 0].mean()) if (labels == 0).any() else math.nan
    return out


def false_positives(predictions, videos, thresholds: Mapping[str, Mapping | None] | None = None, *,
                    aggregation: str | None = None, sources: dict[str, str] | None = None) -> list[dict]:
    """Per detector and source of the real videos (the person, else the source group), on clean videos: how many
    the detector calls fake at 0.5 and at its calibrated thresholds.

    ``videos``: the run's videos table (dataset, video_id, target_id, source_group...).
    """
    scored = video_scores(predictions, aggregation, sources)
    scored = scored[(scored["perturbation"] == "none") & (scored["label"] == 0)]
    if scored.empty:
        return []
    meta = videos.set_index(["dataset", "video_id"])
    out = []
    for (detector, dataset), part in scored.groupby(["detector", "dataset"], sort=True):
        cuts = {"0.5": 0.5, **{name: float(t) for name, t in ((thresholds or {}).get(detector) or {}).items()
                                if name in CALIBRATED and t is not None}}
        source = []
        for vid in part["video_id"]:
            row = meta.loc[(dataset, vid)] if (dataset, vid) in meta.index else None
            person = str(row.get("target_id", "") or "") if row is not None else ""
            group = str(row.get("source_group", "") or "") if row is not None else ""
            source.append(person or group or vid)
        part = part.assign(source=source)
        for name, part_source in part.groupby("source", sort=True):
            scores = part_source["score"].to_numpy()
            out.append({"detector": detector, "dataset": dataset, "source": name, "n_videos": len(scores),
                        "mean_score": float(scores.mean()),
                        **{f"fpr_{cut}": float((scores > t).mean()) for cut, t in cuts.items()},
                        **{f"threshold_{cut}": t for cut, t in cuts.items() if cut != "0.5"}})
    return out


def _comparisons(videos, ci: float, clustered: bool = False) -> list[dict]:
    """DeLong's test for every pair of detectors on the videos both scored, per data set and perturbation level
    (Obuchowski's clustered form over the ``source_group`` column when ``clustered``)."""
    out = []
    for (dataset, perturbation, level), group in videos.groupby(["dataset", "perturbation", "level"], sort=True):
        wide = group.pivot_table(index="video_id", columns="detector", values="score", aggfunc="first")
        labels = group.drop_duplicates("video_id").set_index("video_id")["label"]
        names = sorted(wide.columns)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                both = wide[[a, b]].dropna()
                y = labels.loc[both.index].to_numpy()
                if len(y) == 0 or y.min() == y.max():
                    continue
                clusters = None
                if clustered:
                    clusters = group.drop_duplicates("video_id").set_index("video_id")["source_group"]
                    clusters = clusters.loc[both.index].to_numpy()
                c = delong(y, both[a].to_numpy(), both[b].to_numpy(), ci=ci, clusters=clusters)
                out.append({"dataset": dataset, "perturbation": perturbation, "level": int(level), "a": a, "b": b,
                            "n_videos": len(y), "auc_a": c.auc_a, "auc_b": c.auc_b, "diff": c.diff, "diff_lo": c.diff_lo,
                            "diff_hi": c.diff_hi, "z": c.z, "p": c.p, "method": c.method})
    return out
