"""``embharness rerank``: a first stage's top-k reranked through mteb's two-stage path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from embharness.commands.options import CACHE_DIR_OPTION, NO_CACHE_OPTION, RESULTS_OPTION
from embharness.paths import embedding_cache_dir


@click.command()
@click.option("--task", required=True, help="A Retrieval task (e.g. HumanEvalRetrievalOffline).")
@click.option(
    "--first-stage",
    required=True,
    help="bm25 (mteb's BM25) or MODEL[@dim][:precision] (MODEL as `embharness models` "
    "lists it), e.g. MODEL@384 or MODEL@256:int8.",
)
@click.option(
    "--reranker",
    required=True,
    help="A sentence-transformers CrossEncoder name from the hub, an mteb cross-encoder "
    "(random, no-rerank, or a registry name), or bi:MODEL[@dim] for a bi-encoder.",
)
@click.option("--reranker-revision", help="Pin the cross-encoder's revision (hub commit).")
@click.option("--top-k", type=int, default=100, show_default=True, help="Candidates per query.")
@click.option("--max-samples", type=int, default=None, help="Cap the task for a quick run.")
@click.option("--batch-size", type=int, default=32, show_default=True)
@RESULTS_OPTION
@CACHE_DIR_OPTION
@NO_CACHE_OPTION
@click.option("--overwrite", is_flag=True, help="Recompute a result that exists already.")
def rerank(
    task: str,
    first_stage: str,
    reranker: str,
    reranker_revision: str | None,
    top_k: int,
    max_samples: int | None,
    batch_size: int,
    results_dir: Path,
    cache_dir: Path | None,
    no_cache: bool,
    overwrite: bool,
) -> None:
    """Rerank FIRST_STAGE's top-k on TASK with RERANKER; prints both stages and the latency."""
    from embharness.run.two_stage import RerankRequest, run_two_stage

    request = RerankRequest(
        task=task,
        first_stage=first_stage,
        reranker=reranker,
        results_dir=results_dir,
        top_k=top_k,
        cache_dir=None if no_cache else (cache_dir or embedding_cache_dir()),
        max_samples=max_samples,
        batch_size=batch_size,
        reranker_revision=reranker_revision,
        overwrite=overwrite,
    )
    outcome = run_two_stage(request, say=lambda line: click.echo(line, err=True))
    _print_summary(outcome.record, outcome.path, outcome.status)


def _print_summary(record: dict[str, Any], path: Path, status: str) -> None:
    """Both stages' main scores, the rerank stage's wall time against the first stage's."""
    two = record.get("two_stage") or {}
    first = two.get("first_stage") or {}
    first_wall, wall = first.get("wall_s") or 0.0, two.get("rerank_wall_s") or 0.0
    ratio = f" = {wall / first_wall:.2f}× the first stage's {first_wall:.2f}s" if first_wall else ""
    before, after = first.get("main_score") or 0.0, record["main_score"]
    click.echo(f"first stage  {first.get('identity')}: main={before:.4f}")
    click.echo(
        f"reranked     {record['model']['name']} top-{two.get('top_k')}: "
        f"main={after:.4f} (Δ {after - before:+.4f})"
    )
    click.echo(
        f"added latency {wall:.2f}s{ratio}, {two.get('added_ms_per_query', 0.0):.2f} ms/query "
        f"({status})"
    )
    click.echo(f"result: {path}")
