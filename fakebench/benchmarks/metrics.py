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

Confidence intervals (``bootstrap``): stratified bootstrap over videos: each replicate draws the
real videos and the fake videos separately with replacement (so every replicate has both classes),
and every frame of a drawn video comes along. The 2.5 and 97.5 percentiles of the replicates give
the 95 % interval. Vectorised: a replicate is a row of per-video counts, and each metric is computed
for a block of replicates at once from cumulative sums of the count-weighted sorted scores. AUC alone
on many frames per video takes a faster route: the matrix K of Mann-Whitney counts between every
(fake video, real video) pair, so a replicate's AUC is ``c_fake @ K @ c_real`` (one matrix product
for all replicates).

``delong``: DeLong's test for two detectors scored on the same videos (Sun & Xu's O(n log n) form);
``compare_bootstrap``: the same question answered by a paired bootstrap.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from fakebench.errors import FakebenchError

log = logging.getLogger("fakebench.benchmarks")

METRICS = ("auc", "ap", "eer", "acc", "tpr_fpr1", "tpr_fpr5")
FPR_TARGETS = {"tpr_fpr1": 0.01, "tpr_fpr5": 0.05}
_BLOCK = 4_000_000  # elements of a (replicates x scores) block: ~32 MB of float64


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


def resample_counts(video_labels: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``float64 (n, V)``: how often each video is drawn in each replicate, reals and fakes drawn separately."""
    n_videos = len(video_labels)
    counts = np.zeros((n, n_videos))
    for cls in (0, 1):
        members = np.flatnonzero(video_labels == cls)
        k = len(members)
        if k == 0:
            continue
        draws = rng.integers(0, k, size=(n, k))
        flat = np.bincount((draws + np.arange(n)[:, None] * k).ravel(), minlength=n * k).reshape(n, k)
        counts[:, members] = flat
    return counts


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


def bootstrap(labels, scores, groups=None, *, n: int = 2000, ci: float = 0.95, rng: np.random.Generator | None = None,
              names: Sequence[str] = METRICS, counts: np.ndarray | None = None) -> Bootstrap:
    """Point metrics and stratified-bootstrap intervals, resampling whole ``groups`` (videos).

    ``groups`` None: each score is its own video. ``counts`` (n, V): replicate draws to reuse (a paired
    comparison passes the same draws to both detectors); else drawn from ``rng`` (default seed 0).
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
        counts = resample_counts(v_label, n, rng if rng is not None else np.random.default_rng(0))
    elif counts.shape[1] != len(v_label):
        raise FakebenchError(f"counts cover {counts.shape[1]} videos, the set has {len(v_label)}")
    return Bootstrap(point, _replicate_metrics(scores, labels, video, counts, names), ci)


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


def delong(labels, scores_a, scores_b, ci: float = 0.95) -> Comparison:
    """DeLong's test of AUC(A) = AUC(B) on the same samples (Sun & Xu 2014, midranks: O(n log n)).

    Samples are taken as independent: pass one score per video (video-level scores).
    """
    from scipy.stats import norm

    labels, a, _ = check_scores(labels, scores_a)
    _, b, _ = check_scores(labels, scores_b)
    if _one_class(labels):
        return Comparison(*(math.nan,) * 6, method="delong")
    pos, neg = labels == 1, labels == 0
    m, n = int(pos.sum()), int(neg.sum())
    both = np.vstack([a, b])
    x, y = both[:, pos], both[:, neg]
    tx, ty = _midranks(x), _midranks(y)
    tz = _midranks(np.hstack([x, y]))
    aucs = (tz[:, :m].sum(axis=1) - m * (m + 1) / 2) / (m * n)
    v01 = (tz[:, :m] - tx) / n  # per fake sample: share of reals it beats
    v10 = 1.0 - (tz[:, m:] - ty) / m  # per real sample: share of fakes that beat it
    s01 = np.atleast_2d(np.cov(v01)) if m > 1 else np.zeros((2, 2))
    s10 = np.atleast_2d(np.cov(v10)) if n > 1 else np.zeros((2, 2))
    cov = s01 / m + s10 / n
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
    return Comparison(float(aucs[0]), float(aucs[1]), diff, se, z, p, "delong", diff - q * se, diff + q * se)


def compare_bootstrap(labels, scores_a, scores_b, groups=None, *, n: int = 2000, ci: float = 0.95,
                      rng: np.random.Generator | None = None) -> Comparison:
    """Paired bootstrap of AUC(A) - AUC(B): the same resampled videos for both detectors."""
    labels, a, groups = check_scores(labels, scores_a, groups)
    _, b, _ = check_scores(labels, scores_b)
    if _one_class(labels):
        return Comparison(*(math.nan,) * 6, method="bootstrap")
    _, v_label = _video_table(labels, groups)
    counts = resample_counts(v_label, n, rng if rng is not None else np.random.default_rng(0))
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
             sources: dict[str, str] | None = None) -> tuple[list[dict], list[dict]]:
    """Metric rows (video and frame level) per (detector, dataset, perturbation, level), and DeLong comparisons.

    Video level (``video_scores``: the stored video rows, or frame rows re-aggregated by
    ``aggregation``): every metric with a bootstrap interval over videos. Frame level (detectors with
    frame rows): every metric, intervals for ``frame_intervals`` (frames resampled by whole videos);
    frames without a face (NaN) are left out and counted.
    """
    from tqdm import tqdm

    videos = video_scores(predictions, aggregation, sources)
    frames = predictions[predictions["frame"] >= 0]
    rows: list[dict] = []
    one_class: set[str] = set()
    cells = list(videos.groupby(list(CELL), sort=True))
    frame_cells = dict(iter(frames.groupby(list(CELL), sort=False))) if not frames.empty else {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", OneClassWarning)
        for key, group in tqdm(cells, desc="metrics", unit="cell", disable=not progress):
            detector, dataset, perturbation, level = key
            labels = group["label"].to_numpy()
            result = bootstrap(labels, group["score"].to_numpy(), n=n_boot, ci=ci,
                               rng=_cell_rng(seed, *key, "video"))
            common = {"detector": detector, "dataset": dataset, "perturbation": perturbation, "level": int(level)}
            rows.append({**common, "unit": "video", "aggregation": group["source"].iloc[0], "n_videos": len(group),
                         "n_real": int((labels == 0).sum()), "n_fake": int((labels == 1).sum()),
                         "n_frames": None, "no_face": None, **result.table()})
            if labels.min() == labels.max():
                one_class.add(dataset)
            cell = frame_cells.get(key)
            if cell is None or cell.empty:
                continue
            ok = np.isfinite(cell["score"].to_numpy())
            sub = cell[ok]
            f_labels = sub["label"].to_numpy()
            point = compute(f_labels, sub["score"].to_numpy())
            boot = bootstrap(f_labels, sub["score"].to_numpy(), sub["video_id"].to_numpy(), n=n_boot, ci=ci,
                             names=tuple(frame_intervals), rng=_cell_rng(seed, *key, "frame"))
            table = {}
            for name in METRICS:
                low, high = boot.interval(name) if name in frame_intervals else (math.nan, math.nan)
                table.update({name: point[name], f"{name}_lo": low, f"{name}_hi": high})
            rows.append({**common, "unit": "frame", "aggregation": None, "n_videos": int(sub["video_id"].nunique()),
                         "n_real": int((f_labels == 0).sum()), "n_fake": int((f_labels == 1).sum()),
                         "n_frames": int(len(sub)), "no_face": int((~ok).sum()), **table})
    for name in sorted(one_class):
        log.warning("data set %s holds only %s videos in some cells: AUC, AP, EER and TPR@FPR are NaN there", name,
                    "real" if (videos[videos["dataset"] == name]["label"] == 0).all() else "one class of")
    for w in caught:
        if not issubclass(w.category, OneClassWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    rows.sort(key=lambda r: (r["detector"], r["dataset"], r["perturbation"] != "none", r["perturbation"], r["level"],
                             r["unit"] != "video"))
    return rows, _comparisons(videos, ci)


def _comparisons(videos, ci: float) -> list[dict]:
    """DeLong's test for every pair of detectors on the videos both scored, per data set and perturbation level."""
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
                c = delong(y, both[a].to_numpy(), both[b].to_numpy(), ci=ci)
                out.append({"dataset": dataset, "perturbation": perturbation, "level": int(level), "a": a, "b": b,
                            "n_videos": len(y), "auc_a": c.auc_a, "auc_b": c.auc_b, "diff": c.diff, "diff_lo": c.diff_lo,
                            "diff_hi": c.diff_hi, "z": c.z, "p": c.p, "method": c.method})
    return out
