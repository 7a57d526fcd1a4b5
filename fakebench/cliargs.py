"""Options every ``fakebench`` subcommand shares; each stage's ``commands.py`` uses them too."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def command_group(commands: argparse._SubParsersAction, name: str, *, help: str, description: str):
    """``fakebench NAME ACTION ...``: the group's parser, and the subparsers its actions are added to."""
    group = commands.add_parser(name, help=help, description=description)
    return group.add_subparsers(dest="action", metavar="ACTION", required=True)


def per_input_options(parser: argparse.ArgumentParser) -> None:
    """--json, --no-cache and --out of the commands that read each input file's faces and say one result each."""
    parser.add_argument("--json", action="store_true", help="print one JSON object per input on stdout")
    parser.add_argument("--no-cache", action="store_true", help="do not read or write the face cache")
    parser.add_argument("--out", type=Path, help="also write the results as JSON lines to this file (an existing file "
                                                 "is replaced only if fakebench wrote it)")


def write_results(out: Path | None, rows: list[dict]) -> None:
    """The ``--out`` of ``per_input_options``: the rows as JSON lines, when there are any. ``outputs.check_file`` runs
    again here (the command ran it before any work): the file may have appeared or changed while the inputs were
    read; the written file goes into the ledger."""
    if out is None or not rows:
        return
    import json

    from fakebench import outputs
    from fakebench.files import write_text

    outputs.check_file(out)
    write_text(out, "".join(json.dumps(r) + "\n" for r in rows))
    outputs.record_file(out)


def common_options(parser: argparse.ArgumentParser) -> None:
    """-v/-q/--debug, accepted before or after the subcommand."""
    group = parser.add_argument_group("output")
    group.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                       help="debug log lines on stderr")
    group.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                       help="only errors on stderr, no progress bars")
    group.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show the full traceback on errors")


def device_seed_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                        help="where models run (default: auto = cuda when available)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")


def input_failed(err: Exception, args: argparse.Namespace) -> None:
    """One input of several failed: re-raise under --debug, else one line on stderr (the others go on)."""
    if getattr(args, "debug", False):
        raise err
    print(f"fakebench: error: {err}", file=sys.stderr)


def exit_status(failed: int, total: int) -> int:
    """0 when every input went through, else 2 with a count on stderr."""
    if failed:
        logging.getLogger("fakebench").info("%d of %d inputs failed", failed, total)
        return 2
    return 0
