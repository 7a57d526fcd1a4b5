"""Run folders made from simulated predictions (no detector runs): for the gate, report and curve tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from fakebench.benchmarks import metrics
from fakebench.benchmarks.runner import COLUMNS, SCHEMA_VERSION, _json_safe, predictions_frame


def simulated_predictions(seed: int = 0, shift: float = 2.0, n_videos: int = 200, detectors=("blink",),
                          frames: int = 0, perturbations=(("none", 0),), dataset: str = "sim") -> pd.DataFrame:
    """Video scores N(shift * label, 1) squashed to (0, 1); ``frames`` > 0 adds frame rows around the video score."""
    rng = np.random.default_rng(seed)
    rows = []
    for detector in detectors:
        for name, level in perturbations:
            for v in range(n_videos):
                label = v % 2
                z = rng.normal() + (shift - 0.3 * level) * label
                rows.append((detector, dataset, "test", f"{dataset}/v{v}", -1, label, float(1 / (1 + np.exp(-z))), name, level))
                for f in range(frames):
                    zf = z + rng.normal(0, 0.5)
                    rows.append((detector, dataset, "test", f"{dataset}/v{v}", f, label, float(1 / (1 + np.exp(-zf))), name,
                                 level))
    return predictions_frame(rows)


def write_run(folder: Path, predictions: pd.DataFrame, n_boot: int = 300, seed: int = 0, videos: pd.DataFrame | None = None,
              thresholds: dict | None = None) -> Path:
    """A run folder as `bench run` leaves it (predictions.parquet, metrics.json, metrics.csv).

    ``videos`` (dataset, video_id, source_group, target_id...): written as videos.parquet, and its
    source groups resampled; ``thresholds``: detector -> calibrated thresholds.
    """
    folder.mkdir(parents=True, exist_ok=True)
    assert tuple(predictions.columns) == COLUMNS
    predictions.to_parquet(folder / "predictions.parquet", index=False)
    groups = None
    if videos is not None:
        videos.to_parquet(folder / "videos.parquet", index=False)
        groups = dict(zip(zip(videos["dataset"], videos["video_id"]), videos["source_group"]))
    rows, comparisons = metrics.evaluate(predictions, aggregation="mean", n_boot=n_boot, seed=seed, groups=groups,
                                         thresholds=thresholds)
    false_positives = [] if videos is None else metrics.false_positives(predictions, videos, thresholds,
                                                                        aggregation="mean")
    datasets = {d: {"videos": int(g["video_id"].nunique()), "split": "test", "split_by": "identity"}
                for d, g in predictions.groupby("dataset")}
    doc = {"schema_version": SCHEMA_VERSION, "aggregation": "mean", "bootstrap": n_boot, "ci": 0.95,
           "perturb_on": "frames", "datasets": datasets, "metrics": rows, "comparisons": comparisons, "failures": [],
           "resampled": "source group" if groups is not None else "video", "false_positives": false_positives}
    (folder / "metrics.json").write_text(json.dumps(_json_safe(doc)))
    pd.DataFrame(rows).to_csv(folder / "metrics.csv", index=False)
    return folder
