"""``fakebench bench run``: detectors x data sets x perturbations -> a run folder.

A benchmark config (YAML, ``BenchConfig``)::

    detectors:
      - {name: blink, perturb: false}                          # clean videos only (it reads every frame)
      - {name: artifacts, weights: runs/artifacts/best.pt}
      - {name: classifier, label: tiny, config: {backbone: test_efficientnet, input_size: 32, frames: 8}}
    datasets:
      - {name: ff, index: indexes/ff.parquet, split: test}      # an index file (relative to this file)
      - {name: samples, layout: samples}                       # or a layout (+ root, options) indexed now
    perturbations:
      - {name: jpeg, levels: [1, 3, 5]}
      - {name: h264}                                           # levels 1..5
    perturb_on: frames                                         # or crops (fast mode, see perturb.py)
    metrics: {bootstrap: 2000, ci: 0.95}                        # (+ aggregation: max to re-aggregate frame rows)
    seed: 0

Every (detector, video, perturbation, level) is one unit of work. Its result (the sampled frame
numbers, the frame scores, the video score) is cached under ``<cache>/bench`` keyed by the
detector (name, weights sha256, config, the faces it asks for), the video's content hash and frame
range, the perturbation, level, mode and seed, and the fingerprint of the code that scores it
(``fakebench.fingerprint``: fakebench version, detector code, face pipeline, perturbation code): an
interrupted run picks up where it stopped, a second run of the same config only reads the cache, the
tables it writes are identical either way, and a change of that code scores again. Each detector's
folder keeps the fingerprint its units were last scored under (``fingerprints.json``), so the run
logs why a unit was not read from the cache: new, code changed (which part), or --fresh.

The run folder is fakebench's own (``outputs.output_folder``: a folder of someone else's is refused,
one run per folder at a time; ``--overwrite`` empties only a folder fakebench wrote). Every file in it
and every cached unit is written atomically and durably, so a run killed anywhere resumes, when the
same command runs again, to the tables of an uninterrupted run; a cached unit that is damaged (cut
short by something else) is scored again, with one warning line per detector.

The run folder::

    config.yaml          the effective config (absolute paths): `bench run --config RUN/config.yaml` repeats it
    env.json             commit, package versions, device, seed, start/end time
    videos.parquet       the index rows that were scored (dataset = the name in this run)
    predictions.parquet  detector, dataset, split, video_id, frame (-1 = video level), label, score, perturbation, level
    metrics.json         schema_version, per (detector, dataset, perturbation, level, unit) the metrics with CIs,
                         DeLong comparisons, the split of each data set, failures
    metrics.csv          the metric rows, flat

Video rows (frame -1) hold the detector's own verdict on the video, from the same function that
``detect score`` uses (``detect.score.judge``): a frame-level detector's frame scores aggregated with
its own aggregation, a clip-level detector's (blink) ``explain`` score; a video where no face is
found scores 0.5. The video-level metrics read these rows (``metrics.aggregation`` re-aggregates the
frame rows instead, when set). Frame rows exist for frame-level detectors only; a sampled frame
without a face has score NaN.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fakebench.datasets.index import frame_range
from fakebench.errors import ConfigError, FakebenchError, MediaError

if TYPE_CHECKING:
    import pandas as pd

    from fakebench.detect.base import Detector

log = logging.getLogger("fakebench.benchmarks")

SCHEMA_VERSION = 1
CACHE_VERSION = 2  # 2: unit keys include the code fingerprint
COLUMNS = ("detector", "dataset", "split", "video_id", "frame", "label", "score", "perturbation", "level")
CLEAN = "none"


# -- the config ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DetectorSpec:
    name: str  # a detector (`fakebench detect list`), pkg.module:Class or path/to/file.py:Class (relative to this file)
    weights: str | None = None  # trained weights / settings file (relative to the config file)
    label: str = ""  # its name in the tables; default: name (give one when a detector appears twice)
    config: dict[str, Any] = field(default_factory=dict)  # options of the detector's config class (no weights)
    perturb: bool = True  # also score it under the perturbations (false: clean only, e.g. a slow every-frame detector)


@dataclass(frozen=True)
class DatasetSpec:
    name: str = ""  # its name in the tables; default: the index's dataset name, else the file name
    index: str | None = None  # an index file (.parquet/.csv from `fakebench data index`)
    layout: str | None = None  # or a layout indexed at run time (`fakebench data index --help` lists them)
    root: str | None = None
    options: dict[str, Any] = field(default_factory=dict)  # layout options, e.g. {compression: c23}
    split: str | None = None  # train, val, test or all; default: test where the index has a test split, else all
    limit: int | None = None  # at most this many real and this many fake videos (a seeded draw): quick runs


@dataclass(frozen=True)
class PerturbationSpec:
    name: str  # see fakebench.benchmarks.perturb
    levels: tuple[int, ...] = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class MetricsConfig:
    # video-level metrics read each detector's own video score; or re-aggregate the frame rows: mean, max, confident
    aggregation: str | None = None
    bootstrap: int = 2000  # replicates for the confidence intervals (0: none)
    ci: float = 0.95
    frame_intervals: tuple[str, ...] = ("auc",)  # frame-level metrics that get an interval (video level: all)


@dataclass(frozen=True)
class ThroughputConfig:
    videos: int = 0  # time each detector on this many videos of the first data set after scoring (0: skip)
    max_frames: int = 300  # frames per video at most (every-frame detectors would hold whole videos in memory)


@dataclass(frozen=True)
class BenchConfig:
    detectors: tuple[DetectorSpec, ...]
    datasets: tuple[DatasetSpec, ...]
    perturbations: tuple[PerturbationSpec, ...] = ()  # the clean videos are always scored too
    perturb_on: str = "frames"  # frames (before face detection, as a viewer sees them) or crops (fast mode)
    metrics: MetricsConfig = MetricsConfig()
    throughput: ThroughputConfig = ThroughputConfig()
    seed: int = 0


def load_bench_config(path: str | os.PathLike) -> BenchConfig:
    """Read a benchmark YAML; relative paths in it are taken from the file's folder."""
    from fakebench.config import load_config

    path = Path(path)
    config = load_config(BenchConfig, path)
    return check_config(resolve_paths(config, path.parent))


def resolve_paths(config: BenchConfig, base: Path) -> BenchConfig:
    def absolute(value: str | None) -> str | None:
        if value is None:
            return None
        p = Path(value).expanduser()
        return str(p if p.is_absolute() else (base / p).resolve())

    def detector(name: str) -> str:  # path/to/file.py:Class is taken from the config's folder too
        target, sep, attr = name.rpartition(":")
        return f"{absolute(target)}:{attr}" if sep and target.endswith(".py") else name

    return replace(config,
                   detectors=tuple(replace(d, name=detector(d.name), weights=absolute(d.weights))
                                   for d in config.detectors),
                   datasets=tuple(replace(d, index=absolute(d.index), root=absolute(d.root)) for d in config.datasets))


def check_config(config: BenchConfig) -> BenchConfig:
    """Refuse what cannot run, naming the entry: no detectors, two sources for a data set, unknown names."""
    from fakebench.benchmarks import perturb
    from fakebench.detect.base import aggregate

    if not config.detectors:
        raise ConfigError("benchmark config: no detectors; add e.g. `detectors: [{name: blink}]`")
    if not config.datasets:
        raise ConfigError("benchmark config: no datasets; add e.g. `datasets: [{index: my-index.parquet}]`")
    labels = [d.label or d.name for d in config.detectors]
    dup = sorted({x for x in labels if labels.count(x) > 1})
    if dup:
        raise ConfigError(f"benchmark config: detector {dup[0]!r} is listed twice; give each a `label:` to tell them apart")
    from fakebench.detect.factory import make_config, resolve

    for i, d in enumerate(config.detectors):
        if d.weights and d.config:
            raise ConfigError(f"detector {d.name}: give weights or config, not both (the weights carry their config)")
        make_config(resolve(d.name), d.config or None, where=f"detectors[{i}] ({d.name}) config")  # typos fail here
    for i, d in enumerate(config.datasets):
        if (d.index is None) == (d.layout is None):
            raise ConfigError(f"datasets[{i}]: give exactly one of index (a file) or layout (+ root); got "
                              f"{'both' if d.index else 'neither'}")
        if d.split not in (None, "train", "val", "test", "all"):
            raise ConfigError(f"datasets[{i}]: split {d.split!r}; expected train, val, test or all")
        if d.limit is not None and d.limit < 1:
            raise ConfigError(f"datasets[{i}]: limit {d.limit}; expected a positive number of videos per label")
    for p in config.perturbations:
        if p.name == CLEAN:
            raise ConfigError("perturbations: 'none' is always scored; list only the perturbations")
        for level in p.levels:
            perturb.check(p.name, level)
        if 0 in p.levels:
            raise ConfigError(f"perturbation {p.name}: level 0 is the clean video, scored anyway; use levels 1..5")
    if config.perturb_on not in perturb.MODES:
        raise ConfigError(f"perturb_on {config.perturb_on!r}; expected frames or crops")
    if config.metrics.aggregation is not None:
        aggregate([0.5], config.metrics.aggregation)
    if config.metrics.bootstrap < 0 or not 0 < config.metrics.ci < 1:
        raise ConfigError(f"metrics: bootstrap {config.metrics.bootstrap}, ci {config.metrics.ci}; expected "
                          "bootstrap >= 0 replicates and 0 < ci < 1")
    return config


# -- data sets and detectors -------------------------------------------------------------------------

@dataclass
class Dataset:
    name: str
    videos: pd.DataFrame  # the index rows to score
    info: dict  # where it came from and which split


def load_dataset(spec: DatasetSpec, seed: int = 0) -> Dataset:
    """The index rows a data set entry asks for, and what the run records about its split."""
    from fakebench.datasets import index_layout, load_index

    if spec.index is not None:
        df = load_index(spec.index)
        source = {"index": spec.index}
    else:
        df = index_layout(spec.layout, spec.root, **spec.options)
        source = {"layout": spec.layout, "root": spec.root, "options": dict(spec.options)}
    names = sorted(df["dataset"].unique())
    name = spec.name or (names[0] if len(names) == 1 else Path(spec.index or spec.layout).stem)
    split = spec.split or ("test" if (df["split"] == "test").any() else "all")
    chosen = df if split == "all" else df[df["split"] == split]
    if chosen.empty:
        have = ", ".join(sorted(f"{s or '(none)'}: {n}" for s, n in df["split"].value_counts().items()))
        raise FakebenchError(f"data set {name}: no videos in split {split!r} ({have}); set `split: all` or split the "
                             "index with `fakebench data split`")
    if spec.limit is not None:
        rng = np.random.default_rng(seed)
        keep = []
        for label in (0, 1):
            rows = np.flatnonzero(chosen["label"].to_numpy() == label)
            keep += sorted(rng.permutation(rows)[:spec.limit].tolist())
        chosen = chosen.iloc[sorted(keep)]
    splits_applied = df.attrs.get("splits", []) if isinstance(df.attrs, dict) else []
    by = splits_applied[-1].get("by") if splits_applied else None
    info = {**source, "split": split, "split_by": by or ("none" if split == "all" else "layout"),
            "splits_applied": splits_applied, "videos": len(chosen), "real": int((chosen["label"] == 0).sum()),
            "fake": int((chosen["label"] == 1).sum()), "index_videos": len(df)}
    if split == "all" and (df["split"] == "train").any():
        log.warning("data set %s: scoring all %d videos including the train split; set `split: test` unless no "
                    "detector here was trained on it", name, len(chosen))
    return Dataset(name, chosen.reset_index(drop=True), info)


@dataclass
class BuiltDetector:
    label: str
    detector: Detector
    identity: dict  # what the cache key rests on (its folder: code-independent)
    code: dict = field(default_factory=dict)  # fingerprint.code_fingerprint of its class, perturbation part included

    @property
    def key(self) -> str:
        from fakebench.files import stable_hash

        return stable_hash(self.identity)


def build_detector(spec: DetectorSpec, device: str = "auto", seed: int = 0) -> BuiltDetector:
    """The detector of a config entry (``detect.create``), with the identity its cached results are filed under."""
    from fakebench.config import to_dict
    from fakebench.detect.factory import create, resolve, warn_if_untrained, weights_file
    from fakebench.files import sha256_file

    entry = resolve(spec.name)
    weights = weights_file(spec.weights) if spec.weights else None
    detector = create(spec.name, weights=weights, config=spec.config or None, device=device, seed=seed)
    warn_if_untrained(detector, weights, spec.label or entry.name,
                      "pass `weights:` from `fakebench detect train`, or a published checkpoint")
    config = getattr(detector, "config", None)
    identity = {"detector": spec.name, "weights_sha256": sha256_file(weights) if weights else None,
                "config": to_dict(config) if config is not None else None, "request": asdict(detector.request),
                "seed": seed if weights is None else None}
    if entry.origin != "built-in":  # a plug-in's results are filed under its class too
        identity["class"] = f"{entry.cls.__module__}.{entry.cls.__qualname__}"
    from fakebench import fingerprint

    code = fingerprint.code_fingerprint(type(detector), perturbed=True)
    return BuiltDetector(spec.label or entry.name, detector, identity, code)


# -- one unit of work ----------------------------------------------------------------------------------

@dataclass
class Unit:
    """One video (row of an index) scored by one detector under one perturbation level."""

    row: dict
    perturbation: str
    level: int


def unit_key(built: BuiltDetector, content: str, row: dict, perturbation: str, level: int, mode: str, seed: int,
             *, code: bool = True) -> str:
    """The unit's cache key; ``code=False``: the same without the code fingerprint (the ledger's key)."""
    from fakebench.files import stable_hash
    from fakebench.fingerprint import for_unit

    start, stop = frame_range(row)
    return stable_hash({"v": CACHE_VERSION, "detector": built.key, "content": content, "start": start, "stop": stop,
                        "perturbation": perturbation, "level": level,
                        "mode": mode if perturbation != CLEAN else None,
                        "seed": seed if perturbation != CLEAN else None,
                        **({"code": for_unit(built.code, perturbation != CLEAN)} if code else {})}, length=32)


class Scorer:
    """Scores units for one detector: clean from the face cache, perturbed through temporary files."""

    def __init__(self, built: BuiltDetector, *, device: str = "auto", mode: str = "frames", seed: int = 0,
                 workdir: Path, use_face_cache: bool = True):
        self.built = built
        self.detector = built.detector
        self.mode = mode
        self.seed = seed
        request = self.detector.request
        self.extractor = request.extractor(device=device, use_cache=use_face_cache)
        self.scratch = request.extractor(device=device, use_cache=False)  # perturbed frames: never cached
        self.workdir = workdir

    def score(self, row: dict, perturbation: str, level: int) -> dict:
        """The cache record of one unit: sampled frames, frame scores (None = NaN), video score, notes."""
        from fakebench.detect.score import track_for

        path = row["path"]
        start, stop = frame_range(row)
        t0 = time.perf_counter()
        if perturbation == CLEAN:
            track = track_for(self.detector, path, self.extractor, start=start, stop=stop)
        elif self.mode == "crops":
            track = self._perturbed_crops(path, start, stop, perturbation, level)
        else:
            track = self._perturbed_frames(path, start, stop, perturbation, level)
        record = self._judge(track)
        record["seconds"] = round(time.perf_counter() - t0, 3)
        return record

    def _judge(self, track) -> dict:
        from fakebench.detect.score import judge

        result = judge(self.detector, track)
        scores = result.frame_scores
        return {"v": CACHE_VERSION, "frames": [int(f) for f in track.frames],
                "scores": None if scores is None else [None if not np.isfinite(s) else float(s) for s in scores],
                "video_score": result.score, "sampled": len(track), "with_face": track.n_with_face,
                "flags": [str(f) for f in result.evidence.get("flags", [])]}

    def _sampled(self, path: str, start: int, stop: int | None) -> np.ndarray:
        from fakebench.media import probe_video

        return self.detector.request.indices(probe_video(path).n_frames, start, stop)

    def _perturbed_frames(self, path: str, start: int, stop: int | None, name: str, level: int):
        from fakebench.benchmarks import perturb
        from fakebench.media import is_image, probe_video, read_image

        key = perturb.video_key(path)
        if is_image(path):
            image = perturb.perturb_frames(read_image(path)[None], name, level, seed=self.seed, key=key)
            return self.scratch.extract_frames(image, [0], fps=0.0, source=str(path))
        wanted = self._sampled(path, start, stop)
        info = probe_video(path)
        suffix = ".mkv" if perturb.DISTORTIONS[name].per_frame else ".mp4"
        with tempfile.TemporaryDirectory(prefix="perturbed-", dir=self.workdir) as tmp:
            target = Path(tmp) / f"{Path(path).stem}.{name}{level}{suffix}"  # the name log lines show
            out, source_frames = perturb.write_perturbed(path, target, name, level, wanted, seed=self.seed, key=key,
                                                         start=start, stop=stop)
            positions = np.flatnonzero(np.isin(source_frames, wanted))
            if len(positions) == 0:
                raise MediaError(f"{path}: none of the sampled frames decode; the file is damaged, re-encode it")
            track = self.scratch.extract(out, indices=positions, progress=False)
        track.frames = source_frames[track.frames]
        track.source = str(path)
        track.n_video_frames = info.n_frames
        track.fps = info.fps
        return track

    def _perturbed_crops(self, path: str, start: int, stop: int | None, name: str, level: int):
        from fakebench.benchmarks import perturb
        from fakebench.detect.score import track_for

        clean = track_for(self.detector, path, self.extractor, start=start, stop=stop)
        crops = clean.crops.copy()
        keep = clean.has_face
        if keep.any():
            crops[keep] = perturb.perturb_frames(clean.crops[keep], name, level, seed=self.seed,
                                                 key=perturb.video_key(path), indices=clean.frames[keep],
                                                 fps=clean.fps or 25.0)
        return replace(clean, crops=crops)


# -- the run ------------------------------------------------------------------------------------------

def _cache_dir() -> Path:
    from fakebench.files import cache_root

    return cache_root() / "bench"


DAMAGED = "damaged"  # _read_record's answer for a file that is there but not a record (cut short)


def _read_record(path: Path) -> dict | str | None:
    """A cached unit; None when there is none (or of an older cache version), ``DAMAGED`` when it is unreadable."""
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return DAMAGED
    if not isinstance(record, dict) or "v" not in record:
        return DAMAGED
    if record["v"] != CACHE_VERSION:
        return None
    return record if "video_score" in record else DAMAGED


def _rows_of(record: dict, label: str, dataset: str, row: dict, perturbation: str, level: int) -> list[tuple]:
    base = (label, dataset, row["split"], row["video_id"])
    tail = (perturbation, level)
    out = [(*base, -1, int(row["label"]), record["video_score"], *tail)]
    if record.get("scores") is not None:
        for frame, score in zip(record["frames"], record["scores"]):
            out.append((*base, int(frame), int(row["label"]), math.nan if score is None else score, *tail))
    return out


def predictions_frame(rows: list[tuple]) -> pd.DataFrame:
    import pandas as pd

    df = pd.DataFrame(rows, columns=list(COLUMNS))
    df = df.astype({"detector": str, "dataset": str, "split": str, "video_id": str, "frame": "int64", "label": "int64",
                    "score": "float64", "perturbation": str, "level": "int64"})
    return df.sort_values(["detector", "dataset", "perturbation", "level", "video_id", "frame"],
                          kind="stable").reset_index(drop=True)


def score_all(config: BenchConfig, datasets: list[Dataset], *, device: str = "auto", progress: bool = True,
              fresh: bool = False, workdir: Path) -> tuple[pd.DataFrame, list[dict], dict]:
    """Score every unit (cached), return the predictions table, the failures and the time spent per detector."""
    from tqdm import tqdm

    from fakebench.files import content_key, write_json
    from fakebench.fingerprint import PARTS, Ledger, for_unit

    cache = _cache_dir()
    all_levels = [(CLEAN, 0)] + [(p.name, lv) for p in config.perturbations for lv in p.levels]
    rows: list[tuple] = []
    failures: list[dict] = []
    seconds: dict[str, dict] = {}
    for spec in config.detectors:
        built = build_detector(spec, device=device, seed=config.seed)
        det = built.detector
        seconds[built.label] = {"aggregation": det.aggregation if det.frame_level else "detector",
                                "thresholds": getattr(det, "thresholds", None)}
        scorer = Scorer(built, device=device, mode=config.perturb_on, seed=config.seed, workdir=workdir)
        folder = cache / built.key
        ledger = Ledger(folder / "fingerprints.json")  # the code each unit was last scored under: why it is scored again
        spent = {"units": 0, "computed": 0, "cached": 0, "seconds": 0.0, "why": {}, "code_changed": []}
        why: dict[str, int] = {}
        damaged: list[Path] = []
        changed: set[str] = set()
        levels = all_levels if spec.perturb else all_levels[:1]
        for ds in datasets:
            records = ds.videos.to_dict("records")
            bar = tqdm(total=len(records) * len(levels), desc=f"{built.label} x {ds.name}", unit="unit",
                       disable=not progress)
            for row in records:
                try:
                    content = content_key(row["path"])
                except OSError as err:
                    failures.append({"detector": built.label, "dataset": ds.name, "video_id": row["video_id"],
                                     "perturbation": "*", "level": -1, "error": f"{row['path']}: {err.strerror or err}"})
                    log.warning("%s: cannot read %s (%s); skipped", ds.name, row["path"], err.strerror or err)
                    bar.update(len(levels))
                    continue
                for name, level in levels:
                    key = unit_key(built, content, row, name, level, config.perturb_on, config.seed)
                    plain = unit_key(built, content, row, name, level, config.perturb_on, config.seed, code=False)
                    code = for_unit(built.code, name != CLEAN)
                    path = folder / key[:2] / f"{key}.json"
                    record = None if fresh else _read_record(path)
                    if record == DAMAGED:
                        damaged.append(path)
                        record = None
                    if record is None:
                        reason, parts = ("--fresh", []) if fresh else ledger.why(plain, code)
                        try:
                            record = scorer.score(row, name, level)
                        except FakebenchError as err:
                            failures.append({"detector": built.label, "dataset": ds.name, "video_id": row["video_id"],
                                             "perturbation": name, "level": level, "error": str(err)})
                            log.warning("%s %s (%s %d): %s", built.label, row["video_id"], name, level, err)
                            bar.update(1)
                            continue
                        write_json(path, record)
                        spent["computed"] += 1
                        spent["seconds"] += record.get("seconds", 0.0)
                        why[reason] = why.get(reason, 0) + 1
                        changed.update(parts)
                    else:
                        spent["cached"] += 1
                    ledger.note(plain, code)
                    spent["units"] += 1
                    rows += _rows_of(record, built.label, ds.name, row, name, level)
                    bar.update(1)
            bar.close()
        ledger.save()
        if damaged:
            log.warning("%s: %d cached unit(s) were damaged (cut short by something else?) and were scored again "
                        "(the first: %s)", built.label, len(damaged), damaged[0])
        spent["seconds"] = round(spent["seconds"], 2)
        spent["why"] = {r: why[r] for r in ("new", "code changed", "missing", "--fresh") if r in why}
        spent["code_changed"] = [label for label in PARTS.values() if label in changed]
        seconds[built.label].update(spent)
        said = ", ".join(f"{n} {r}" + (f": {', '.join(spent['code_changed'])}" if r == "code changed" else "")
                         for r, n in spent["why"].items())
        log.info("%s: %d units: %d from the cache, %d computed%s", built.label, spent["units"], spent["cached"],
                 spent["computed"], f" ({said})" if said else "")
    return predictions_frame(rows), failures, seconds


def run(config: BenchConfig, out: str | os.PathLike, *, device: str = "auto", progress: bool = True,
        fresh: bool = False, overwrite: bool = False) -> dict:
    """Run the benchmark into the folder ``out`` and return metrics.json's content.

    ``out`` is claimed and locked first (``outputs.output_folder``); ``overwrite``: a run of another
    config in ``out`` is cleared (only ever a folder fakebench wrote) instead of refused.
    """
    from fakebench import outputs

    with outputs.output_folder(out, "a benchmark run"):
        return run_in_folder(config, out, device=device, progress=progress, fresh=fresh, overwrite=overwrite)


def run_in_folder(config: BenchConfig, out: str | os.PathLike, *, device: str = "auto", progress: bool = True,
                  fresh: bool = False, overwrite: bool = False) -> dict:
    """``run`` for a caller that holds ``out`` already (``outputs.output_folder``), e.g. to add files of its own."""
    import datetime

    import pandas as pd

    from fakebench.benchmarks import metrics as metrics_mod
    from fakebench.config import save_config, to_dict
    from fakebench.files import atomic_path, write_json
    from fakebench.runtime import env_info, resolve_device, seed_everything

    out = Path(out)
    config = check_config(config)
    _claim_folder(out, config, overwrite)
    seed_everything(config.seed)
    device = resolve_device(device)
    env = {**env_info(device, config.seed), "started": _now(datetime)}
    datasets = [load_dataset(spec, config.seed) for spec in config.datasets]
    names = [d.name for d in datasets]
    if len(set(names)) != len(names):
        raise ConfigError(f"two data sets are named {sorted({n for n in names if names.count(n) > 1})[0]!r}; give each "
                          "a `name:`")
    videos = pd.concat([d.videos.rename(columns={"dataset": "index_dataset"}).assign(dataset=d.name) for d in datasets],
                       ignore_index=True)
    videos = _with_sources(videos)
    with tempfile.TemporaryDirectory(prefix="fakebench-bench-") as scratch:
        predictions, failures, spent = score_all(config, datasets, device=device, progress=progress, fresh=fresh,
                                                 workdir=Path(scratch))
    if predictions.empty:
        raise FakebenchError(f"no unit could be scored ({len(failures)} failures; the first: "
                             f"{failures[0]['error'] if failures else '-'})")
    m = config.metrics
    sources = {label: work["aggregation"] for label, work in spent.items()}
    groups = dict(zip(zip(videos["dataset"], videos["video_id"]), videos["source_group"]))
    thresholds = {label: work.get("thresholds") for label, work in spent.items() if work.get("thresholds")}
    table, comparisons = metrics_mod.evaluate(predictions, aggregation=m.aggregation, n_boot=m.bootstrap, ci=m.ci,
                                              seed=config.seed, frame_intervals=m.frame_intervals, progress=progress,
                                              sources=sources, groups=groups, thresholds=thresholds)
    false_positives = metrics_mod.false_positives(predictions, videos, thresholds, aggregation=m.aggregation,
                                                  sources=sources)
    own = {how for how in sources.values() if how != "detector"}
    result = {"schema_version": SCHEMA_VERSION, "created": _now(datetime),
              "aggregation": m.aggregation or (own.pop() if len(own) == 1 else "per detector"),
              "video_scores": "reaggregated" if m.aggregation else "detector",
              "bootstrap": m.bootstrap, "ci": m.ci, "perturb_on": config.perturb_on,
              "datasets": {d.name: d.info for d in datasets}, "detectors": {
                  b.label or b.name: {"name": b.name, "weights": b.weights, "config": b.config} for b in config.detectors},
              "resampled": "source group", "metrics": table, "comparisons": comparisons,
              "false_positives": false_positives, "failures": failures, "work": spent,
              "config": to_dict(config)}
    # the tables are written once all is computed: until then (killed, a full disk) the folder keeps the last run's
    _write_parquet(videos, out / "videos.parquet")
    _write_parquet(predictions, out / "predictions.parquet")
    write_json(out / "metrics.json", _json_safe(result))
    with atomic_path(out / "metrics.csv") as tmp:
        pd.DataFrame(table).to_csv(tmp, index=False)
    if config.throughput.videos > 0:
        from fakebench.benchmarks import throughput

        paths = [str(p) for p in datasets[0].videos["path"].head(config.throughput.videos)]
        throughput.measure_config(config, paths, out, device=device, max_frames=config.throughput.max_frames,
                                  progress=progress)
    env["finished"] = _now(datetime)
    write_json(out / "env.json", env)
    save_config(config, out / "config.yaml")
    return result


def _with_sources(videos: pd.DataFrame) -> pd.DataFrame:
    """The scored videos with their source group (the bootstrap's unit) and content key (the gate's match).

    ``content``: sha256 of the file (memoised) and the frame range, e.g. ``<sha>:0-240``; empty when
    the file cannot be read (the unit fails and is listed with the failures).
    """
    from fakebench.datasets.index import source_groups
    from fakebench.files import content_key

    keys = []
    for row in videos.to_dict("records"):
        try:
            start, stop = frame_range(row)
            keys.append(f"{content_key(row['path'])}:{start}-{'' if stop is None else stop}")
        except OSError:
            keys.append("")
    return videos.assign(source_group=source_groups(videos).to_numpy(), content=keys)


def _claim_folder(out: Path, config: BenchConfig, overwrite: bool) -> None:
    """A run folder holds one config: refuse to mix another one into it unless asked to overwrite (then clear it).

    A ``config.yaml`` that does not parse, or is a cut-short copy of this config's, is damaged, not
    another config: it is written again, with a warning.
    """
    import yaml

    from fakebench import outputs
    from fakebench.config import save_config, to_dict

    previous = out / "config.yaml"
    ours = yaml.safe_dump(to_dict(config), sort_keys=False)
    if previous.is_file():
        try:
            text = previous.read_text()
            old = yaml.safe_load(text)
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            text, old = "", None
        if old != json.loads(json.dumps(to_dict(config))):
            if not isinstance(old, dict) or ours.startswith(text):
                log.warning("%s is damaged (cut short by something else?); writing it again", previous)
            elif overwrite:
                outputs.clear(out, "a benchmark run")
                log.info("%s: cleared the run of another config (--overwrite)", out)
            else:
                raise FakebenchError(f"{out} holds a run of another config ({previous}); use a new --out folder, or "
                                     "--overwrite to replace it (cached predictions are reused either way)")
    save_config(config, previous)  # atomically: a resume reads it first


def _write_parquet(df: pd.DataFrame, path: Path) -> None:
    from fakebench.files import atomic_path

    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)


def _now(datetime) -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _json_safe(value):
    """NaN/inf -> None, numpy scalars -> Python, recursively (metrics.json is strict JSON)."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def read_run(folder: str | os.PathLike) -> tuple[pd.DataFrame, dict]:
    """``(predictions, metrics.json)`` of a run folder, checked."""
    import pandas as pd

    folder = Path(folder)
    need = [folder / "predictions.parquet", folder / "metrics.json"]
    missing = [p.name for p in need if not p.is_file()]
    if missing:
        raise FakebenchError(f"{folder}: not a finished benchmark run (no {', '.join(missing)}); run `fakebench bench "
                             "run --config bench.yaml --out RUN` (again: it resumes)")
    try:
        metrics = json.loads((folder / "metrics.json").read_text())
        predictions = pd.read_parquet(folder / "predictions.parquet")
    except (OSError, ValueError) as err:
        raise FakebenchError(f"{folder}: unreadable run files ({err}); run the benchmark again") from err
    version = metrics.get("schema_version")
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise FakebenchError(f"{folder}/metrics.json: schema_version {version!r}; this fakebench reads up to "
                             f"{SCHEMA_VERSION}: upgrade fakebench")
    return predictions, metrics
