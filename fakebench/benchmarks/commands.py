"""The ``fakebench bench`` subcommands."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``fakebench bench ...`` to the top-level parser (nothing yet: the stage is being built)."""
