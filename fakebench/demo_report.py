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
                             ("Stage timings", "table", timings_table(demo))]
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
        f"fakes cut from the held-out segments and converted both ways, their real clips, and C, D, E (people no "
        f"model saw). {index['train_real']} real and {index['train_fake']} fake clips of the training segments "
        "train the classifier only.",
        "What it can show: whether each detector separates these fakes from these reals, with intervals that say how "
        "little a handful of videos pins down (read the interval, not the point; at perfect separation the "
        "bootstrap interval collapses to [1.00, 1.00], which is the method's limit on few videos, not certainty). "
        "The artifacts CNN never saw a "
        "deepfake (self-blended reals only): its figure is a cross-generator one. The classifier saw fakes from the "
        "same generator and the same two people (other segments of the same videos): its figure is within-generator "
        "and flatters it.",
        "What it cannot show: anything about other people, other generators or other compression. For that, index "
        "FaceForensics++, Celeb-DF or DFDC with `fakebench data index` and score them with `fakebench bench run`. "
        "Confounds here: A and B's clips (real and fake) come from two videos, C, D, E from others, so a detector can "
        "partly tell footage apart instead of fakes; the data set `pairs` (A/B only: every fake beside the real clip "
        "it was made from) removes that help, compare its rows with `demo`'s. B blinks about twice a minute on "
        "camera, so the blink heuristic "
        "calls real B fake; clips shorter than 10 s leave it undecided (0.5).",
        f"The swaps: {_pairs(shares)} of fake frames are nearer the pasted person than the driving one in dlib's "
        f"face embedding, but the same pipeline pasting a fixed average face scores {_pairs(controls)}, so that share "
        "proves little; head-turn and mouth correlations (below) say whether the face follows the driving video. "
        "A few minutes of CPU training give blurry faces that follow head pose better than expression.",
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
        rows.append([name, f"{entry['seconds']:.1f}", json.dumps(detail)[:160]])
    return ["stage", "seconds", "details"], rows


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
    from fakebench.detect.score import extractor_for, track_for

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
    extractor = extractor_for(detector, device=demo.device)
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

    rows = []
    for name in ("artifacts", "classifier"):
        path = demo.det_dir / name / "history.csv"
        if not path.is_file():
            continue
        for r in pd.read_csv(path).to_dict("records"):
            rows.append([name, str(r.get("epoch")), *(_fmt(r.get(k)) for k in ("train_loss", "val_auc", "fake_auc",
                                                                                "seconds"))])
    return ["detector", "epoch", "train loss", "validation AUC", "AUC on unseen fakes (watched only)", "seconds"], rows
