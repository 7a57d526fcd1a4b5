"""The ``fakebench data`` subcommands."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``fakebench data ...`` to the top-level parser (nothing yet: the stage is being built)."""
