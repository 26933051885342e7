"""The ``embharness`` command line: a lazy registry of subcommands, one file each.

A subcommand's module is imported only when that subcommand (or ``--help``) needs it, so
``embharness gate`` or ``embharness plan`` never pays for torch and mteb, and ``embharness run``
imports them only after its input checks pass.
"""

from __future__ import annotations

import importlib
import sys

import click

from embharness.errors import HarnessError
from embharness.paths import configure_environment

# Each subcommand NAME is the click command NAME in its own module, embharness.commands.NAME.
SUBCOMMANDS = (
    "run",
    "models",
    "tasks",
    "encode",
    "cache",
    "report",
    "gate",
    "diff",
    "submit",
    "plan",
    "status",
    "rerank",
)


class HarnessGroup(click.Group):
    """Loads subcommands on first use; turns ``HarnessError`` into one stderr line, exit 2."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in SUBCOMMANDS:
            return None
        module = importlib.import_module(f"embharness.commands.{cmd_name}")
        command: click.Command = getattr(module, cmd_name)
        return command

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except HarnessError as exc:
            click.echo(f"error: {exc.one_line()}", err=True)
            sys.exit(2)


@click.group(cls=HarnessGroup)
def main() -> None:
    """Evaluate embedding models reproducibly through mteb."""
    configure_environment()
