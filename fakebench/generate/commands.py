"""The ``fakebench generate`` subcommands: train, convert, evaluate, preview.

Heavy modules (torch, OpenCV, dlib) are imported inside the commands, so ``--help`` answers at once.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from fakebench.cliargs import command_group, common_options, device_seed_options
from fakebench.errors import ConfigError

log = logging.getLogger("fakebench.generate")


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``fakebench generate ...`` to the top-level parser."""
    actions = command_group(
        commands, "generate", help="train the face-swap autoencoder and swap faces into videos (learned or graphics swap)",
        description="The classic deepfake generator: one encoder shared by all identities, one decoder per "
                    "identity. Train it on videos of two people, then convert a video of one into the other.")

    # train -----------------------------------------------------------------------------------------
    train = actions.add_parser(
        "train", help="train (or resume) a run folder on faces of two or more people",
        description="Train the shared encoder and one decoder per identity on faces extracted from videos, images or "
                    "folders of images (through the face cache). The last quarter of each video is held out for "
                    "validation, previews and evaluation. RUN gets config.yaml, env.json, data.json, log.csv, "
                    "checkpoint.pt and preview.png; if RUN already has a checkpoint, training resumes from it "
                    "(inputs may then be left out). Ctrl-C or SIGTERM saves a checkpoint and stops; a killed run "
                    "resumes from its last checkpoint when the same command is run again. RUN must be new, empty or "
                    "a fakebench folder, and one job writes it at a time.")
    train.add_argument("--a", nargs="+", metavar="PATH", default=[], help="inputs showing identity 'a'")
    train.add_argument("--b", nargs="+", metavar="PATH", default=[], help="inputs showing identity 'b'")
    train.add_argument("--identity", action="append", default=[], metavar="NAME=PATH",
                       help="inputs of another identity (repeatable, e.g. --identity carol=c.mp4)")
    train.add_argument("--out", type=Path, required=True, metavar="RUN", help="run folder")
    train.add_argument("--config", type=Path, metavar="YAML", help="start from this TrainConfig YAML (e.g. a run's "
                                                                  "config.yaml); options below override it")
    train.add_argument("--steps", type=int, help="train until this total step count")
    train.add_argument("--minutes", type=float, help="stop after this many minutes (default 10 when --steps is not given)")
    model = train.add_argument_group("model (fixed for a run)")
    model.add_argument("--size", type=int, choices=(64, 128), help="face size in pixels (default 64)")
    model.add_argument("--width", type=int, help="channels of the first conv (default 64; the original model: 128)")
    model.add_argument("--latent", type=int, help="bottleneck size (default 512; the original model: 1024)")
    opts = train.add_argument_group("training")
    opts.add_argument("--batch", type=int, help="faces of each identity per step (default 8)")
    opts.add_argument("--lr", type=float, help="Adam learning rate, the schedule's peak (default 6e-4)")
    opts.add_argument("--priority", type=float, help="extra loss weight on eyes and mouth (default 2; 0 = off)")
    opts.add_argument("--background", type=float, metavar="W",
                      help="loss weight off the face hull, in [0, 1] (default 0.1; 1: the whole crop alike)")
    opts.add_argument("--schedule", choices=("constant", "cosine"),
                      help="learning-rate schedule: cosine down to --lr-final x lr over the budget (default) or constant")
    opts.add_argument("--warmup", type=int, metavar="STEPS", help="linear learning-rate warm-up (default 100)")
    opts.add_argument("--lr-final", type=float, metavar="F", help="cosine's last learning rate, a fraction of --lr")
    opts.add_argument("--perceptual", type=float, metavar="W",
                      help="weight of the ImageNet-feature loss term (default 0: off)")
    opts.add_argument("--adversarial", type=float, metavar="W",
                      help="weight of the patch-discriminator term (the GAN variant; default 0.1; 0: off)")
    opts.add_argument("--adversarial-from", type=float, metavar="F",
                      help="fraction of the budget before the adversarial term starts (default 0.25)")
    opts.add_argument("--warp-until", type=float, metavar="F",
                      help="fraction of the budget after which the grid warp stops (default 0.7; 1: never)")
    opts.add_argument("--precision", choices=("auto", "fp32", "bf16"),
                      help="auto (default): bf16 autocast on CUDA and on CPUs with native bf16, else fp32")
    opts.add_argument("--compile", action="store_const", const=True, help="torch.compile the training step")
    opts.add_argument("--save-every", type=int, help="steps between checkpoints, previews and validations (default 200)")
    opts.add_argument("--snapshot-every", type=int, help="also keep checkpoints/step-N.pt every N steps (default 0: off)")
    opts.add_argument("--snapshots", type=_fractions, metavar="F,F",
                      help="also keep a snapshot when these fractions of the budget are spent, e.g. 0.25,0.5")
    data = train.add_argument_group("data")
    data.add_argument("--stride", type=int, help="take every N-th video frame (default 4)")
    data.add_argument("--held-out", type=float, help="fraction at the end of each video kept out of training (default 0.25)")
    data.add_argument("--min-faces", type=int, help="fewest training faces per identity (default 64)")
    train.add_argument("--workers", type=int, help="threads warping faces ahead of each step (default: 0 on CPU, up to 8 "
                                                    "on CUDA); results do not depend on it")
    train.add_argument("--json", action="store_true", help="print the result as JSON")
    device_seed_options(train)
    train.set_defaults(seed=None)  # None: keep the run's seed (0 for a new run)
    common_options(train)
    train.set_defaults(func=cmd_train)

    # convert ---------------------------------------------------------------------------------------
    convert = actions.add_parser(
        "convert", help="swap a face into a video (fake + masks + manifest): a trained identity, or a donor video's face",
        description="For each frame of the segment with a face, put another face in; frames without a face pass "
                    "through. --method autoencoder (default): align the face, encode it, decode it as --to (a run "
                    "trained by `generate train`). --method graphics (no training): take the --donor frame with the "
                    "nearest head pose, warp its face onto this face's 68 landmarks (Delaunay triangles). Either way: "
                    "colour-match, mask (landmark hull, feathered; --mask-erode shrinks it), paste back and blend. "
                    "Writes OUT (.mp4, same fps, size and frame count as the segment), OUT's .masks.npz (uint8 (T,H,W) "
                    "0/255) and .json manifest beside it.")
    convert.add_argument("--method", default="autoencoder", metavar="NAME",
                         help="autoencoder (default; needs --run and --to) or graphics (needs --donor and --source)")
    convert.add_argument("--video", type=Path, required=True, help="the driving video")
    convert.add_argument("--out", type=Path, required=True, help="output video, .mp4")
    convert.add_argument("--start", type=int, default=0, help="first frame to convert (default 0)")
    convert.add_argument("--stop", type=int, help="frame to stop before (default: the end)")
    convert.add_argument("--from", dest="driving", metavar="NAME",
                         help="who is in the video, for the manifest (default: found from the run's inputs, else unknown)")
    autoencoder = convert.add_argument_group("--method autoencoder")
    autoencoder.add_argument("--run", type=Path, help="run folder made by `fakebench generate train`")
    autoencoder.add_argument("--to", metavar="NAME", help="identity whose face is pasted in (e.g. b)")
    _checkpoint_options(autoencoder)
    graphics = convert.add_argument_group("--method graphics")
    graphics.add_argument("--donor", type=Path, metavar="PATH", help="video (or image) whose face is pasted in")
    graphics.add_argument("--donor-start", type=int, metavar="N", help="first donor frame to take faces from (default 0)")
    graphics.add_argument("--donor-stop", type=int, metavar="N", help="donor frame to stop before (default: the end)")
    graphics.add_argument("--source", metavar="NAME", help="who the donor is, for the manifest and the index (e.g. b)")
    graphics.add_argument("--donor-frames", type=int, metavar="N",
                          help="donor frames to choose from, spread over its range (default 240)")
    graphics.add_argument("--stickiness", type=float, metavar="U",
                          help="keep the last donor frame while it is within U pose units of the best (default 0.5)")
    _blend_options(convert, per_method=True)
    convert.add_argument("--codec", choices=("h264", "mp4v"), default="h264",
                         help="h264 (default; tags the file as synthetic in its metadata) or mp4v")
    convert.add_argument("--crf", type=int, default=18, help="h264 quality, 0 lossless .. 51 (default 18)")
    convert.add_argument("--detect-every", type=int, default=1,
                         help="detect faces every K-th frame, landmarks follow in between (default 1)")
    convert.add_argument("--no-mark", dest="mark", action="store_const", const=False,
                         help="leave out the invisible provenance mark (for studies of its effect; the manifest says so)")
    convert.add_argument("--json", action="store_true", help="print the manifest")
    device_seed_options(convert)
    common_options(convert)
    convert.set_defaults(func=cmd_convert)

    # evaluate --------------------------------------------------------------------------------------
    evaluate = actions.add_parser(
        "evaluate", help="measure swap quality on held-out frames (identity, landmarks, content following)",
        description="On held-out frames of each identity, swap every other identity in and measure: dlib "
                    "face-recognition identity share (with a mean-face control), landmark distance, head-turn and "
                    "mouth-opening agreement with the driving face, variation and sharpness against real faces, and "
                    "reconstruction L1. Writes RUN/eval-step-N.json.")
    evaluate.add_argument("--run", type=Path, required=True, help="run folder")
    evaluate.add_argument("--frames", type=int, default=48, help="held-out frames per direction (default 48)")
    _checkpoint_options(evaluate)
    _blend_options(evaluate)
    evaluate.add_argument("--json", action="store_true", help="print the full report as JSON")
    device_seed_options(evaluate)
    common_options(evaluate)
    evaluate.set_defaults(func=cmd_evaluate)

    # preview ---------------------------------------------------------------------------------------
    preview = actions.add_parser(
        "preview", help="draw the preview grid of a run's latest checkpoint",
        description="Held-out faces of each identity, their reconstruction and their swaps (A, A->A, A->B, B, B->B, "
                    "B->A), as one PNG.")
    preview.add_argument("--run", type=Path, required=True, help="run folder")
    preview.add_argument("--out", type=Path, help="PNG to write (default RUN/preview.png)")
    device_seed_options(preview)
    common_options(preview)
    preview.set_defaults(func=cmd_preview)


def _checkpoint_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--checkpoint", type=Path, help="a checkpoint file (default RUN/checkpoint.pt, the latest)")
    group.add_argument("--step", type=int, help="the snapshot RUN/checkpoints/step-N.pt (needs --snapshot-every)")


def _blend_options(parser: argparse.ArgumentParser, per_method: bool = False) -> None:
    """The blending flags; ``per_method``: left None when not given, so the swap method's defaults apply."""
    group = parser.add_argument_group("blending")
    graphics = " (--method graphics: {})" if per_method else ""
    group.add_argument("--blend", choices=("alpha", "seamless"), default=None if per_method else "alpha",
                       help="alpha (default) or Poisson blending (cv2.seamlessClone)" + graphics.format("seamless"))
    group.add_argument("--colour", choices=("reinhard", "hist", "none"), default=None if per_method else "reinhard",
                       help="colour match to the driving face: Reinhard LAB mean/std (default), histogram, none")
    group.add_argument("--mask-erode", type=float, default=None if per_method else 0.02,
                       help="shrink the landmark hull by this fraction of the face size (default 0.02; 0: replace all "
                            "of it)"
                            + graphics.format("0.05"))
    group.add_argument("--mask-blur", type=float, default=None if per_method else 0.1,
                       help="feather width, fraction of face size (default 0.1)")


def _checkpoint_path(args: argparse.Namespace) -> Path | None:
    if getattr(args, "step", None) is not None:
        path = args.run / "checkpoints" / f"step-{args.step:06d}.pt"
        if not path.exists():
            have = sorted(p.stem for p in (args.run / "checkpoints").glob("step-*.pt"))
            raise ConfigError(f"--step {args.step}: no snapshot {path}; snapshots here: {', '.join(have) or 'none'} "
                              "(train with --snapshot-every N to keep them)")
        return path
    return args.checkpoint


def _settings(args: argparse.Namespace, **extra):
    from fakebench.generate.convert import settings_from

    return settings_from({"blend": args.blend, "colour": args.colour, "mask_erode": args.mask_erode,
                          "mask_blur": args.mask_blur, **extra})


def _fractions(text: str) -> tuple[float, ...]:
    """``"0.25,0.5"`` -> ``(0.25, 0.5)`` (argparse type: a bad value is one line)."""
    try:
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected fractions separated by commas, e.g. 0.25,0.5; got {text!r}") from err


def _identities(args: argparse.Namespace) -> dict[str, list[str]] | None:
    identities: dict[str, list[str]] = {}
    if args.a:
        identities["a"] = list(args.a)
    if args.b:
        identities["b"] = list(args.b)
    for item in args.identity:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise ConfigError(f"--identity {item!r}: expected NAME=PATH, e.g. --identity carol=carol.mp4")
        identities.setdefault(name, []).append(path)
    return identities or None


def train_config_from_args(args: argparse.Namespace, identities: dict | None):
    """The run's stored config (resuming), else --config or the defaults; explicit options override it."""
    import dataclasses

    from fakebench.config import load_config
    from fakebench.generate.train import CHECKPOINT, TrainConfig, load_run_config

    if (args.out / CHECKPOINT).exists():
        config = load_run_config(args.out)
    elif args.config is not None:
        config = load_config(TrainConfig, args.config)
    else:
        config = TrainConfig()
    model = {k: v for k, v in {"size": args.size, "width": args.width, "latent": args.latent}.items() if v is not None}
    if identities and not (args.out / CHECKPOINT).exists():
        model["identities"] = tuple(identities)
    data = {k: v for k, v in {"stride": args.stride, "held_out": args.held_out, "min_faces": args.min_faces}.items()
            if v is not None}
    top = {k: v for k, v in {"batch": args.batch, "lr": args.lr, "priority": args.priority, "precision": args.precision,
                             "compile": args.compile, "seed": args.seed, "snapshot_every": args.snapshot_every,
                             "background": args.background, "schedule": args.schedule, "warmup": args.warmup,
                             "lr_final": args.lr_final, "perceptual": args.perceptual, "warp_until": args.warp_until,
                             "adversarial": args.adversarial, "adversarial_from": args.adversarial_from,
                             "snapshots": args.snapshots}.items()
           if v is not None}
    if args.save_every is not None:
        top.update(save_every=args.save_every, val_every=args.save_every, preview_every=args.save_every)
    try:
        return dataclasses.replace(config, model=dataclasses.replace(config.model, **model),
                                   data=dataclasses.replace(config.data, **data), **top)
    except (TypeError, ValueError) as err:
        raise ConfigError(str(err)) from err


def cmd_train(args: argparse.Namespace) -> int:
    from fakebench.generate.train import CHECKPOINT, Trainer

    identities = _identities(args)
    resuming = (args.out / CHECKPOINT).exists()
    if identities is None and not resuming:
        raise ConfigError("no inputs: give the faces of each identity, e.g. --a a.mp4 --b b1.mp4 b2.mp4")
    if identities is not None and len(identities) < 2:
        raise ConfigError(f"got inputs for {list(identities)} only: a swap needs at least two identities (--a and --b)")
    config = train_config_from_args(args, identities)
    minutes = args.minutes
    if args.steps is None and minutes is None:
        minutes = 10.0
        log.info("no --steps or --minutes given: training for %g minutes", minutes)
    trainer = Trainer(config, args.out, device=args.device, progress=not args.quiet, workers=args.workers)
    try:
        result = trainer.setup(identities).fit(steps=args.steps, minutes=minutes)
    finally:
        trainer.close()
    summary = {"run": str(result.run), "step": result.step, "stopped": result.stopped, "loss": result.loss,
               "faces_per_s": None if result.faces_per_s is None else round(result.faces_per_s, 1),
               "minutes": round(result.seconds / 60, 2), **{k: round(v, 4) for k, v in result.val.items()}}
    if args.json:
        print(json.dumps(summary))
    else:
        val = ", ".join(f"{k} {v:.4f}" for k, v in result.val.items())
        print(f"{result.run}\tstep {result.step}\t{result.stopped}\tloss {result.loss}\t"
              f"{summary['faces_per_s']} faces/s\t{val}")
    return 130 if result.stopped == "interrupted" else 0


def cmd_convert(args: argparse.Namespace) -> int:
    from fakebench import outputs
    from fakebench.config import to_dict
    from fakebench.generate import methods, provenance
    from fakebench.generate.convert import check_out, convert_with, settings_from

    check_out(args.out)
    written = list(provenance.output_paths(args.out).values())  # the video, its masks, its manifest
    for path in written:  # each replaced only if fakebench wrote it and nobody changed it since
        outputs.check_file(path)
    methods.load_methods()
    given = {"blend": args.blend, "colour": args.colour, "mask_erode": args.mask_erode, "mask_blur": args.mask_blur,
             "codec": args.codec, "crf": args.crf, "detect_every": args.detect_every, "mark": args.mark}
    defaults = to_dict(methods.METHODS.get(args.method).default_settings)
    settings = settings_from({**defaults, **{k: v for k, v in given.items() if v is not None}})
    if args.step is not None and args.run is None:
        raise ConfigError(f"--step {args.step} picks a snapshot of a run: give --run RUN (with --method autoencoder)")
    checkpoint = _checkpoint_path(args) if args.run is not None else args.checkpoint
    method = methods.build(args.method, run=args.run, to=args.to, checkpoint=checkpoint, donor=args.donor,
                           donor_start=args.donor_start, donor_stop=args.donor_stop, source=args.source,
                           donor_frames=args.donor_frames, stickiness=args.stickiness, settings=settings,
                           device=args.device)
    manifest = convert_with(method, args.video, out=args.out, start=args.start, stop=args.stop, driving=args.driving,
                            progress=not args.quiet)
    for path in written:
        outputs.record_file(path)
    if args.json:
        print(json.dumps(manifest, indent=2))
    else:
        made_by = f"step {manifest['checkpoint']['step']}" if "checkpoint" in manifest else \
            f"donor {Path(manifest['donor']['path']).name} [{manifest['donor']['start_frame']}, " \
            f"{manifest['donor']['stop_frame']})"
        print(f"{args.out}\t{manifest['frames_swapped']}/{manifest['frames']} frames swapped\t"
              f"{manifest['identities']['target']} -> {manifest['identities']['source']}\t{manifest['method']}, {made_by}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from fakebench.generate.evaluate import evaluate, format_report

    if args.frames < 3:
        raise ConfigError(f"--frames must be at least 3 (correlations need them), got {args.frames}")
    report = evaluate(args.run, frames=args.frames, checkpoint=_checkpoint_path(args), settings=_settings(args),
                      device=args.device, progress=not args.quiet)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


def cmd_preview(args: argparse.Namespace) -> int:
    from fakebench import outputs
    from fakebench.generate.train import Trainer, load_run_config
    from fakebench.media import write_image

    if args.out is not None:  # an existing file is replaced only if fakebench wrote it
        outputs.check_file(args.out)
    trainer = Trainer(load_run_config(args.run), args.run, device=args.device, progress=not args.quiet)
    trainer.setup(read_only=True)
    if args.out is None:
        path = trainer.preview()
    else:  # only the file asked for; the run folder is left as it is
        path = write_image(args.out, trainer.preview_image())
        outputs.record_file(path)
    print(path, file=sys.stdout)
    return 0
