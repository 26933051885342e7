"""The ``embharness`` command line."""

from __future__ import annotations

import sys

import click

from embharness.errors import HarnessError
from embharness.paths import configure_environment


class HarnessGroup(click.Group):
    """A click group that turns ``HarnessError`` into one line on stderr and exit code 2."""

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


# --- command registration (each feature module owns its commands) ---
from embharness.commands.run import models, run, tasks  # noqa: E402

main.add_command(run)
main.add_command(models)
main.add_command(tasks)
from embharness.commands.encode import encode  # noqa: E402

main.add_command(encode)
from embharness.commands.cache import cache  # noqa: E402

main.add_command(cache)
from embharness.commands.report import report  # noqa: E402

main.add_command(report)
from embharness.commands.gate import gate  # noqa: E402

main.add_command(gate)
from embharness.commands.diff import diff  # noqa: E402

main.add_command(diff)
from embharness.commands.submit import submit  # noqa: E402

main.add_command(submit)
from embharness.commands.plan import plan  # noqa: E402

main.add_command(plan)
from embharness.commands.status import status  # noqa: E402

main.add_command(status)
from embharness.commands.rerank import rerank  # noqa: E402

main.add_command(rerank)
