"""``embharness cache``: report the embedding cache's size and prune it."""

from __future__ import annotations

from pathlib import Path

import click

from embharness.paths import embedding_cache_dir


def _human(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


@click.group()
def cache() -> None:
    """Inspect or prune the embedding cache."""


def _root(cache_dir: Path | None) -> Path:
    return cache_dir or embedding_cache_dir()


@cache.command("info")
@click.option("--cache-dir", type=click.Path(path_type=Path))
def info(cache_dir: Path | None) -> None:
    """Size, rows and key of every cache namespace."""
    from embharness.encoding.cache import cache_summary

    root = _root(cache_dir)
    entries = cache_summary(root)
    for entry in entries:
        key = entry["key"]
        model = key.get("model", {})
        click.echo(
            f"{entry['namespace'][:12]}  {model.get('name')}@{str(model.get('revision'))[:8]} "
            f"side={key.get('side')} adapter={key.get('adapter')} "
            f"max_len={key.get('max_length')} rows={entry['rows']} {_human(entry['bytes'])}"
        )
    total = sum(e["bytes"] for e in entries)
    click.echo(
        f"{root}: {len(entries)} namespaces, {sum(e['rows'] for e in entries)} vectors, "
        f"{_human(total)}"
    )


@cache.command("prune")
@click.option("--cache-dir", type=click.Path(path_type=Path))
@click.option("--model", help="Only this model's vectors (default: everything).")
@click.option("--yes", is_flag=True, help="Don't ask for confirmation.")
def prune_command(cache_dir: Path | None, model: str | None, yes: bool) -> None:
    """Delete cached vectors (all, or one model's)."""
    from embharness.encoding.cache import prune

    root = _root(cache_dir)
    if not yes:
        click.confirm(
            f"delete {'all' if model is None else model} vectors under {root}?", abort=True
        )
    click.echo(f"freed {_human(prune(root, model))}")
