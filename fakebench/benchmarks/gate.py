"""Regression gate: does a run's AUC hold up against a baseline, on the same videos?

A baseline (``baseline.json``, written from a run folder with ``bench gate RUN --write-baseline``)
stores per (detector, dataset, perturbation, level) the video-level AUC and its interval AND every
video's score, label, source group and content key (sha256 of the file + frame range). The gate
compares run and baseline on the videos they share, paired: the same videos, the same source
groups resampled for both sides (a paired cluster bootstrap of AUC(baseline) - AUC(run), the
source groups stratified as in ``metrics.resample_counts``). A check fails when

- the run has no such row, or its AUC is undefined (NaN), or
- the drop on the shared videos is larger than ``max_drop`` AND significant: the one-sided
  ``1 - alpha`` lower confidence bound of the drop (the ``alpha`` quantile of the paired
  replicates) lies above 0.

Pairing is what gives the gate power: a run and its baseline score the same videos, so the
video-to-video variation that makes each AUC's own interval wide cancels in their difference.
(The earlier gate treated them as two independent samples and let a 0.3 drop pass on 3 + 3
videos.) Videos in only one of the two are listed; a baseline that shares fewer than half its
videos with the run was written on other videos and is refused. Videos are matched by content
key when both sides have one, else by video id (the line says so). Rises are reported, never
failed. ``check`` returns every line; the CLI prints them and exits 1 when any check failed.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fakebench.errors import FakebenchError

SCHEMA = "fakebench.baseline/2"
KEY = ("detector", "dataset", "perturbation", "level", "unit")
ALPHA = 0.05  # one-sided: a drop is significant when its 95 % lower confidence bound is above 0
N_BOOT = 2000


@dataclass
class GateResult:
    passed: bool
    lines: list[str] = field(default_factory=list)
    checks: list[dict] = field(default_factory=list)


def _finite(x) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)


# -- the video scores of a run ----------------------------------------------------------------------

def run_videos(folder: str | os.PathLike) -> tuple[dict, dict]:
    """``(metrics.json, {cell key: table})`` of a run folder: per video-level cell its videos' scores.

    The table has video_id, label, score, source_group and content (where the run recorded them).
    The scores are those the run's video-level metrics read (``metrics.video_scores``).
    """
    import pandas as pd

    from fakebench.benchmarks.metrics import CELL, video_scores
    from fakebench.benchmarks.runner import read_run

    folder = Path(folder)
    predictions, metrics = read_run(folder)
    aggregation = metrics.get("aggregation") if metrics.get("video_scores") == "reaggregated" else None
    if metrics.get("video_scores") is None:  # a run of an older fakebench: video scores re-aggregated from frames
        aggregation = metrics.get("aggregation")
    scored = video_scores(predictions, aggregation)
    meta = None
    if (folder / "videos.parquet").is_file():
        meta = pd.read_parquet(folder / "videos.parquet")
        keep = [c for c in ("dataset", "video_id", "source_group", "content") if c in meta.columns]
        meta = meta[keep].drop_duplicates(["dataset", "video_id"])
        scored = scored.merge(meta, on=["dataset", "video_id"], how="left")
    for column in ("source_group", "content"):
        if column not in scored.columns:
            scored[column] = None
    cells = {}
    for key, part in scored.groupby(list(CELL), sort=True):
        cells[(*key[:3], int(key[3]), "video")] = part[["video_id", "label", "score", "source_group", "content"]]
    return metrics, cells


def _text(value) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    return str(value)


# -- baselines ----------------------------------------------------------------------------------------

def baseline_from_run(folder: str | os.PathLike) -> dict:
    """The baseline of a run folder: per video-level cell with a defined AUC, the AUC, its interval and every video."""
    metrics, cells = run_videos(folder)
    entries = []
    for row in metrics.get("metrics", []):
        if row.get("unit") != "video" or not _finite(row.get("auc")):
            continue
        key = tuple(row.get(k) for k in KEY)
        table = cells.get(key)
        if table is None:
            continue
        videos = [{"video_id": str(v), "label": int(y), "score": float(s), "source_group": _text(g), "content": _text(c)}
                  for v, y, s, g, c in table.itertuples(index=False)]
        entries.append({**{k: row[k] for k in KEY}, "auc": row["auc"], "auc_lo": row.get("auc_lo"),
                        "auc_hi": row.get("auc_hi"), "n_real": row.get("n_real"), "n_fake": row.get("n_fake"),
                        "resampled": row.get("resampled", "video"), "videos": videos})
    if not entries:
        raise FakebenchError("the run has no row with a defined AUC (every data set one-class?); a baseline needs "
                             "real and fake videos")
    return {"schema": SCHEMA, "metric": "auc", "ci": metrics.get("ci"), "entries": entries}


def write_baseline(folder: str | os.PathLike, path: str | os.PathLike) -> Path:
    """Write the baseline of run ``folder`` to ``path``, atomically; an existing ``path`` only if fakebench wrote it."""
    from fakebench import outputs
    from fakebench.files import write_json

    path = outputs.check_file(path, "--baseline")
    write_json(path, baseline_from_run(folder))
    outputs.record_file(path)
    return path


def read_baseline(path: str | os.PathLike) -> dict:
    path = Path(path)
    rewrite = "write one with `fakebench bench gate RUN --baseline PATH --write-baseline`"
    try:
        data = json.loads(path.read_text())
    except OSError as err:
        raise FakebenchError(f"{path}: cannot read the baseline ({err.strerror}); {rewrite}") from err
    except ValueError as err:
        raise FakebenchError(f"{path}: not JSON ({err}); expected a baseline written by --write-baseline") from err
    found = data.get("schema") if isinstance(data, dict) else type(data).__name__
    if found == "fakebench.baseline/1":
        raise FakebenchError(f"{path}: a baseline of schema 1 holds AUCs only, no per-video scores, so the paired gate "
                             f"cannot use it; {rewrite} from the run it was made from (or a new one)")
    if not isinstance(data, dict) or found != SCHEMA or not isinstance(data.get("entries"), list):
        raise FakebenchError(f"{path}: schema {found!r}; expected {SCHEMA!r} ({rewrite})")
    return data


# -- the paired comparison ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Drop:
    """AUC(baseline) - AUC(run) on shared videos, with its one-sided lower confidence bound."""

    auc_base: float
    auc_run: float
    drop: float
    lower: float  # the alpha quantile of the paired replicates of the drop
    n_units: int  # source groups (or videos) resampled


def paired_drop(labels, base, run, groups=None, *, alpha: float = ALPHA, n: int = N_BOOT,
                rng: np.random.Generator | None = None) -> Drop:
    """Paired cluster bootstrap of AUC(base) - AUC(run): one label per video, the two sides' scores, source groups."""
    from fakebench.benchmarks import metrics

    labels = np.asarray(labels, np.int64)
    base, run = np.asarray(base, np.float64), np.asarray(run, np.float64)
    clusters = None
    n_units = len(labels)
    if groups is not None:
        _, clusters = np.unique(np.asarray(groups, object).astype(str), return_inverse=True)
        clusters = clusters.ravel()
        n_units = int(clusters.max()) + 1 if len(clusters) else 0
    rng = rng if rng is not None else np.random.default_rng(0)
    counts = metrics.resample_counts(labels, n, rng, clusters)
    a = metrics.bootstrap(labels, base, counts=counts, names=("auc",))
    b = metrics.bootstrap(labels, run, counts=counts, names=("auc",))
    drop = a.point["auc"] - b.point["auc"]
    replicates = a.replicates.get("auc")
    lower = float(np.quantile(replicates - b.replicates["auc"], alpha)) if replicates is not None else math.nan
    return Drop(a.point["auc"], b.point["auc"], drop, lower, n_units)


def _match(entry: dict, table) -> tuple[list[tuple[dict, object]], list[str], list[str], str]:
    """Pairs (baseline video, run row) of one cell, baseline videos missing from the run, the run's new ones, how matched.

    By content key where both sides have them; by video id where they do not, or where the content
    keys share fewer than half the baseline's videos but the ids share more (the same clips
    re-encoded, e.g. a fixture rebuilt by another OpenCV).
    """
    videos = entry.get("videos") or []
    with_content = bool(len(table)) and all(v.get("content") for v in videos) and \
        all(bool(c) for c in table["content"].fillna(""))
    by_id = _pair(videos, table, "video_id")
    if not with_content:
        return (*by_id, "video id")
    by_content = _pair(videos, table, "content")
    if len(by_content[0]) < len(videos) / 2 < len(by_id[0]):
        return (*by_id, "video id (the content hashes differ: re-encoded files?)")
    return (*by_content, "content")


def _pair(videos: list[dict], table, column: str) -> tuple[list[tuple[dict, object]], list[str], list[str]]:
    rows = {str(k): r for k, r in zip(table[column], table.itertuples(index=False))}
    pairs, missing = [], []
    for v in videos:
        row = rows.pop(str(v[column]), None)
        if row is None:
            missing.append(v["video_id"])
        else:
            pairs.append((v, row))
    return pairs, missing, [r.video_id for r in rows.values()]


def _names(ids: list[str], most: int = 3) -> str:
    return ", ".join(ids[:most]) + (f" and {len(ids) - most} more" if len(ids) > most else "")


def check(folder: str | os.PathLike, baseline: dict, max_drop: float = 0.02, *, alpha: float = ALPHA,
          n_boot: int = N_BOOT, seed: int = 0) -> GateResult:
    """Compare a run folder with a baseline (see the module docstring)."""
    if not 0 <= max_drop < 1:
        raise FakebenchError(f"--max-drop {max_drop}: expected an AUC margin in [0, 1), e.g. 0.02")
    if not 0 < alpha < 0.5:
        raise FakebenchError(f"--alpha {alpha}: expected a one-sided significance level in (0, 0.5), e.g. 0.05")
    metrics, cells = run_videos(folder)
    rows = {tuple(r.get(k) for k in KEY): r for r in metrics.get("metrics", [])}
    matches = {i: _match(entry, cells[key]) for i, entry in enumerate(baseline["entries"])
               if (key := tuple(entry[k] for k in KEY)) in cells}
    _refuse_other_videos(matches.values())
    result = GateResult(passed=True)
    for i, entry in enumerate(baseline["entries"]):
        key = tuple(entry[k] for k in KEY)
        name = f"{entry['detector']} on {entry['dataset']} ({entry['perturbation']} {entry['level']}, {entry['unit']})"
        check_row = {**dict(zip(KEY, key)), "baseline": entry["auc"], "auc": None, "drop": None, "drop_lower": None,
                     "shared": 0, "missing": [], "new": []}
        row, table = rows.get(key), cells.get(key)
        if row is None or table is None:
            verdict, why = "FAIL", "missing from the run (a detector, data set or perturbation was dropped?)"
        elif not _finite(row.get("auc")):
            verdict, why = "FAIL", "AUC undefined in the run (only one class scored?)"
        else:
            pairs, missing, new, how = matches[i]
            check_row.update(shared=len(pairs), missing=missing, new=new)
            labels = np.array([v["label"] for v, _ in pairs])
            if len(pairs) == 0 or labels.min() == labels.max():
                verdict, why = "FAIL", f"no real and fake videos shared with the baseline (matched by {how})"
            else:
                groups = [v.get("source_group") or v["video_id"] for v, _ in pairs]
                d = paired_drop(labels, [v["score"] for v, _ in pairs], [r.score for _, r in pairs], groups,
                                alpha=alpha, n=n_boot, rng=np.random.default_rng([seed, i]))
                check_row.update(auc=d.auc_run, drop=d.drop, drop_lower=d.lower)
                verdict, why = _verdict(d, max_drop, alpha, len(pairs), d.n_units)
                notes = []
                if missing:
                    notes.append(f"{len(missing)} baseline videos missing from the run ({_names(missing)})")
                if new:
                    notes.append(f"{len(new)} videos not in the baseline, left out ({_names(new)})")
                if how != "content":
                    notes.append(f"matched by {how}" if "hashes" in how else "matched by video id (no content hashes)")
                if notes:
                    why += "; " + "; ".join(notes)
        result.checks.append({**check_row, "verdict": verdict, "why": why})
        result.lines.append(f"{verdict:<4} {name}: {why}")
        if verdict == "FAIL":
            result.passed = False
    return result


def _verdict(d: Drop, max_drop: float, alpha: float, n_videos: int, n_units: int) -> tuple[str, str]:
    level = f"{1 - alpha:.0%}"
    head = (f"AUC {d.auc_run:.3f} vs baseline {d.auc_base:.3f} on {n_videos} shared videos ({n_units} source groups "
            f"resampled, paired)")
    if d.drop > max_drop and d.lower > 0:
        return "FAIL", (f"{head}: drop {d.drop:.3f} > {max_drop:g} and significant (its {level} lower bound "
                        f"{d.lower:.3f} > 0)")
    if d.drop > max_drop:
        return "ok", (f"{head}: drop {d.drop:.3f} > {max_drop:g} but not significant (its {level} lower bound "
                      f"{d.lower:.3f} <= 0)")
    return "ok", f"{head} ({-d.drop:+.3f})"


def _refuse_other_videos(matches) -> None:
    """A baseline sharing fewer than half its videos with the run was made on other videos: refuse it.

    ``matches``: ``_match``'s result for every baseline cell the run has.
    """
    wanted = shared = 0
    for pairs, missing, _, _ in matches:
        wanted += len(pairs) + len(missing)
        shared += len(pairs)
    if wanted and shared < wanted / 2:
        raise FakebenchError(f"the baseline was written on other videos: the run shares {shared} of its {wanted} "
                             "(video, cell) scores; write a baseline from a run on these videos "
                             "(`bench gate RUN --baseline PATH --write-baseline`)")
