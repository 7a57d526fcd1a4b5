"""The ``fakebench provenance`` subcommand: does a file carry the invisible mark fakebench puts in every fake?

``provenance check VIDEO_OR_IMAGE...`` reads the mark (``fakebench.mark``) through the
``provenance`` detector: per input one line (or, with ``--json``, one JSON object) on stdout,
marked or not, the confidence (0.5 at the detection thresholds, about 5e-6 on a file without the
mark; ``p`` in the JSON bounds the chance that such a file reads as strongly), the sync statistic,
the payload when it reads back, and how many of the frames read are marked on their own. A
missing, empty, corrupt or faceless input, or a folder, is one line on stderr; the other inputs are
still checked, and the exit status is then 2.
"""

from __future__ import annotations

import argparse
import json
import logging
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
from fakebench.errors import FakebenchError, NoFaceError

log = logging.getLogger("fakebench.provenance")


def register(commands: argparse._SubParsersAction) -> None:
    actions = command_group(
        commands, "provenance", help="fakebench's invisible provenance mark: check whether files carry it",
        description="Every fake `generate convert` writes carries an invisible mark in the swapped face's "
                    "pixels (unless made with --no-mark); `provenance check` finds it.")
    check = actions.add_parser(
        "check", help="is each file one of fakebench's marked fakes? (marked or not, confidence, payload)",
        description="Read the mark from the faces of each video (frames spread evenly) or image: marked or not, "
                    "the confidence, and the payload (the run and checkpoint that made the face, the first frame of "
                    "the converted segment) when it reads back. A re-encoded, JPEG-compressed, blurred, resized or "
                    "cropped copy is still found within limits (README, BENCHMARKS.md); a file without the mark reads "
                    "as marked with probability under 5e-6 per frame.")
    check.add_argument("inputs", nargs="+", type=Path, metavar="VIDEO_OR_IMAGE", help="video or image files")
    check.add_argument("--frames", type=int, default=32, help="frames read per video, spread evenly (default 32)")
    per_input_options(check)  # --json, --no-cache, --out
    device_seed_options(check)
    common_options(check)
    check.set_defaults(func=cmd_check)


def cmd_check(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from fakebench import outputs
    from fakebench.detect.factory import create
    from fakebench.detect.score import score_file
    from fakebench.runtime import seed_everything

    if args.frames < 1:
        raise FakebenchError(f"--frames must be a positive integer, got {args.frames}")
    seed_everything(args.seed)
    if args.out is not None:  # refused before any work: a file fakebench did not write is never replaced
        outputs.check_file(args.out)
    detector = create("provenance", device=args.device, seed=args.seed)
    detector.request = replace(detector.request, count=args.frames)
    extractor = detector.request.extractor(device=args.device, use_cache=not args.no_cache)
    failed, rows = 0, []
    for path in args.inputs:
        try:
            result, track = score_file(detector, path, extractor, progress=not args.quiet)
            if result.frames_used == 0:
                raise NoFaceError(f"{path}: no face in any of the {len(track)} frames read; the mark is only put on "
                                  "swapped faces, so there is nothing to check")
        except FakebenchError as err:
            input_failed(err, args)
            failed += 1
            continue
        row = {"path": str(path), **result.evidence, "frames": [int(f) for f in track.frames]}
        rows.append(row)
        print(json.dumps(row) if args.json else line(row))
    write_results(args.out, rows)
    return exit_status(failed, len(args.inputs))


def line(row: dict) -> str:
    """One input's verdict as a tab-separated line."""
    payload = row.get("payload")
    what = (f"run {payload['run']} checkpoint {payload['checkpoint']} segment from frame {payload['start_frame']}"
            if payload else ("payload not read back" if row["marked"] else "-"))
    return (f"{row['path']}\t{'marked' if row['marked'] else 'not marked'}\tconfidence {row['confidence']:.6f} "
            f"(z {row['z']:.1f}, best shift/scale {row['z_search']:.1f})\t{what}\t"
            f"{row['frames_marked']}/{row['frames_read']} frames marked on their own")
