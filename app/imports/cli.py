"""`jieduan import` (being built)."""

from __future__ import annotations

import argparse


def add_import_command(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register the `import` subcommand."""
