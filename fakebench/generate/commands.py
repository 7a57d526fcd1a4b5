"""The ``fakebench generate`` subcommands."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``fakebench generate ...`` to the top-level parser (nothing yet: the stage is being built)."""
