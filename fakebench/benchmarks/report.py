"""``fakebench bench report``: one self-contained HTML page (and a Markdown twin) from run folders.

Everything is drawn from the files a run saved, never by scoring again: ``metrics.json`` (tables
with intervals, robustness curves), ``predictions.parquet`` (ROC curves), ``throughput.json``
(speed beside accuracy), ``videos.parquet`` (a few fakes with their masks, where the generated
layout recorded mask files), ``curve.json`` (detectability against generator step). Plots are
matplotlib figures rendered with the Agg canvas; the HTML embeds them as base64 PNGs, the Markdown
file links the same PNGs from ``<name>_files/``.
"""

from __future__ import annotations

import base64
import html
import io
import json
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fakebench.errors import FakebenchError

log = logging.getLogger("fakebench.benchmarks")

Section = tuple[str, str, object]  # (title, "text" | "table" | "image", paragraphs | (header, rows) | PNG bytes)

_METRIC_HEADERS = (("auc", "AUC"), ("ap", "AP"), ("eer", "EER"), ("acc", "Acc@0.5"), ("tpr_fpr1", "TPR@1%FPR"),
                   ("tpr_fpr5", "TPR@5%FPR"))


@dataclass
class Run:
    folder: Path
    name: str
    predictions: object  # pandas DataFrame
    metrics: dict
    videos: object | None = None
    throughput: dict | None = None
    curve: dict | None = None
    env: dict = field(default_factory=dict)


def load_runs(folders: list[str | os.PathLike]) -> list[Run]:
    import pandas as pd

    from fakebench.benchmarks.runner import read_run

    runs = []
    for folder in folders:
        folder = Path(folder)
        predictions, metrics = read_run(folder)

        def optional_json(name: str, folder: Path = folder) -> dict | None:
            path = folder / name
            if not path.is_file():
                return None
            try:
                return json.loads(path.read_text())
            except (OSError, ValueError) as err:
                log.warning("%s: unreadable (%s); left out of the report", path, err)
                return None

        videos = pd.read_parquet(folder / "videos.parquet") if (folder / "videos.parquet").is_file() else None
        runs.append(Run(folder, folder.name, predictions, metrics, videos, optional_json("throughput.json"),
                        optional_json("curve.json"), optional_json("env.json") or {}))
    names = [r.name for r in runs]
    for r in runs:
        if names.count(r.name) > 1:
            r.name = str(r.folder)
    return runs


# -- numbers ---------------------------------------------------------------------------------------------

def _fmt(x, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return f"{x:.{digits}f}"


def _with_ci(row: dict, name: str, digits: int = 3) -> str:
    value, lo, hi = row.get(name), row.get(f"{name}_lo"), row.get(f"{name}_hi")
    if lo is None or hi is None or not all(isinstance(v, int | float) and math.isfinite(v) for v in (lo, hi)):
        return _fmt(value, digits)
    return f"{_fmt(value, digits)} [{_fmt(lo, digits)}, {_fmt(hi, digits)}]"


def metrics_table(runs: list[Run], clean_only: bool = True) -> tuple[list[str], list[list[str]]]:
    several = len(runs) > 1
    header = (["run"] if several else []) + ["detector", "dataset", "perturbation", "unit", "real", "fake", "groups"] + \
        [h for _, h in _METRIC_HEADERS] + ["AUC lower bound"]
    rows = []
    for run in runs:
        for r in run.metrics.get("metrics", []):
            if clean_only and r["perturbation"] != "none":
                continue
            pert = "none" if r["perturbation"] == "none" else f"{r['perturbation']} {r['level']}"
            unit = r["unit"] + (f" ({r['aggregation']})" if r["unit"] == "video" and r.get("aggregation") else "")
            counts = [str(r.get("n_real")), str(r.get("n_fake"))]
            if r["unit"] == "frame":
                counts = [f"{r.get('n_real')} fr", f"{r.get('n_fake')} fr"]
            groups = str(r["n_groups"]) if r.get("n_groups") is not None else "–"
            rows.append(([run.name] if several else []) + [r["detector"], r["dataset"], pert, unit, *counts, groups] +
                        [_with_ci(r, k) for k, _ in _METRIC_HEADERS] + [_fmt(r.get("auc_lb"))])
    return header, rows


def operating_points_table(runs: list[Run]) -> tuple[list[str], list[list[str]]]:
    """Accuracy, TPR and FPR on the clean videos at 0.5 and at each detector's calibrated thresholds."""
    header = ["detector", "dataset", "threshold", "from", "accuracy", "TPR", "FPR (test reals)"]
    rows = []
    for run in runs:
        for r in run.metrics.get("metrics", []):
            if r["perturbation"] != "none" or r["unit"] != "video" or "threshold_fpr5" not in r:
                continue
            for name, label in (("fpr1", "1 % FPR"), ("fpr5", "5 % FPR")):
                if f"threshold_{name}" in r:
                    rows.append([r["detector"], r["dataset"], _fmt(r[f"threshold_{name}"], 4),
                                 f"{label} on its held-out reals", _fmt(r.get(f"acc_{name}")), _fmt(r.get(f"tpr_{name}")),
                                 _fmt(r.get(f"fpr_{name}"))])
            rows.append([r["detector"], r["dataset"], "0.5", "fixed", _fmt(r.get("acc")), "", ""])
    return header, rows


def false_positive_table(runs: list[Run]) -> tuple[list[str], list[list[str]]]:
    """Per source of the real videos (person, else source group): the share each detector calls fake."""
    cuts = ("0.5", "fpr1", "fpr5")
    header = ["detector", "dataset", "real source", "videos", "mean score", "called fake at 0.5",
              "at its 1 % FPR threshold", "at its 5 % FPR threshold"]
    rows = []
    for run in runs:
        for r in run.metrics.get("false_positives") or []:
            rows.append([r["detector"], r["dataset"], str(r["source"]), str(r["n_videos"]), _fmt(r.get("mean_score")),
                         *[_fmt(r.get(f"fpr_{c}"), 2) if f"fpr_{c}" in r else "–" for c in cuts]])
    return header, rows


def throughput_table(runs: list[Run]) -> tuple[list[str], list[list[str]]]:
    header = ["detector", "device", "videos", "frames/s", "videos/s", "p50 s/video", "p95 s/video",
              "decode / faces / detector", "peak RAM MiB", "peak GPU MiB", "load avg"]
    rows = []
    for run in runs:
        if not run.throughput:
            continue
        load = run.throughput.get("load_average") or []
        for d in run.throughput.get("detectors", []):
            share = d.get("share") or {}
            rows.append([d["detector"], d.get("device", ""), str(d.get("videos")), _fmt(d.get("frames_per_s"), 1),
                         _fmt(d.get("videos_per_s"), 3), _fmt(d.get("latency_p50_s"), 2), _fmt(d.get("latency_p95_s"), 2),
                         " / ".join(f"{100 * (share.get(s) or 0):.0f}%" for s in ("decode", "faces", "detector")),
                         _fmt(d.get("peak_rss_mb"), 0) + ("" if d.get("rss_scope") == "detector" else " (process)"),
                         _fmt(d.get("peak_gpu_mb"), 0), " ".join(f"{x:.1f}" for x in load[:1])])
    return header, rows


def comparisons_table(runs: list[Run]) -> tuple[list[str], list[list[str]]]:
    header = ["dataset", "perturbation", "A", "B", "videos", "AUC A", "AUC B", "A - B [CI]", "p", "test"]
    rows = []
    for run in runs:
        for c in run.metrics.get("comparisons", []):
            if c["perturbation"] != "none":
                continue
            rows.append([c["dataset"], c["perturbation"], c["a"], c["b"], str(c["n_videos"]), _fmt(c["auc_a"]),
                         _fmt(c["auc_b"]), f"{_fmt(c['diff'])} [{_fmt(c['diff_lo'])}, {_fmt(c['diff_hi'])}]",
                         _fmt(c["p"], 4), "clustered DeLong (Obuchowski)" if c.get("method") == "obuchowski"
                         else "DeLong"])
    return header, rows


# -- plots ----------------------------------------------------------------------------------------------

def _figure(w: float = 6.4, h: float = 4.0):
    from matplotlib.figure import Figure

    return Figure(figsize=(w, h), dpi=100)


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def roc_plot(runs: list[Run]) -> bytes | None:
    """Video-level ROC curves on the clean videos: one panel per data set, one line per detector."""
    from fakebench.benchmarks.metrics import roc_points, video_scores

    curves: dict[str, list[tuple[str, np.ndarray, np.ndarray, float]]] = {}
    for run in runs:
        pred = run.predictions[run.predictions["perturbation"] == "none"]
        if pred.empty:
            continue
        own = run.metrics.get("video_scores") == "detector"  # else an older run, or one that re-aggregated frames
        scores = video_scores(pred, None if own else run.metrics.get("aggregation", "mean"))
        for (detector, dataset), g in scores.groupby(["detector", "dataset"], sort=True):
            y = g["label"].to_numpy()
            if y.min() == y.max():
                continue
            fpr, tpr = roc_points(y, g["score"].to_numpy())
            auc = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
            name = detector if len(runs) == 1 else f"{detector} ({run.name})"
            curves.setdefault(dataset, []).append((name, fpr, tpr, auc))
    if not curves:
        return None
    n = len(curves)
    cols = min(n, 3)
    rows = (n + cols - 1) // cols
    fig = _figure(4.2 * cols, 3.8 * rows)
    for i, (dataset, lines) in enumerate(sorted(curves.items())):
        ax = fig.add_subplot(rows, cols, i + 1)
        for name, fpr, tpr, auc in lines:
            ax.plot(fpr, tpr, drawstyle="default", label=f"{name} (AUC {auc:.3f})")
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
        ax.set_title(f"{dataset}: video-level ROC (clean)")
        ax.set_xlabel("false positive rate")
        ax.set_ylabel("true positive rate")
        ax.set_aspect("equal")
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return _png(fig)


def robustness_plot(runs: list[Run]) -> bytes | None:
    """Video AUC against perturbation level (0 = clean), one panel per perturbation, 95 % intervals shaded."""
    rows = [(run, r) for run in runs for r in run.metrics.get("metrics", []) if r["unit"] == "video"]
    perturbations = sorted({r["perturbation"] for _, r in rows} - {"none"})
    if not perturbations:
        return None
    cols = min(len(perturbations), 4)
    nrows = (len(perturbations) + cols - 1) // cols
    fig = _figure(3.6 * cols, 3.2 * nrows)
    for i, pert in enumerate(perturbations):
        ax = fig.add_subplot(nrows, cols, i + 1)
        series: dict[str, list[tuple[int, float, float, float]]] = {}
        for run, r in rows:
            if r["perturbation"] not in (pert, "none"):
                continue
            name = f"{r['detector']} / {r['dataset']}" + ("" if len(runs) == 1 else f" ({run.name})")
            auc, lo, hi = (r.get(k) if isinstance(r.get(k), int | float) else np.nan for k in ("auc", "auc_lo", "auc_hi"))
            series.setdefault(name, []).append((0 if r["perturbation"] == "none" else r["level"], auc, lo, hi))
        for name, pts in sorted(series.items()):
            pts.sort()
            x = [p[0] for p in pts]
            (line,) = ax.plot(x, [p[1] for p in pts], marker="o", markersize=3, label=name)
            ax.fill_between(x, [p[2] for p in pts], [p[3] for p in pts], color=line.get_color(), alpha=0.15, linewidth=0)
        ax.axhline(0.5, color="grey", linestyle=":", linewidth=1)
        ax.set_title(pert)
        ax.set_xlabel("level (0 = clean)")
        ax.set_ylabel("video AUC")
        ax.set_xticks(range(6))
        ax.set_ylim(0, 1.02)
        if i == 0:
            ax.legend(fontsize=6)
    fig.tight_layout()
    return _png(fig)


def masks_plot(runs: list[Run], limit: int = 4) -> bytes | None:
    """A few fakes (one per source -> target pair first): the real input frame where the index has the
    original, the swapped frame, and the swapped region (generated sets record a mask per output frame)."""
    picks = []
    for run in runs:
        v = run.videos
        if v is None or "mask_path" not in v.columns:
            continue
        fakes = v[(v["label"] == 1) & (v["mask_path"].fillna("") != "")].sort_values("video_id")
        # one fake per (target, source) pair first, so both directions of a swap show up
        order = fakes.assign(_n=fakes.groupby(["target_id", "source_id"]).cumcount()).sort_values(["_n", "video_id"])
        originals = {r["video_id"]: r for r in v[v["label"] == 0].to_dict("records")}
        for row in order.head(limit - len(picks)).to_dict("records"):
            picks.append((run, row, originals.get(row.get("original_id") or "")))
        if len(picks) >= limit:
            break
    shown = [item for run, row, original in picks if (item := _mask_panel(run, row, original)) is not None]
    if not shown:
        return None
    fig = _figure(9.6, 2.6 * len(shown))
    for i, (row, t, real, frame, mask, verdicts) in enumerate(shown):
        overlay = frame.astype(np.float32) / 255
        overlay[mask] = overlay[mask] * 0.5 + np.array([1.0, 0.0, 0.0]) * 0.5
        who = f"{row.get('target_id')} wearing {row.get('source_id')}"
        for j, (image, title) in enumerate(((real, f"input, frame {t} of the clip"), (frame, f"swapped: {who}"),
                                            (overlay, f"swapped region; P(fake): {verdicts or '-'}"))):
            ax = fig.add_subplot(len(shown), 3, 3 * i + j + 1)
            if image is not None:
                ax.imshow(image)
            ax.set_title(title if image is not None else "input: not in this index", fontsize=7)
            ax.axis("off")
    fig.tight_layout()
    return _png(fig)


def _mask_panel(run: Run, row: dict, original: dict | None):
    """``(row, t, input frame or None, fake frame, bool mask, verdicts)`` of a fake's middle frame, or None."""
    from fakebench.datasets.index import frame_range
    from fakebench.media import iter_frames

    try:
        with np.load(row["mask_path"]) as data:
            masks = data["masks"]
        t = len(masks) // 2
        frame = next(iter(iter_frames(row["path"], [t])))[1]
        real = None
        if original is not None:
            real = next(iter(iter_frames(original["path"], [frame_range(original)[0] + t])))[1]
    except (OSError, KeyError, ValueError, StopIteration, FakebenchError) as err:
        log.warning("%s: cannot show its mask (%s)", row["video_id"], err)
        return None
    mask = masks[t]
    if mask.shape != frame.shape[:2]:  # masks stored at another size than the video
        import cv2

        mask = cv2.resize(mask, (frame.shape[1], frame.shape[0]), interpolation=cv2.INTER_NEAREST)
    scores = run.predictions[(run.predictions["video_id"] == row["video_id"]) & (run.predictions["frame"] == -1)
                             & (run.predictions["perturbation"] == "none")]
    verdicts = ", ".join(f"{d} {s:.2f}" for d, s in zip(scores["detector"], scores["score"]))
    return row, t, real, frame, mask > 127, verdicts


def curve_plot(runs: list[Run]) -> bytes | None:
    from fakebench.benchmarks.curve import plot_curve

    points = [p for run in runs if run.curve for p in run.curve.get("points", [])]
    if not points:
        return None
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return plot_curve(points, Path(tmp) / "curve.png").read_bytes()


# -- the documents -----------------------------------------------------------------------------------------

def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    def cell(c: str) -> str:
        return c.replace("|", "\\|")

    lines = ["| " + " | ".join(map(cell, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(cell, row)) + " |" for row in rows]
    return "\n".join(lines)


def _about(runs: list[Run]) -> list[str]:
    lines = []
    for run in runs:
        m = run.metrics
        sets = "; ".join(f"{name}: {d.get('videos')} videos ({d.get('real')} real, {d.get('fake')} fake), split "
                         f"{d.get('split')} (by {d.get('split_by')})" for name, d in (m.get("datasets") or {}).items())
        env = run.env
        where = ", ".join(x for x in (env.get("device"), env.get("gpu"), f"commit {str(env.get('commit'))[:10]}"
                                      if env.get("commit") else None) if x)
        how = (f"{m.get('aggregation')} of frame scores (clip-level detectors: their own verdict)"
               if m.get("video_scores") != "detector" or m.get("aggregation") != "per detector"
               else "each detector's own (" + ", ".join(f"{d}: {w.get('aggregation', 'detector')}" for d, w in
                                                       (m.get("work") or {}).items()) + ")")
        if m.get("resampled") == "source group":
            unit = ("cluster bootstrap: whole source groups resampled (the original video or person each clip comes "
                    "from; a video's frames and a group's videos move together), the groups stratified by whether they "
                    "hold reals, fakes or both")
        else:
            unit = "stratified bootstrap over videos (each video taken as independent)"
        lines.append(f"{run.name}: {sets}. Video scores: {how}. {int(m.get('ci', 0.95) * 100)} % intervals: {unit}, "
                     f"{m.get('bootstrap')} replicates. Perturbations on {m.get('perturb_on')}. {where}."
                     + (f" {len(m.get('failures') or [])} units failed (listed in metrics.json)." if m.get("failures")
                        else ""))
    return lines


def build(folders: list[str | os.PathLike], out: str | os.PathLike, *, title: str = "fakebench benchmark",
          markdown: bool = True, before: Sequence[Section] = (), after: Sequence[Section] = (),
          check_existing: bool = False) -> dict[str, Path]:
    """Write ``out`` (HTML) and, with ``markdown``, ``out`` with suffix .md plus its PNGs; returns the paths.

    ``before`` / ``after``: sections of the caller's own, ``(title, kind, content)`` with kind ``text``
    (a list of paragraphs), ``table`` (header, rows) or ``image`` (PNG bytes), put before the run
    sections and after them. Every file is written atomically. ``check_existing`` (the paths come
    from the user's ``--out``): an existing report file is replaced only if fakebench wrote it and
    nobody changed it since (``outputs.check_file``), and the PNG folder must be fakebench's own;
    both are checked before anything is written.
    """
    from fakebench import outputs
    from fakebench.files import atomic_path, write_bytes

    if not folders:
        raise FakebenchError("no run folders given; pass one or more RUN folders written by `fakebench bench run`")
    out = Path(out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise FakebenchError(f"{out}: the report is HTML; name it *.html (the Markdown twin goes beside it)")
    md_path = out.with_suffix(".md")
    files_dir = out.with_name(out.stem + "_files")
    if check_existing:
        for path in (out, md_path) if markdown else (out,):
            outputs.check_file(path)
        if markdown and files_dir.exists():
            outputs.claim(files_dir, "the report's figures")
    runs = load_runs(folders)
    sections: list[Section] = [*before]
    sections.append(("About these runs", "text", _about(runs)))
    sections.append(("Metrics on the clean videos (95 % interval)", "table", metrics_table(runs)))
    sections.append(("How to read the intervals", "text", [
        "groups: the independent units resampled (source groups). AUC lower bound: the lower end of the 95 % "
        "score interval (Newcombe's method, Hanley-McNeil variance at the bound) over the source groups holding "
        "fakes and reals; where every replicate separates perfectly the bootstrap interval collapses to "
        "[1.000, 1.000], this bound does not."]))
    points = operating_points_table(runs)
    if points[1]:
        sections.append(("Operating points: thresholds calibrated on each detector's own held-out reals", "table",
                         points))
    fps = false_positive_table(runs)
    if fps[1]:
        sections.append(("False positives per real source (clean videos)", "table", fps))
    comparisons = comparisons_table(runs)
    if comparisons[1]:
        sections.append(("Detector against detector on the same videos (DeLong)", "table", comparisons))
    throughput = throughput_table(runs)
    if throughput[1]:
        sections.append(("Throughput (whole pipeline, per stage)", "table", throughput))
    for name, maker in (("ROC curves", roc_plot), ("Robustness: AUC against perturbation level", robustness_plot),
                        ("Detectability against generator training step", curve_plot),
                        ("Fakes: input, swapped frame, swapped region", masks_plot)):
        png = maker(runs)
        if png is not None:
            sections.append((name, "image", png))
    perturbed = metrics_table(runs, clean_only=False)
    perturbed = (perturbed[0], [r for r in perturbed[1] if r[2 if len(runs) == 1 else 3] != "none"])
    if perturbed[1]:
        sections.append(("All perturbed rows", "table", perturbed))
    sections += after

    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>"
             "body{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;font-size:13px;margin:1em 0}"
             "td,th{border:1px solid #ccc;padding:3px 7px;text-align:left}th{background:#f3f3f3}"
             "img{max-width:100%}</style></head><body>", f"<h1>{html.escape(title)}</h1>"]
    md = [f"# {title}", ""]
    written: dict[str, Path] = {"html": out}
    image_no = 0
    for heading, kind, content in sections:
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        md += [f"## {heading}", ""]
        if kind == "text":
            parts += [f"<p>{html.escape(line)}</p>" for line in content]
            md += [*content, ""]
        elif kind == "table":
            parts.append(_html_table(*content))
            md += [_md_table(*content), ""]
        else:
            image_no += 1
            data = base64.b64encode(content).decode()
            parts.append(f"<img alt='{html.escape(heading)}' src='data:image/png;base64,{data}'>")
            if markdown:
                if image_no == 1 and check_existing:
                    outputs.claim(files_dir, "the report's figures")
                files_dir.mkdir(parents=True, exist_ok=True)
                png = files_dir / f"figure{image_no}.png"
                write_bytes(png, content)
                md += [f"![{heading}]({files_dir.name}/{png.name})", ""]
    if markdown and files_dir.is_dir() and outputs.marked(files_dir):  # figures of an earlier, longer report
        for stale in files_dir.glob("figure*.png"):
            number = stale.stem.removeprefix("figure")
            if number.isdigit() and int(number) > image_no:
                stale.unlink()
    parts.append("</body></html>")
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        tmp.write_text("\n".join(parts))
    if markdown:
        with atomic_path(md_path) as tmp:
            tmp.write_text("\n".join(md) + "\n")
        written["markdown"] = md_path
    if check_existing:
        for path in written.values():
            outputs.record_file(path)
    return written
