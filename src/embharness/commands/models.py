"""``embharness models``: the registered model specs."""

from __future__ import annotations

import click

from embharness.specs.registry import get_spec, registered_names


@click.command()
def models() -> None:
    """List registered models with their revisions and dims."""
    for name in registered_names():
        spec = get_spec(name)
        dims = ",".join(map(str, spec.dims))
        code = (
            f"  code={spec.code_repo}@{spec.code_revision or 'unpinned'}" if spec.code_repo else ""
        )
        click.echo(
            f"{name:45} rev={spec.revision or 'unpinned (set revision:)'}  dims={dims}  "
            f"max_tokens={spec.max_tokens}  dtype={spec.dtype}  strip={spec.strip_whitespace}  "
            f"loader={spec.loader}{code}"
        )
    click.echo("st:NAME / hf:NAME / a local folder: any sentence-transformers or HF model")
