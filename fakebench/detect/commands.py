"""The ``fakebench detect`` subcommands: list the detectors, check one against the contract, score files, train."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from fakebench.cliargs import (
    command_group,
    common_options,
    device_seed_options,
    exit_status,
    input_failed,
    per_input_options,
    write_results,
)
from fakebench.errors import FakebenchError

log = logging.getLogger("fakebench.detect")


def register(commands: argparse._SubParsersAction) -> None:
    actions = command_group(
        commands, "detect", help="deepfake detectors: list, check, score, train",
        description="Deepfake detectors behind one interface; each gives P(fake) in [0, 1]. Wherever a "
                    "detector is named, a built-in name, an installed plug-in (entry point group "
                    "fakebench.detectors), pkg.module:Class or path/to/file.py:Class is accepted.")

    listing = actions.add_parser("list", help="the detectors: built-in and plug-ins, and where each comes from",
                                 description="List the detectors (built-in and installed plug-ins), what they need and "
                                             "where each comes from; plug-ins that fail to load get one line each.")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    common_options(listing)
    listing.set_defaults(func=cmd_list)

    check = actions.add_parser(
        "check", help="run the detector contract against one detector (built-in or plug-in)",
        description="Run the contract every detector must meet on synthetic face tracks: scores in [0, 1], deterministic "
                    "with a seed, batch == loop, one frame works, bad inputs refused, save/load round trip, foreign "
                    "files refused. One pass/fail line per check; exit status 1 when any check fails.")
    check.add_argument("detector", metavar="NAME", help="detector name, pkg.module:Class or path/to/file.py:Class")
    check.add_argument("--weights", type=Path, help="check the detector loaded from these weights")
    check.add_argument("--small", action="store_true",
                       help="CNN detectors at a 64 px input (fast on a CPU; the interface is the same)")
    check.add_argument("--json", action="store_true", help="print the results as JSON")
    device_seed_options(check)
    common_options(check)
    check.set_defaults(func=cmd_check)

    score = actions.add_parser(
        "score", help="score videos or images with one detector",
        description="Extract the faces the detector asks for (cached by file content), score each input and print "
                    "one row per input: P(fake), the frames used and the detector's own evidence.")
    score.add_argument("inputs", nargs="+", type=Path, metavar="PATH", help="video or image files")
    score.add_argument("--detector", required=True,
                       help="detector name (see `fakebench detect list`), pkg.module:Class or path/to/file.py:Class")
    score.add_argument("--weights", type=Path, help="weights: written by `detect train` (file or its --out folder), by the "
                                                    "detector's save, or a published checkpoint (sbi: FFc23.tar)")
    per_input_options(score)  # --json, --no-cache, --out
    score.add_argument("--plot", type=Path, metavar="OUT.png",
                       help="draw the detector's evidence (blink: the EAR trace with blinks marked); with several "
                            "inputs one file per input, OUT-<input>.png")
    device_seed_options(score)
    common_options(score)
    score.set_defaults(func=cmd_score)

    train = actions.add_parser(
        "train", help="train a detector on face crops (artifacts: reals only; classifier: reals and fakes)",
        description="Train a detector on aligned face crops through its fit (CNN detectors write OUT/best.pt (best "
                    "validation AUC), OUT/last.pt (resume point), history.csv, summary.json). Validation holds out whole "
                    "videos (or identity folders for stills). Running the same command again resumes an interrupted "
                    "run. `fakebench detect list` says what each detector trains on.")
    train.add_argument("--detector", required=True,
                       help="a trainable detector (see `fakebench detect list`), pkg.module:Class or file.py:Class")
    train.add_argument("--real", nargs="+", type=Path, required=True, metavar="PATH",
                       help="real faces: videos, images, folders of them, or `faces extract` folders")
    train.add_argument("--fake", nargs="+", type=Path, metavar="PATH",
                       help="fake faces (the classifier needs them; the artifacts detector makes its own)")
    train.add_argument("--out", type=Path, required=True,
                       help="run folder for the checkpoints: new, empty or one fakebench wrote (locked while training)")
    train.add_argument("--backbone", help="CNN detectors: timm model name (default tf_efficientnet_lite0: offline ImageNet "
                                          "weights)")
    train.add_argument("--weights", type=Path, help="CNN detectors: initialise the backbone from this local state dict")
    train.add_argument("--size", type=int, help="input size in pixels (CNN default 224; 128 trains ~3x faster on CPU)")
    train.add_argument("--frames", type=int, help="face crops per video (CNN default 32, spread evenly)")
    train.add_argument("--config", action="append", default=[], metavar="KEY=VALUE",
                       help="any option of the detector's config (YAML value), repeatable: --config aggregation=max")
    train.add_argument("--epochs", type=int, default=3)
    train.add_argument("--batch", type=int, default=32, help="batch size (default 32)")
    train.add_argument("--lr", type=float, default=3e-4, help="AdamW learning rate (default 3e-4)")
    train.add_argument("--minutes", type=float, default=0.0,
                       help="stop after this many minutes, checkpointed (run again to continue); default no limit")
    train.add_argument("--no-augment", action="store_true", help="no JPEG/blur/noise/resize/colour augmentation")
    train.add_argument("--no-boundary", action="store_true", help="artifacts: no blending-boundary head")
    device_seed_options(train)
    common_options(train)
    train.set_defaults(func=cmd_train)


def cmd_list(args: argparse.Namespace) -> int:
    from fakebench.detect.factory import available, create

    entries, broken = available()
    rows = []
    for entry in entries:
        cls = entry.cls
        try:  # the request can depend on the config (crop size, frames): ask a default instance
            req = create(entry.name).request
        except FakebenchError:
            req = cls.request
        sampling = f"{req.count} frames" if req.count else f"every {req.every or 1} frame(s)"
        rows.append({"name": entry.name, "level": "frame" if cls.frame_level else "video",
                     "input": "video" if cls.needs_video else "video or image",
                     "faces": f"{req.size}px, {sampling}", "trains_on": cls.trains_on or "-", "origin": entry.origin,
                     "about": (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""})
    for b in broken:
        log.warning("%s", b.line())
    if args.json:
        print(json.dumps({"detectors": rows, "broken": [{"name": b.name, "origin": b.origin, "error": b.error}
                                                         for b in broken]} if broken else rows, indent=2))
        return 0
    print(f"{'NAME':<20} {'LEVEL':<6} {'INPUT':<15} {'FACES':<22} {'TRAINS ON':<10} {'FROM':<28} ABOUT")
    for row in rows:
        origin = row["origin"]
        if origin.startswith("entry point"):  # the full line (entry point = value) is in --json
            origin = "plug-in " + origin.rpartition("distribution ")[2]
        print(f"{row['name']:<20} {row['level']:<6} {row['input']:<15} {row['faces']:<22} {row['trains_on']:<10} "
              f"{origin:<28} {row['about']}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from fakebench.detect.contract import run_contract

    results = run_contract(args.detector, weights=args.weights, small=args.small, device=args.device, seed=args.seed)
    if args.json:
        print(json.dumps([{"check": r.check, "ok": r.ok, "detail": r.detail} for r in results], indent=2))
    else:
        for r in results:
            print(f"{'pass' if r.ok else 'FAIL'}  {r.check:<28} {r.detail}")
    sys.stdout.flush()
    failed = [r for r in results if not r.ok]
    if failed:
        log.error("%s: %d of %d checks failed", args.detector, len(failed), len(results))
        return 1
    log.info("%s: all %d checks passed", args.detector, len(results))
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from fakebench import outputs
    from fakebench.detect.base import rounded
    from fakebench.detect.factory import create, warn_if_untrained
    from fakebench.detect.score import score_file
    from fakebench.runtime import seed_everything

    seed_everything(args.seed)
    if args.out is not None:  # refused before any work: a file fakebench did not write is never replaced
        outputs.check_file(args.out)
    detector = create(args.detector, weights=args.weights, device=args.device, seed=args.seed)
    warn_if_untrained(detector, args.weights, args.detector, "pass --weights")
    if args.plot is not None and not hasattr(detector, "plot"):
        raise FakebenchError(f"detector {args.detector!r} draws no plot; drop --plot")
    extractor = detector.request.extractor(device=args.device, use_cache=not args.no_cache)
    failed = 0
    results = []
    for path in args.inputs:
        try:
            result, track = score_file(detector, path, extractor, progress=not args.quiet)
            plot = None
            if args.plot is not None:
                target = args.plot if len(args.inputs) == 1 else args.plot.with_name(f"{args.plot.stem}-{path.stem}.png")
                plot = str(detector.plot(track, target))
        except FakebenchError as err:
            input_failed(err, args)
            failed += 1
            continue
        for flag in result.evidence.get("flags", []):
            log.warning("%s: %s", path, flag)
        evidence = dict(result.evidence)
        if result.frame_scores is not None:
            evidence["frame_scores"] = rounded(result.frame_scores)
        row = {"path": str(path), "detector": detector.name, "score": round(result.score, 4),
               "frames_used": result.frames_used, "evidence": evidence, **({"plot": plot} if plot else {}),
               **_verdicts(result.score, getattr(detector, "thresholds", None))}
        results.append(row)
        if args.json:
            print(json.dumps(row))
        else:
            verdict = (f"\t{row['verdict']} at 0.5, {row['verdict_fpr5']} at {row['threshold_fpr5']:.3f} (5 % FPR on "
                       "held-out reals)" if "verdict_fpr5" in row else "")
            print(f"{path}\t{row['score']:.3f}{verdict}\t{row['frames_used']} frames\t{_headline(result.evidence)}")
    write_results(args.out, results)
    return exit_status(failed, len(args.inputs))


def _verdicts(score: float, thresholds: dict | None) -> dict:
    """For a calibrated detector: fake or real at 0.5 and at its 5 % FPR threshold (above = fake)."""
    if not thresholds:
        return {}
    return {"verdict": "fake" if score > 0.5 else "real", "verdict_fpr5": "fake" if score > thresholds["fpr5"] else "real",
            "threshold_fpr5": round(thresholds["fpr5"], 4)}


def _headline(evidence: dict) -> str:
    """The few evidence values worth a table column (lists and long values stay in --json)."""
    keep = [f"{k}={v}" for k, v in evidence.items() if isinstance(v, (int, float, str)) and k not in ("fps", "min_seconds")]
    flags = evidence.get("flags") or []
    return "  ".join(keep + [f"[{f}]" for f in flags])


def cmd_train(args: argparse.Namespace) -> int:
    from fakebench.detect.factory import create, needs_fakes_message, resolve
    from fakebench.detect.training import FaceSet, TrainConfig, collect_faces

    entry = resolve(args.detector)
    if entry.cls.trains_on is None:
        from fakebench.detect.factory import available

        trainable = [e.name for e in available()[0] if e.cls.trains_on]
        raise FakebenchError(f"detector {args.detector!r} has nothing to train; trainable: {', '.join(trainable)}")
    if entry.cls.trains_on == "real+fake" and not args.fake:
        raise FakebenchError(needs_fakes_message(entry.name))
    for name, value in (("--size", args.size), ("--frames", args.frames), ("--epochs", args.epochs), ("--batch", args.batch)):
        if value is not None and value < 1:
            raise FakebenchError(f"{name} must be a positive integer, got {value}")
    from fakebench import outputs

    if args.out.exists():  # a foreign folder is refused before the faces are extracted, not after
        outputs.claim(args.out, "a detector training run")
    options = {"init_weights": args.weights} if args.weights is not None else {}
    detector = create(args.detector, config=_train_config(entry, args) or None, device=args.device, seed=args.seed,
                      **options)
    progress = not args.quiet
    real = FaceSet.from_tracks(collect_faces(args.real, detector, device=args.device, progress=progress), 0)
    fake = None
    if args.fake:
        if entry.cls.trains_on == "real":
            log.info("detector %s trains on real faces only; the --fake faces are scored against the held-out reals "
                     "each epoch (fake_auc) and never trained on", entry.name)
        fake = FaceSet.from_tracks(collect_faces(args.fake, detector, device=args.device, progress=progress), 1)
    log.info("%d real crops from %d sources%s", len(real), len(set(real.groups)),
             f", {len(fake)} fake crops from {len(set(fake.groups))} sources" if fake is not None else "")
    train = TrainConfig(epochs=args.epochs, batch_size=args.batch, lr=args.lr, minutes=args.minutes,
                        augment=not args.no_augment, seed=args.seed)
    summary = detector.fit(real, fake, out=args.out, config=train, progress=progress)
    keys = ("out", "epochs_done", "epochs", "best_val_auc", "finished", "train_crops", "val_crops", "skipped_crops")
    print(json.dumps({k: summary[k] for k in keys if k in summary} if isinstance(summary, dict) else summary,
                     default=str))
    return 0


def _train_config(entry, args: argparse.Namespace) -> dict:
    """The detector config options the train flags set; a flag the detector has no option for is refused."""
    import dataclasses

    import yaml

    config_class = entry.cls.config_class
    fields = {f.name for f in dataclasses.fields(config_class)} if config_class is not None else set()
    flags = {"--backbone": ("backbone", args.backbone), "--size": ("input_size", args.size),
             "--frames": ("frames", args.frames), "--no-boundary": ("aux_boundary", False if args.no_boundary else None)}
    options = {}
    for flag, (key, value) in flags.items():
        if value is None:
            continue
        if key not in fields:
            raise FakebenchError(f"detector {entry.name!r} has no {key} option; drop {flag}")
        options[key] = value
    for item in args.config:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise FakebenchError(f"--config {item!r}: expected KEY=VALUE, e.g. --config aggregation=max")
        options[key] = yaml.safe_load(text)
    return options
