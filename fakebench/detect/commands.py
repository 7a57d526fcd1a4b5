"""The ``fakebench detect`` subcommands: list the detectors, score files."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from fakebench.cliargs import common_options, device_seed_options, exit_status, input_failed
from fakebench.errors import FakebenchError

log = logging.getLogger("fakebench.detect")


def register(commands: argparse._SubParsersAction) -> None:
    detect = commands.add_parser("detect", help="deepfake detectors: list them, score videos and images",
                                 description="Deepfake detectors behind one interface; each gives P(fake) in [0, 1].")
    actions = detect.add_subparsers(dest="action", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="the registered detectors",
                                 description="List the registered detectors and what they need.")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    common_options(listing)
    listing.set_defaults(func=cmd_list)

    score = actions.add_parser(
        "score", help="score videos or images with one detector",
        description="Extract the faces the detector asks for (cached by file content), score each input and print "
                    "one row per input: P(fake), the frames used and the detector's own evidence.")
    score.add_argument("inputs", nargs="+", type=Path, metavar="PATH", help="video or image files")
    score.add_argument("--detector", required=True, help="detector name (see `fakebench detect list`)")
    score.add_argument("--weights", type=Path, help="trained weights or settings file written by the detector's save")
    score.add_argument("--json", action="store_true", help="print one JSON object per input on stdout")
    score.add_argument("--plot", type=Path, metavar="OUT.png",
                       help="draw the detector's evidence (blink: the EAR trace with blinks marked); with several "
                            "inputs one file per input, OUT-<input>.png")
    score.add_argument("--no-cache", action="store_true", help="do not read or write the face cache")
    score.add_argument("--out", type=Path, help="also write the results as JSON lines to this file")
    device_seed_options(score)
    common_options(score)
    score.set_defaults(func=cmd_score)

    train = actions.add_parser(
        "train", help="train a CNN detector on face crops (artifacts: reals only; classifier: reals and fakes)",
        description="Train a CNN detector on aligned face crops and write OUT/best.pt (best validation AUC), "
                    "OUT/last.pt (resume point), history.csv, summary.json. Validation holds out whole videos (or "
                    "identity folders for stills). Running the same command again resumes an interrupted run.")
    train.add_argument("--detector", required=True, help="artifacts or classifier (see `fakebench detect list`)")
    train.add_argument("--real", nargs="+", type=Path, required=True, metavar="PATH",
                       help="real faces: videos, images, folders of them, or `faces extract` folders")
    train.add_argument("--fake", nargs="+", type=Path, metavar="PATH",
                       help="fake faces (the classifier needs them; the artifacts detector makes its own)")
    train.add_argument("--out", type=Path, required=True, help="run folder for the checkpoints")
    train.add_argument("--backbone", default="tf_efficientnet_lite0",
                       help="timm model name (default tf_efficientnet_lite0: offline ImageNet weights)")
    train.add_argument("--weights", type=Path, help="initialise the backbone from this local state dict")
    train.add_argument("--size", type=int, default=224, help="input size in pixels (default 224; 128 trains ~3x faster on CPU)")
    train.add_argument("--frames", type=int, default=32, help="face crops per video (default 32, spread evenly)")
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
    from fakebench.detect import DETECTORS

    rows = []
    for name in DETECTORS.names():
        cls = DETECTORS.get(name)
        req = cls.request
        sampling = f"{req.count} frames" if req.count else f"every {req.every or 1} frame(s)"
        rows.append({"name": name, "level": "frame" if cls.frame_level else "video",
                     "input": "video" if cls.needs_video else "video or image",
                     "faces": f"{req.size}px, {sampling}", "about": (cls.__doc__ or "").strip().splitlines()[0]})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        print(f"{row['name']:<12} {row['level']:<6} {row['input']:<15} {row['faces']:<22} {row['about']}")
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from fakebench.detect import build
    from fakebench.detect.score import extractor_for, score_file
    from fakebench.runtime import seed_everything

    seed_everything(args.seed)
    detector = build(args.detector, weights=args.weights)
    if args.plot is not None and not hasattr(detector, "plot"):
        raise FakebenchError(f"detector {args.detector!r} draws no plot; drop --plot")
    extractor = extractor_for(detector, device=args.device, use_cache=not args.no_cache)
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
        row = {"path": str(path), "detector": detector.name, "score": round(result.score, 4),
               "frames_used": result.frames_used, "evidence": result.evidence, **({"plot": plot} if plot else {})}
        results.append(row)
        if args.json:
            print(json.dumps(row))
        else:
            print(f"{path}\t{row['score']:.3f}\t{row['frames_used']} frames\t{_headline(result.evidence)}")
    if args.out is not None and results:
        from fakebench.files import atomic_path

        with atomic_path(args.out) as tmp:
            tmp.write_text("".join(json.dumps(r) + "\n" for r in results))
    return exit_status(failed, len(args.inputs))


def _headline(evidence: dict) -> str:
    """The few evidence values worth a table column (lists and long values stay in --json)."""
    keep = [f"{k}={v}" for k, v in evidence.items() if isinstance(v, (int, float, str)) and k not in ("fps", "min_seconds")]
    flags = evidence.get("flags") or []
    return "  ".join(keep + [f"[{f}]" for f in flags])


def cmd_train(args: argparse.Namespace) -> int:
    from fakebench.detect import DETECTORS
    from fakebench.detect.cnn import CNNConfig, CNNDetector
    from fakebench.detect.training import FaceSet, TrainConfig, collect_faces, fit_detector

    cls = DETECTORS.get(args.detector)
    if not issubclass(cls, CNNDetector):
        raise FakebenchError(f"detector {args.detector!r} has nothing to train; trainable: "
                             f"{', '.join(n for n in DETECTORS.names() if issubclass(DETECTORS.get(n), CNNDetector))}")
    if args.detector == "classifier" and not args.fake:
        raise FakebenchError("the classifier learns real vs fake, so it needs fake faces: add --fake PATH... (generated "
                             "videos or a data set's fakes); the artifacts detector trains on reals alone")
    for name, value in (("--size", args.size), ("--frames", args.frames), ("--epochs", args.epochs), ("--batch", args.batch)):
        if value < 1:
            raise FakebenchError(f"{name} must be a positive integer, got {value}")
    config = CNNConfig(backbone=args.backbone, input_size=args.size, frames=args.frames,
                       aux_boundary=args.detector == "artifacts" and not args.no_boundary)
    detector = cls(config=config, device=args.device, seed=args.seed, init_weights=args.weights)
    progress = not args.quiet
    real = FaceSet.from_tracks(collect_faces(args.real, detector, device=args.device, progress=progress), 0)
    fake = None
    if args.fake:
        if args.detector == "artifacts":
            log.info("the artifacts detector trains on self-blended reals only; the --fake faces are scored against "
                     "the held-out reals each epoch (fake_auc) and never trained on")
        fake = FaceSet.from_tracks(collect_faces(args.fake, detector, device=args.device, progress=progress), 1)
    log.info("%d real crops from %d sources%s", len(real), len(set(real.groups)),
             f", {len(fake)} fake crops from {len(set(fake.groups))} sources" if fake is not None else "")
    train = TrainConfig(epochs=args.epochs, batch_size=args.batch, lr=args.lr, minutes=args.minutes,
                        augment=not args.no_augment, seed=args.seed)
    blend = args.detector == "artifacts"
    summary = fit_detector(detector, real=real, fake=None if blend else fake, out=args.out, config=train,
                           progress=progress, watch_fake=fake if blend else None)
    print(json.dumps({k: summary[k] for k in ("out", "epochs_done", "epochs", "best_val_auc", "finished",
                                              "train_crops", "val_crops")}))
    return 0
