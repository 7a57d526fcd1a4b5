"""The ``fakebench data`` subcommands: index a data set, show, check, split it, extract its faces.

Results (counts, problems, per-video status) go to stdout; logs and progress bars to stderr. A file
given with ``--out`` (or the INDEX that ``split`` replaces) that exists is replaced only if fakebench
wrote it and nobody changed it since (``outputs.check_file``); ``extract``'s folder must be new,
empty or fakebench's own.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from fakebench import outputs
from fakebench.cliargs import command_group, common_options, device_seed_options

log = logging.getLogger("fakebench.datasets")

# --flag -> layout option; only flags the user gives are passed, and a layout refuses flags it does not take
_LAYOUT_FLAGS = ("compression", "methods", "splits", "version", "real_root", "include_source_videos", "include_real",
                 "include_noface", "name")


def register(commands: argparse._SubParsersAction) -> None:
    from fakebench.datasets.layouts import LAYOUTS

    actions = command_group(
        commands, "data", help="data sets: index public layouts and generated fakes, split, extract faces",
        description="One table per data set (one row per video), read from the folders people already have; "
                    "splits that do not leak identities; face crops for all.")

    index = actions.add_parser(
        "index", help="index a data set folder into a parquet table",
        description="Read a data set folder as one of the known layouts, write the index (one row per video: "
                    "video_id, path, label, split, dataset, method, compression, target/source identity, source group) and "
                    "print counts by label, method and split (with each split's source groups).")
    index.add_argument("--layout", required=True, metavar="NAME", help=f"one of: {', '.join(LAYOUTS.names())}")
    index.add_argument("--root", type=Path, metavar="DIR", help="the data set's folder (samples: the cache folder, optional)")
    index.add_argument("--out", type=Path, required=True, metavar="FILE", help="index file to write (*.parquet)")
    index.add_argument("--json", action="store_true", help="print the counts as JSON")
    opts = index.add_argument_group("layout options (each layout takes some; others are refused)")
    opts.add_argument("--compression", metavar="LEVEL", help="ff++: raw (c0), c23 (default) or c40")
    opts.add_argument("--methods", type=_csv, metavar="LIST",
                      help="ff++: methods to index, e.g. Deepfakes,FaceSwap (default: all found); "
                           "deeperforensics: variants (default end_to_end; all)")
    opts.add_argument("--splits", metavar="DIR",
                      help="ff++: folder with the official train/val/test.json (default <root>/splits)")
    opts.add_argument("--version", metavar="V", help="celeb-df: v1 or v2 (default: from the folder name)")
    opts.add_argument("--real-root", metavar="DIR",
                      help="deeperforensics: FF++ root holding the c23 target videos (the real part)")
    opts.add_argument("--include-source-videos", action="store_const", const=True,
                      help="deeperforensics: add the actors' source videos as real")
    opts.add_argument("--no-real", dest="include_real", action="store_const", const=False,
                      help="generated: index the fakes only, not the real input segments")
    opts.add_argument("--include-noface", action="store_const", const=True,
                      help="samples: add the NOFACE control clip")
    opts.add_argument("--name", help="folder/generated: the data set name (default: folder name / generated)")
    _leaf(index, cmd_index)

    show = actions.add_parser("show", help="print the counts of an index",
                              description="Counts by label, method and split, and how the index was built and split.")
    show.add_argument("index", type=Path, metavar="INDEX", help="index file (.parquet, or .csv with the same columns)")
    show.add_argument("--json", action="store_true", help="print JSON")
    _leaf(show, cmd_show)

    check = actions.add_parser(
        "check", help="report missing, unreadable and duplicate files of an index",
        description="One line per problem: missing (no file), unreadable (does not decode), bad range (frames past "
                    "the end), duplicate (listed twice, or the same bytes at two paths), leak (an identity of a "
                    "val/test fake also in train). Exit status 1 when there is any problem.")
    check.add_argument("index", type=Path, metavar="INDEX", help="index file")
    check.add_argument("--no-decode", action="store_true", help="do not open the videos (existence and hashes only)")
    check.add_argument("--no-hash", action="store_true", help="do not hash contents (no duplicate-by-content check)")
    check.add_argument("--out", type=Path, metavar="FILE", help="also write the problems as CSV")
    check.add_argument("--json", action="store_true", help="print the problems as JSON")
    _leaf(check, cmd_check)

    split = actions.add_parser(
        "split", help="assign train/val/test without leaks (by identity or by time in each video)",
        description="identity: no identity of a val/test fake appears in train. segment: each video becomes "
                    "frame ranges, first part train, last part test, a gap between (for one pair of people). "
                    "The split is recorded in the index's metadata.")
    split.add_argument("index", type=Path, metavar="INDEX", help="index file")
    split.add_argument("--by", choices=("identity", "segment"), required=True, help="how to split")
    split.add_argument("--fractions", default="0.7,0.15,0.15", help="train,val,test (default 0.7,0.15,0.15)")
    split.add_argument("--gap", type=float, default=0.05,
                       help="segment: fraction of each video's frames left out at each cut (default 0.05)")
    split.add_argument("--out", type=Path, metavar="FILE", help="index file to write (default: replace INDEX)")
    split.add_argument("--json", action="store_true", help="print the counts as JSON")
    _leaf(split, cmd_split)

    extract = actions.add_parser(
        "extract", help="face crops + landmarks for every video of an index (resumable)",
        description="Sample N evenly spaced frames per video (its frame range if it has one), track the face, save "
                    "crops/landmarks/affines per video under OUT/tracks and a status per video (ok / no face / "
                    "unreadable) in OUT/status.parquet and .csv. Run the same command again to resume.")
    extract.add_argument("index", type=Path, metavar="INDEX", help="index file")
    extract.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    extract.add_argument("--frames", type=int, default=32, help="frames per video, evenly spaced (default 32)")
    extract.add_argument("--size", type=int, default=256, help="crop side in pixels (default 256)")
    extract.add_argument("--margin", type=float, default=0.25, help="margin around the face (default 0.25)")
    extract.add_argument("--workers", type=int, default=1,
                         help="processes, each loading the models (default 1; see BENCHMARKS.md)")
    extract.add_argument("--threads", type=int, default=1,
                         help="torch threads per process (default 1: MTCNN's small ops run faster on one)")
    extract.add_argument("--min-score", type=float, default=0.9, help="MTCNN confidence to accept a face (default 0.9)")
    extract.add_argument("--batch-size", type=int, default=16, help="frames per MTCNN batch (default 16)")
    extract.add_argument("--no-landmarks", action="store_true", help="skip dlib's 68 landmarks (align on MTCNN's 5)")
    extract.add_argument("--no-cache", action="store_true", help="do not read or write the global face cache")
    extract.add_argument("--retry-failed", action="store_true", help="try unreadable videos again when resuming")
    extract.add_argument("--json", action="store_true", help="print the status table as JSON")
    _leaf(extract, cmd_extract)


def _leaf(parser: argparse.ArgumentParser, func) -> None:
    device_seed_options(parser)
    common_options(parser)
    parser.set_defaults(func=func)


def _csv(text: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in text.split(",") if x.strip())


def _print_counts(df, as_json: bool) -> None:
    from fakebench.datasets.index import counts, format_counts

    summary = counts(df)
    if as_json:
        print(json.dumps({**summary, "info": df.attrs}, indent=2, default=str))
    else:
        print(format_counts(summary))


def cmd_index(args: argparse.Namespace) -> int:
    from fakebench.datasets.index import index_layout, save_index

    options = {k: getattr(args, k) for k in _LAYOUT_FLAGS if getattr(args, k) is not None}
    outputs.check_file(args.out)  # before the folder is read: someone else's file is refused at once
    df = index_layout(args.layout, args.root, **options)
    save_index(df, args.out)
    outputs.record_file(args.out)
    log.info("wrote %s (%d videos)", args.out, len(df))
    _print_counts(df, args.json)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from fakebench.datasets.index import load_index

    df = load_index(args.index)
    _print_counts(df, args.json)
    if not args.json:
        info = df.attrs
        if info.get("layout"):
            print(f"layout {info['layout']}  root {info.get('root')}  options {json.dumps(info.get('options', {}))}")
        for entry in info.get("splits", []):
            print("split " + "  ".join(f"{k} {v}" for k, v in entry.items()))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from fakebench.datasets.index import PROBLEMS, check_index, load_index

    df = load_index(args.index)
    if args.out:
        outputs.check_file(args.out)
    problems = check_index(df, decode=not args.no_decode, content=not args.no_hash, progress=not args.quiet)
    if args.out:
        from fakebench.files import atomic_path

        with atomic_path(args.out) as tmp:
            problems.to_csv(tmp, index=False)
        outputs.record_file(args.out)
    if args.json:
        print(json.dumps(problems.to_dict("records"), indent=2))
    else:
        for row in problems.itertuples(index=False):
            print(f"{row.problem}\t{row.video_id}\t{row.path}\t{row.detail}")
        by = problems["problem"].value_counts().to_dict()
        listed = ", ".join(f"{p} {by[p]}" for p in PROBLEMS if p in by)
        print(f"{len(df)} videos, {len(problems)} problems" + (f" ({listed})" if listed else ""))
    return 1 if len(problems) else 0


def cmd_split(args: argparse.Namespace) -> int:
    from fakebench.datasets import splits
    from fakebench.datasets.index import load_index, save_index

    df = load_index(args.index)
    target = args.out or args.index
    if target.suffix.lower() != ".parquet":
        target = target.with_suffix(".parquet")
    outputs.check_file(target)  # replacing INDEX too: only an index fakebench wrote and nobody changed since
    if args.by == "identity":
        out = splits.identity_split(df, args.fractions, seed=args.seed)
    else:
        out = splits.segment_split(df, args.fractions, gap=args.gap, seed=args.seed)
    save_index(out, target)
    outputs.record_file(target)
    log.info("wrote %s (%d rows, split by %s)", target, len(out), args.by)
    _print_counts(out, args.json)
    return 0


def cmd_extract(args: argparse.Namespace) -> int:
    from fakebench.datasets.extract import ExtractSettings, extract_index
    from fakebench.datasets.index import load_index
    from fakebench.runtime import seed_everything

    df = load_index(args.index)  # before torch loads: a bad index fails at once
    seed_everything(args.seed)
    settings = ExtractSettings(frames=args.frames, size=args.size, margin=args.margin, landmarks=not args.no_landmarks,
                               align="landmarks" if not args.no_landmarks else "mtcnn", min_score=args.min_score,
                               batch_size=args.batch_size)
    table = extract_index(df, args.out, settings, workers=args.workers, threads=args.threads, device=args.device,
                          use_cache=not args.no_cache, retry_failed=args.retry_failed, progress=not args.quiet)
    by = table["status"].value_counts().to_dict()
    if args.json:
        print(json.dumps({"status": by, **table.attrs, "videos": table.to_dict("records")}, indent=2, default=str))
        return 0
    for row in table.itertuples(index=False):
        detail = row.error if row.status == "unreadable" else f"{row.with_face}/{row.sampled} frames with a face"
        print(f"{row.status}\t{row.video_id}\t{detail}")
    print(", ".join(f"{s} {by.get(s, 0)}" for s in ("ok", "no face", "unreadable")) + f"; table: {args.out / 'status.parquet'}")
    return 0
