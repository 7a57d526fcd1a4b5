"""The demo's own report sections, drawn from the files its stages saved.

Around the benchmark sections (``fakebench.benchmarks.report``): what the run is and what it can
and cannot show, stage timings, the generator's held-out preview, identity transfer and expression
following of the swaps (``fakebench.generate.evaluate``, cached in the generator run as
``eval-step-N.json``), blink traces of a real clip, its fake and a clip of B, and the detectors'
training histories.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fakebench.errors import FakebenchError

if TYPE_CHECKING:
    from fakebench.benchmarks.report import Section
    from fakebench.demo import Demo

log = logging.getLogger("fakebench.demo")


def sections(demo: Demo) -> tuple[list[Section], list[Section]]:
    """``(before, after)`` the benchmark sections."""
    from fakebench.demo import headline_table

    evaluation = swap_evaluation(demo)
    intro, header, rows = headline_table(demo.out)
    before: list[Section] = [("Headline: " + intro, "table", (header, rows)),
                             ("What this run is, and what it can and cannot show", "text", about(demo, evaluation)),
                             ("The swaps against their bars (held-out frames, the generated face alone)", "table",
                              bars_table(evaluation)),
                             ("Autoencoder fakes and graphics fakes: each detector on each method (video AUC, 95 % "
                              "interval)", "table", cross_method_table(demo))]
    curve = demo.curve_dir / "curve.png"
    if curve.is_file():
        before.append(("Detectability against generator training step (test clips converted at each snapshot)",
                       "image", curve.read_bytes()))
        before.append(("The curve's points", "table", curve_table(demo)))
    before += [(title, "image", png) for title, png in contact_sheets(demo)]
    colour = colour_panel(demo)
    if colour is not None:
        before.append(("Colour matching, before and after: the real frame, the swap without matching, matched over "
                       "the whole hull, matched on the inner face (the default); one held-out frame each way", "image",
                       colour))
    before.append(("Stage timings", "table", timings_table(demo)))
    after: list[Section] = []
    preview = demo.gen_run / "preview.png"
    if preview.is_file():
        after.append(("The generator on held-out faces (per person: real, itself, the other; 2x upscaled)", "image",
                      preview.read_bytes()))
    after.append(("Swaps: identity transfer and expression following (held-out frames)", "image",
                  identity_figure(evaluation)))
    after.append(("Swaps: the numbers", "table", identity_table(evaluation)))
    for title, png in blink_traces(demo):
        after.append((title, "image", png))
    after.append(("Detector training", "table", training_table(demo)))
    return before, after


def swap_evaluation(demo: Demo) -> dict:
    """``fakebench generate evaluate`` on the run, read from its json when the step has one."""
    from fakebench.generate.evaluate import evaluate

    step = demo.state["stages"]["generator"]["step"]
    cached = demo.gen_run / f"eval-step-{step:06d}.json"
    if cached.is_file():
        return json.loads(cached.read_text())
    log.info("measuring the swaps on %d held-out frames per direction", demo.p.eval_frames)
    return evaluate(demo.gen_run, frames=demo.p.eval_frames, device=demo.device, progress=demo.progress)


def about(demo: Demo, evaluation: dict) -> list[str]:
    stages = demo.state["stages"]
    gen, index = stages["generator"], stages["index"]
    shares = {k: v["identity_share"] for k, v in evaluation["directions"].items()}
    controls = {k: v["control_mean_face"]["identity_share"] for k, v in evaluation["directions"].items()}
    return [
        f"Preset {demo.p.name} on {demo.device}, seed {demo.seed}. The generator (one shared encoder, decoders a = "
        f"sample A and b = sample B, {demo.p.gen_size} px) trained {gen['train_seconds'] / 60:.1f} min, "
        f"{gen['step']} steps, on the first three quarters of each video; the last quarter of each was held out. "
        f"The test split is segment-disjoint: {index['test_real']} real and {index['test_fake']} fake videos, the "
        f"fakes cut from the held-out segments and swapped both ways by two methods (the autoencoder, and the graphics "
        f"swap: B's or A's real face from a training-segment frame of the same head pose, warped onto the driving "
        f"landmarks and Poisson-blended), their real clips, and C, D, E (people no model saw). "
        f"{index['train_real']} real and {index['train_fake']} fake clips of the training segments train the two "
        "classifiers only (one on each method's fakes).",
        "What it can show: whether each detector separates these fakes from these reals, with intervals that say how "
        "little a handful of videos pins down (read the interval, not the point). The clips of one held-out segment "
        "and the fakes made from them move together, so the intervals resample whole segments (source groups), not "
        "clips; at perfect separation the bootstrap interval collapses to [1.00, 1.00], and the AUC lower bound "
        "column (the score interval over the source groups) says how low the AUC could still be. "
        "The artifacts CNN never saw a "
        "deepfake (self-blended reals only): its figure is a cross-generator one. Each classifier saw fakes of one "
        "method and the same two people (other segments of the same videos): on its own method the figure is "
        "within-generator and flatters it; on the other method (the cross-method table) it is a cross-method one.",
        "What it cannot show: anything about other people, other generators or other compression. For that, index "
        "FaceForensics++, Celeb-DF or DFDC with `fakebench data index` and score them with `fakebench bench run`. "
        "Confounds here: A and B's clips (real and fake) come from two videos, C, D, E from others, so a detector can "
        "partly tell footage apart instead of fakes; the data set `pairs` (A/B only: every fake beside the real clip "
        "it was made from) removes that help, compare its rows with `demo`'s. B blinks about twice a minute on "
        "camera, so the blink heuristic "
        "calls real B fake; clips shorter than 10 s leave it undecided (0.5).",
        f"The swaps: {_pairs(shares)} of fake frames are nearer the pasted person than the driving one in dlib's "
        f"face embedding, but the same pipeline pasting a fixed average face scores {_pairs(controls)}, so that share "
        "proves little; head-turn and mouth correlations (the bars table) say whether the face follows the driving "
        f"video. What {gen['train_seconds'] / 60:.0f} minutes of CPU training buy is in the bars table and the "
        "contact sheets; BENCHMARKS.md has the same measures after longer training.",
    ]


def _pairs(values: dict) -> str:
    return ", ".join(f"{v:.2f} ({k})" for k, v in values.items())


def timings_table(demo: Demo) -> tuple[list[str], list[list[str]]]:
    from fakebench.demo import STAGES

    rows = []
    for name in STAGES:
        entry = demo.state["stages"].get(name)
        if entry is None:  # the report stage itself, while it runs
            continue
        detail = {k: v for k, v in entry.items() if k != "seconds"}
        rows.append([name, f"{entry['seconds']:.1f}", _readable(detail)])
    return ["stage", "seconds", "details"], rows


def _readable(value, depth: int = 0) -> str:
    """A stage's details as words: ``key: value`` pairs, nested ones in brackets, lists joined, numbers short."""
    if isinstance(value, dict):
        parts = [f"{k.replace('_', ' ')}: {_readable(v, depth + 1)}" for k, v in value.items() if v is not None]
        text = ", ".join(parts) or "none"
        return f"({text})" if depth and parts else text
    if isinstance(value, (list, tuple)):
        if len(value) > 6:
            return f"{', '.join(_readable(v, depth + 1) for v in value[:6])} and {len(value) - 6} more"
        return ", ".join(_readable(v, depth + 1) for v in value)
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, str) and "/" in value and len(value) > 40:
        return Path(value).name  # a path: its name is what a reader needs
    return str(value)


# The bars the swaps are held to (issue "fakes worth detecting"), on the generated face alone: (title, figure, bar,
# test, the pasted-average-face control's key in face_only or None).
BARS = (("sharpness (Laplacian variance, fake / real)", lambda m: m["sharpness_ratio"], ">= 0.5",
         lambda v: v >= 0.5, None),
        ("head-turn correlation with the driving face", lambda m: m["face_only"]["head_turn_corr"], ">= 0.9",
         lambda v: v >= 0.9, "head_turn_corr"),
        ("mouth-opening correlation with the driving face", lambda m: m["face_only"]["mouth_corr"], ">= 0.5",
         lambda v: v >= 0.5, "mouth_corr"),
        ("share of frames nearer the pasted person (dlib)", lambda m: m["face_only"]["identity_share"], ">= 0.95",
         lambda v: v >= 0.95, "identity_share"),
        ("mean distance to the pasted person (dlib)", lambda m: m["face_only"].get("dist_to_source"), "<= 0.5",
         lambda v: v <= 0.5, None))


def bars_table(evaluation: dict) -> tuple[list[str], list[list[str]]]:
    """Each bar, its figure per direction (met or not), and the pasted-average-face control beside it."""
    from fakebench.benchmarks.report import _fmt

    directions = list(evaluation["directions"])
    rows = []
    for title, get, bar, passes, control_key in BARS:
        cells = []
        for key in directions:
            m = evaluation["directions"][key]
            value = get(m)
            cell = f"{_fmt(value, 3)} {'met' if value is not None and passes(value) else 'MISSED'}"
            if control_key is not None:
                cell += f" (average face {_fmt(m['control_mean_face']['face_only'].get(control_key), 2)})"
            cells.append(cell)
        rows.append([title, bar, *cells])
    colours = []
    for key in directions:
        c = evaluation["directions"][key].get("colour")
        colours.append("-" if c is None else f"delta E {c['delta_e']:.1f} (L* {c['delta_L']:+.1f}, a* "
                                              f"{c['delta_a']:+.1f}, b* {c['delta_b']:+.1f})")
    rows.append(["colour: pasted skin minus the real skin, CIELAB means", "no channel visibly off (< 3)", *colours])
    return ["measure", "bar", *(f"{k} (driving -> pasted)" for k in directions)], rows


def identity_figure(evaluation: dict) -> bytes:
    from fakebench.benchmarks.report import _figure, _png

    measures = (("identity_share", "identity share"), ("control", "same, average face"),
                ("head_turn_corr", "head-turn corr"), ("mouth_corr", "mouth corr"))
    directions = list(evaluation["directions"])
    fig = _figure(7.0, 3.2)
    ax = fig.add_subplot(1, 1, 1)
    width = 0.8 / len(directions)
    for i, key in enumerate(directions):
        m = evaluation["directions"][key]
        values = [m["control_mean_face"]["identity_share"] if name == "control" else m.get(name) for name, _ in measures]
        values = [np.nan if v is None else v for v in values]
        ax.bar(np.arange(len(measures)) + i * width, values, width, label=f"{key} (driving -> pasted)")
    ax.set_xticks(np.arange(len(measures)) + width * (len(directions) - 1) / 2)
    ax.set_xticklabels([label for _, label in measures], fontsize=8)
    ax.axhline(0, color="k", lw=0.5)
    ax.set_ylim(-1, 1.05)
    ax.legend(fontsize=7)
    ax.set_title(f"step {evaluation['step']}, {evaluation['frames_per_direction']} held-out frames per direction",
                 fontsize=9)
    fig.tight_layout()
    return _png(fig)


def identity_table(evaluation: dict) -> tuple[list[str], list[list[str]]]:
    from fakebench.benchmarks.report import _fmt

    rows = []
    for key, m in evaluation["directions"].items():
        values = (m["identity_share"], m["control_mean_face"]["identity_share"], m["head_turn_corr"], m["mouth_corr"],
                  m["landmark_nme"], m["sharpness_ratio"], m["variation_ratio"])
        rows.append([key, *(_fmt(v, 2) for v in values), str(m["frames"])])
    return (["driving -> pasted", "identity share", "average-face control", "head-turn corr", "mouth corr",
             "landmark NME", "sharpness vs real", "variation vs real", "frames"], rows)


def blink_traces(demo: Demo) -> list[tuple[str, bytes]]:
    """EAR traces of a real A clip, its fake and a real B clip (the blink detector's own plot)."""
    from fakebench.datasets.index import frame_range, load_index
    from fakebench.detect.blink import BlinkDetector
    from fakebench.detect.score import track_for

    index = load_index(demo.index_path)
    test = index[index["split"] == "test"]
    picks = []
    for person in ("a", "b"):
        reals = test[(test["label"] == 0) & (test["target_id"] == person)]
        if reals.empty:
            continue
        real = reals.iloc[0]
        picks.append((f"real {person.upper()}", real))
        fakes = test[(test["label"] == 1) & (test["original_id"] == real["video_id"])]
        if person == "a" and not fakes.empty:
            picks.append((f"{person.upper()} wearing {fakes.iloc[0]['source_id'].upper()} (fake)", fakes.iloc[0]))
    detector = BlinkDetector()
    extractor = detector.request.extractor(device=demo.device)
    found = []
    for label, row in picks:
        start, stop = frame_range(row.to_dict())
        try:
            track = track_for(detector, row["path"], extractor, start=start, stop=stop)
            out = detector.plot(track, demo.figures / f"blink-{Path(row['path']).stem}-{start}.png")
        except FakebenchError as err:
            log.warning("no blink trace for %s: %s", row["video_id"], err)
            continue
        found.append((f"Blink trace: {label}", out.read_bytes()))
    return found


def training_table(demo: Demo) -> tuple[list[str], list[list[str]]]:
    import pandas as pd

    from fakebench.benchmarks.report import _fmt
    from fakebench.demo import CLASSIFIERS

    rows = []
    for name in ("artifacts", *CLASSIFIERS):
        path = demo.det_dir / name / "history.csv"
        if not path.is_file():
            continue
        for r in pd.read_csv(path).to_dict("records"):
            rows.append([name, str(r.get("epoch")), *(_fmt(r.get(k)) for k in ("train_loss", "val_auc", "fake_auc",
                                                                                "seconds"))])
    return ["detector", "epoch", "train loss", "validation AUC", "AUC on unseen fakes (watched only)", "seconds"], rows


def cross_method_table(demo: Demo) -> tuple[list[str], list[list[str]]]:
    """Every detector on the autoencoder's fakes and on the graphics swap's, each against every real test video."""
    from fakebench.benchmarks.report import _with_ci
    from fakebench.demo import CLASSIFIERS, METHODS

    doc = json.loads((demo.bench_dir / "metrics.json").read_text())
    clean = {(r["detector"], r["dataset"]): r for r in doc["metrics"]
             if r["perturbation"] == "none" and r["unit"] == "video"}
    trained = {"blink": "nothing (a heuristic)", "artifacts": "self-blended reals only, no deepfake",
               **{label: f"{method} fakes of the training segments" for label, method in CLASSIFIERS.items()}}
    rows = []
    for name in doc["detectors"]:
        cells = [_with_ci(clean.get((name, method), {}), "auc", 2) for method in METHODS]
        rows.append([name, trained.get(name, "-"), *cells])
    sizes = [f"{doc['datasets'].get(m, {}).get('fake', '?')} fakes" for m in METHODS]
    return ["detector", "trained on", *(f"{m} fakes ({n}) vs the real test videos" for m, n in zip(METHODS, sizes))], rows


def curve_table(demo: Demo) -> tuple[list[str], list[list[str]]]:
    from fakebench.benchmarks.report import _fmt

    doc = json.loads((demo.curve_dir / "curve.json").read_text())
    rows = [[p["detector"], str(p["step"]), f"{_fmt(p['auc'], 2)} [{_fmt(p['auc_lo'], 2)}, {_fmt(p['auc_hi'], 2)}]",
             str(p["n_real"]), str(p["n_fake"])] for p in sorted(doc["points"], key=lambda p: (p["detector"], p["step"]))]
    return ["detector", "generator step", "video AUC [95 % CI]", "real videos", "fake videos"], rows


def _face_box(mask: np.ndarray, pad: float = 0.35) -> tuple[int, int, int, int] | None:
    """A square box round the swapped region of a ``uint8 (H,W)`` mask, widened by ``pad``; None when empty."""
    ys, xs = np.nonzero(mask)
    if not len(xs):
        return None
    cx, cy = (xs.min() + xs.max()) / 2, (ys.min() + ys.max()) / 2
    half = (1 + pad) * max(xs.max() - xs.min(), ys.max() - ys.min()) / 2
    h, w = mask.shape
    x0, y0 = int(max(cx - half, 0)), int(max(cy - half, 0))
    return x0, y0, int(min(cx + half, w)), int(min(cy + half, h))


def _tile(image: np.ndarray, box: tuple[int, int, int, int], side: int) -> np.ndarray:
    """``box`` (x0, y0, x1, y1) of an ``uint8 (H,W,3)`` image, resized to ``side`` x ``side``."""
    import cv2

    x0, y0, x1, y1 = box
    return cv2.resize(np.ascontiguousarray(image[y0:y1, x0:x1]), (side, side), interpolation=cv2.INTER_AREA)


def _png_of(image: np.ndarray) -> bytes | None:
    """An ``uint8 (H,W,3)`` RGB image as PNG bytes."""
    import cv2

    ok, png = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return png.tobytes() if ok else None


def _sheet_rows(manifest_path: Path, pairs: int, side: int) -> list[np.ndarray]:
    """``pairs`` (input | fake) face crops, ``side`` px each, spread over one fake clip."""

    from fakebench.media import iter_frames

    manifest = json.loads(manifest_path.read_text())
    folder = manifest_path.parent
    masks = np.load(folder / manifest["masks"])["masks"]
    start = manifest["input"]["start_frame"]
    swapped = np.flatnonzero(masks.reshape(len(masks), -1).max(1) > 0)
    if not len(swapped):
        return []
    picks = swapped[np.linspace(0, len(swapped) - 1, pairs).round().astype(int)]
    fake = dict(iter_frames(folder / manifest["video"], picks.tolist()))
    real = dict(iter_frames(manifest["input"]["path"], (picks + start).tolist()))
    tiles = []
    for t in picks:
        box = _face_box(masks[t])
        tiles += [_tile(image, box, side) for image in (real[int(t + start)], fake[int(t)])]
    return tiles


def contact_sheets(demo: Demo, pairs: int = 4, side: int = 128) -> list[tuple[str, bytes]]:
    """Per swap method, a row per direction of (real input | fake) face pairs from the held-out test clips."""

    from fakebench.demo import METHODS

    found = []
    for method in METHODS:
        folder = demo.fakes / ("graphics" if method == "graphics" else "") / "test"
        rows, labels = [], []
        for direction in ("a-to-b", "b-to-a"):
            manifests = sorted(folder.glob(f"{direction}_*.json"))
            tiles = _sheet_rows(manifests[len(manifests) // 2], pairs, side) if manifests else []
            if tiles:
                rows.append(np.concatenate(tiles, axis=1))
                labels.append(direction)
        if not rows:
            continue
        width = max(r.shape[1] for r in rows)
        sheet = np.concatenate([np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows])
        png = _png_of(sheet)
        if png is not None:
            names = ", ".join(f"row {i + 1}: {d.replace('-to-', ' wearing ').upper()}" for i, d in enumerate(labels))
            found.append((f"Contact sheet, {method} swaps: real input | fake, pairs left to right ({names})",
                          png))
    return found


def colour_panel(demo: Demo, side: int = 160) -> bytes | None:
    """For one held-out frame each way: the real frame | the swap pasted without colour matching | matched with
    statistics over the whole landmark hull (the old way: its edge is background) | matched on the inner face (the
    default), with the skin's CIELAB difference to the real frame (delta E) under each."""
    import dataclasses

    import cv2

    from fakebench.faces.align import transform_points
    from fakebench.generate.convert import Swapper, colour_match, composite
    from fakebench.generate.evaluate import skin_lab
    from fakebench.media import iter_frames

    rows = []
    for direction in ("a-to-b", "b-to-a"):
        manifests = sorted((demo.fakes / "test").glob(f"{direction}_*.json"))
        if not manifests:
            continue
        manifest = json.loads(manifests[0].read_text())
        swapper = Swapper(demo.gen_run, manifest["identities"]["source"], device=demo.device)
        start = manifest["input"]["start_frame"]
        track = swapper.extractor().extract(manifest["input"]["path"], start=start, stop=start + 1, progress=False)
        if not track.has_face[0]:
            continue
        frame = next(iter(iter_frames(manifest["input"]["path"], [start])))[1]
        crops, affines = swapper.prepare(track.crops, track.affines)
        face = swapper.swap_crops(crops)[0]
        marks = track.landmarks[0]
        tiles = [frame, swapper.swap_frame(frame, face, crops[0], affines[0], marks)[0]]
        # before: no matching, and Reinhard with statistics over the whole hull (its edge is background)
        hull = np.zeros(crops[0].shape[:2], np.uint8)
        cv2.fillConvexPoly(hull, cv2.convexHull(np.round(transform_points(marks, affines[0])).astype(np.int32)), 1)
        whole = colour_match(face, crops[0], hull.astype(bool), "reinhard")
        plain = dataclasses.replace(swapper.settings, colour="none")
        tiles[1:1] = [composite(frame, face, affines[0], marks, plain)[0],
                      composite(frame, whole, affines[0], marks, plain)[0]]
        mask = np.zeros(frame.shape[:2], np.uint8)
        cv2.fillConvexPoly(mask, cv2.convexHull(np.round(marks).astype(np.int32)), 255)
        box = _face_box(mask, pad=0.6)
        real = skin_lab(frame, marks)
        row = []
        for k, image in enumerate(tiles):
            tile = np.concatenate([_tile(image, box, side), np.full((22, side, 3), 255, np.uint8)])
            d = skin_lab(image, marks) - real
            text = ("real", "none", "whole hull", "inner face")[k] + ("" if k == 0 else f" dE {np.linalg.norm(d):.1f}")
            cv2.putText(tile, text, (4, side + 16), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
            row.append(tile)
        rows.append(np.concatenate(row, axis=1))
    if not rows:
        return None
    return _png_of(np.concatenate(rows))
