"""Detectability curve: AUC of each detector against the training step of the generator that made the fakes.

The fakes of each generator checkpoint are a generated data set like any other, read through the
``generated`` layout (its manifests give the checkpoint's ``step``); the reals are the real segments
those fakes were made from. A point is (detector, data set, step): the fakes of that step against
every real video of the same data set, with a bootstrap interval. Scoring goes through the usual
run (``runner.run``), so it is cached and resumable and leaves a full run folder; the curve adds
``curve.json`` and ``curve.png`` to it (written atomically, under the run folder's lock).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from fakebench.errors import FakebenchError

log = logging.getLogger("fakebench.benchmarks")


def curve_points(predictions, videos, *, aggregation: str | None = None, n_boot: int = 2000, ci: float = 0.95,
                 seed: int = 0) -> list[dict]:
    """One point per (detector, data set, generator step) from a run's predictions and videos tables."""
    import pandas as pd

    from fakebench.benchmarks.metrics import _cell_rng, bootstrap, video_scores

    if "step" not in videos.columns or pd.to_numeric(videos.loc[videos["label"] == 1, "step"], errors="coerce").isna().all():
        raise FakebenchError("no generator step on the fakes of these data sets: a detectability curve needs fakes "
                             "indexed with the generated layout (their manifests carry the checkpoint step)")
    clean = predictions[predictions["perturbation"] == "none"]
    scores = video_scores(clean, aggregation)
    info = videos[["dataset", "video_id", "step"]].copy()
    info["step"] = pd.to_numeric(info["step"], errors="coerce")
    table = scores.merge(info, on=["dataset", "video_id"], how="left")
    points = []
    for (detector, dataset), group in table.groupby(["detector", "dataset"], sort=True):
        reals = group[group["label"] == 0]
        fakes = group[(group["label"] == 1) & group["step"].notna()]
        if reals.empty:
            log.warning("%s: no real videos to set the fakes against; include_real the generated layout or add reals",
                        dataset)
            continue
        for step, at_step in fakes.groupby("step", sort=True):
            both = pd.concat([reals, at_step])
            result = bootstrap(both["label"].to_numpy(), both["score"].to_numpy(), n=n_boot, ci=ci, names=("auc",),
                               rng=_cell_rng(seed, detector, dataset, step))
            low, high = result.interval("auc")
            points.append({"detector": detector, "dataset": dataset, "step": int(step), "auc": result.point["auc"],
                           "auc_lo": low, "auc_hi": high, "n_real": len(reals), "n_fake": len(at_step)})
    if not points:
        raise FakebenchError("no (detector, data set, step) with both real and fake videos; nothing to plot")
    return points


def plot_curve(points: list[dict], path: str | os.PathLike) -> Path:
    """AUC against generator step, one line per detector (and data set), intervals shaded; written atomically."""
    from matplotlib.figure import Figure

    from fakebench.files import atomic_path

    fig = Figure(figsize=(6.4, 4.0), dpi=100)
    ax = fig.add_subplot()
    lines: dict[tuple[str, str], list[dict]] = {}
    for p in points:
        lines.setdefault((p["detector"], p["dataset"]), []).append(p)
    several_sets = len({d for _, d in lines}) > 1
    for (detector, dataset), pts in sorted(lines.items()):
        pts = sorted(pts, key=lambda p: p["step"])
        x = [p["step"] for p in pts]
        y = np.array([p["auc"] for p in pts], float)
        lo = np.array([p["auc_lo"] if p["auc_lo"] is not None else np.nan for p in pts], float)
        hi = np.array([p["auc_hi"] if p["auc_hi"] is not None else np.nan for p in pts], float)
        label = f"{detector} ({dataset})" if several_sets else detector
        (line,) = ax.plot(x, y, marker="o", label=label)
        ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.15, linewidth=0)
    ax.axhline(0.5, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("generator training step")
    ax.set_ylabel("video AUC (fakes of that step vs reals)")
    ax.set_ylim(0, 1.02)
    ax.set_title("Detectability of the generator's fakes as it trains")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return path


def run_curve(config, out: str | os.PathLike, *, device: str = "auto", progress: bool = True,
              overwrite: bool = False) -> dict:
    """Score ``config`` (its data sets: generated sets), then write curve.json and curve.png into ``out``."""
    from fakebench import outputs

    with outputs.output_folder(out, "a detectability curve"):
        return _curve_in_folder(config, Path(out), device=device, progress=progress, overwrite=overwrite)


def _curve_in_folder(config, out: Path, *, device: str, progress: bool, overwrite: bool) -> dict:
    import pandas as pd

    from fakebench.benchmarks.runner import _json_safe, read_run, run_in_folder
    from fakebench.files import write_json

    run_in_folder(config, out, device=device, progress=progress, overwrite=overwrite)
    predictions, metrics = read_run(out)
    videos = pd.read_parquet(out / "videos.parquet")
    m = config.metrics
    points = curve_points(predictions, videos, aggregation=m.aggregation, n_boot=m.bootstrap, ci=m.ci, seed=config.seed)
    result = {"schema_version": 1, "aggregation": m.aggregation, "ci": m.ci, "points": points}
    write_json(out / "curve.json", _json_safe(result))
    plot_curve(points, out / "curve.png")
    return result
