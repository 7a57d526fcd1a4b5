"""Options every ``fakebench`` subcommand shares; each stage's ``commands.py`` uses them too."""

from __future__ import annotations

import argparse
import logging
import sys


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
