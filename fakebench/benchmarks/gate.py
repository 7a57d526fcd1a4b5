"""Regression gate: does a run's AUC hold up against a baseline?

A baseline (``baseline.json``, written from a run with ``bench gate RUN --write-baseline``) lists
per (detector, dataset, perturbation, level, unit) the AUC and its interval. A check fails when

- the run has no such row, or its AUC is undefined (NaN), or
- the AUC fell by more than ``max_drop`` below the baseline AND by more than the noise of the two
  estimates explains: more than the half-width of the interval of a difference of two independent
  AUCs, ``z * sqrt(se_run**2 + se_base**2)``, each standard error read off its interval
  (``(hi - lo) / (2 z)``). Comparing with the run's interval alone would fail about one check in
  twelve on pure noise, because the baseline is itself an estimate. A side without an interval
  (bootstrap 0) counts as exact; with neither, the margin alone decides and the line says so.

Rises are reported, never failed. ``check`` returns every line; the CLI prints them and exits 1
when any check failed.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from fakebench.errors import FakebenchError

SCHEMA = "fakebench.baseline/1"
KEY = ("detector", "dataset", "perturbation", "level", "unit")


@dataclass
class GateResult:
    passed: bool
    lines: list[str] = field(default_factory=list)
    checks: list[dict] = field(default_factory=list)


def _finite(x) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)


def _noise(entry: dict, row: dict, ci: float) -> float | None:
    """Half-width of the ``ci`` interval of (baseline AUC - run AUC), from the two intervals; None without any."""
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + ci / 2))
    ses = [(d["auc_hi"] - d["auc_lo"]) / (2 * z) for d in (entry, row)
           if _finite(d.get("auc_lo")) and _finite(d.get("auc_hi"))]
    if not ses:
        return None
    return z * math.sqrt(sum(se * se for se in ses))


def baseline_from_metrics(metrics: dict, units: tuple[str, ...] = ("video",)) -> dict:
    """The baseline of a run's metrics.json: AUC and interval of every row with a defined AUC."""
    entries = []
    for row in metrics.get("metrics", []):
        if row.get("unit") in units and _finite(row.get("auc")):
            entries.append({**{k: row[k] for k in KEY}, "auc": row["auc"], "auc_lo": row.get("auc_lo"),
                            "auc_hi": row.get("auc_hi"), "n_real": row.get("n_real"), "n_fake": row.get("n_fake")})
    if not entries:
        raise FakebenchError("the run has no row with a defined AUC (every data set one-class?); a baseline needs "
                             "real and fake videos")
    return {"schema": SCHEMA, "metric": "auc", "ci": metrics.get("ci"), "entries": entries}


def write_baseline(metrics: dict, path: str | os.PathLike) -> Path:
    from fakebench.files import write_json

    path = Path(path)
    write_json(path, baseline_from_metrics(metrics))
    return path


def read_baseline(path: str | os.PathLike) -> dict:
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except OSError as err:
        raise FakebenchError(f"{path}: cannot read the baseline ({err.strerror}); write one with `fakebench bench gate "
                             "RUN --baseline PATH --write-baseline`") from err
    except ValueError as err:
        raise FakebenchError(f"{path}: not JSON ({err}); expected a baseline written by --write-baseline") from err
    if not isinstance(data, dict) or data.get("schema") != SCHEMA or not isinstance(data.get("entries"), list):
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise FakebenchError(f"{path}: schema {found!r}; expected {SCHEMA!r} (written by `bench gate --write-baseline`)")
    return data


def check(metrics: dict, baseline: dict, max_drop: float = 0.02) -> GateResult:
    """Compare a run's metrics.json with a baseline (see the module docstring)."""
    if not 0 <= max_drop < 1:
        raise FakebenchError(f"--max-drop {max_drop}: expected an AUC margin in [0, 1), e.g. 0.02")
    rows = {tuple(r.get(k) for k in KEY): r for r in metrics.get("metrics", [])}
    ci = metrics.get("ci") or 0.95
    result = GateResult(passed=True)
    for entry in baseline["entries"]:
        key = tuple(entry[k] for k in KEY)
        name = f"{entry['detector']} on {entry['dataset']} ({entry['perturbation']} {entry['level']}, {entry['unit']})"
        base = entry["auc"]
        row = rows.get(key)
        if row is None:
            verdict, why = "FAIL", "missing from the run (a detector, data set or perturbation was dropped?)"
            new = lo = hi = None
        else:
            new, lo, hi = row.get("auc"), row.get("auc_lo"), row.get("auc_hi")
            if not _finite(new):
                verdict, why = "FAIL", "AUC undefined in the run (only one class scored?)"
            else:
                drop = base - new
                noise = _noise(entry, row, ci)
                interval = f" [{lo:.3f}, {hi:.3f}]" if _finite(lo) and _finite(hi) else " (no interval)"
                if drop > max_drop and (noise is None or drop > noise):
                    verdict = "FAIL"
                    why = (f"AUC {new:.3f}{interval} vs baseline {base:.3f}: drop {drop:.3f} > {max_drop:g}"
                           + (f" and > {noise:.3f}, the {ci:.0%} noise of the difference" if noise is not None
                              else " (judged on the margin alone: no intervals)"))
                elif drop > max_drop:
                    verdict = "ok"
                    why = (f"AUC {new:.3f}{interval} vs baseline {base:.3f}: drop {drop:.3f} > {max_drop:g} but within "
                           f"the {ci:.0%} noise of the difference ({noise:.3f})")
                else:
                    verdict = "ok"
                    why = f"AUC {new:.3f}{interval} vs baseline {base:.3f} ({-drop:+.3f})"
        result.checks.append({**dict(zip(KEY, key)), "baseline": base, "auc": new, "auc_lo": lo, "auc_hi": hi,
                              "verdict": verdict, "why": why})
        result.lines.append(f"{verdict:<4} {name}: {why}")
        if verdict == "FAIL":
            result.passed = False
    return result
