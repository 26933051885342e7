"""Two-stage retrieval (``embharness rerank``): mteb's convert_to_reranking after a first stage.

Checked against independent computations: a bi-encoder reranking its own full-corpus ranking
keeps every metric, a random reranker keeps recall at k = top_k (same candidates), and the
BM25 first stage's scores equal bm25s run directly, with nDCG@10 computed here from them.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from embharness.cli import main
from embharness.errors import HarnessError
from embharness.results.runs import load_runs
from embharness.results.schema import SCHEMA_VERSION, LaunchSection, RunRecord, TwoStageSection
from embharness.results.store import run_record_path
from embharness.run.two_stage import RerankRequest, run_two_stage
from embharness.tasks.registry import get_task

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
TASK = "HumanEvalRetrievalOffline"
CORPUS = 164  # HumanEval problems: one solution each
MINILM_ID = "sentence-transformers__all-MiniLM-L6-v2@8b3219a9-d384-float32"
BM25_ID = "mteb__baseline-bm25s@0_3_0"


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One embedding cache for the module: MiniLM encodes the task once."""
    return tmp_path_factory.mktemp("embeddings")


def _run(results: Path, cache: Path, first: str, reranker: str, top_k: int) -> Any:
    request = RerankRequest(TASK, first, reranker, results, top_k=top_k, cache_dir=cache)
    return run_two_stage(request)


def _two(outcome: Any) -> dict[str, Any]:
    section: dict[str, Any] = outcome.record["two_stage"]
    return section


def test_two_first_stages_give_two_result_folders_each_naming_its_first_stage(
    tmp_path: Path, cache_dir: Path
) -> None:
    dense = _run(tmp_path, cache_dir, f"{MINILM}@384", f"bi:{MINILM}", 20)
    bm25 = _run(tmp_path, cache_dir, "bm25", f"bi:{MINILM}", 20)
    int8 = _run(tmp_path, cache_dir, f"{MINILM}@128:int8", f"bi:{MINILM}", 20)
    assert len({dense.path.parent, bm25.path.parent, int8.path.parent}) == 3
    assert dense.experiment == f"first_stage_{MINILM_ID}__rerank_top_k_20"
    assert bm25.experiment == f"first_stage_{BM25_ID}__rerank_top_k_20"
    assert "all-MiniLM-L6-v2@8b3219a9-d128-int8__" in int8.experiment  # dim and precision
    assert dense.path.parent.name == dense.experiment  # the folder is the experiment
    runs = {run.label: run for run in load_runs(tmp_path)}  # mteb's layout, read back
    assert set(runs) == {dense.experiment, bm25.experiment, int8.experiment}
    assert _run(tmp_path, cache_dir, "bm25", f"bi:{MINILM}", 20).status == "skipped"
    assert {run.model for run in runs.values()} == {MINILM}  # both under the reranker
    firsts = {_two(o)["first_stage"]["model"] for o in (dense, bm25)}
    assert firsts == {MINILM, "mteb/baseline-bm25s"}
    for outcome in (dense, bm25):
        record = outcome.record
        assert record["schema_version"] == SCHEMA_VERSION == 12
        assert set(record) == set(RunRecord.__annotations__)
        assert set(record["two_stage"]) == set(TwoStageSection.__annotations__)
        stored = json.loads(run_record_path(outcome.path).read_text())  # as written
        assert stored["launch"]["parts"] == 1 and record["launch"]["process"] == "runner"
        assert set(stored["launch"]) == set(LaunchSection.__annotations__)
        assert record["two_stage"]["rerank_wall_s"] > 0  # a latency is recorded, not judged
        predictions = outcome.path.parent / "_embharness" / record["two_stage"]["predictions_file"]
        assert len(json.loads(predictions.read_text())["default"]["test"]) == CORPUS


def test_bi_encoder_reranking_its_own_full_ranking_keeps_every_metric(
    tmp_path: Path, cache_dir: Path
) -> None:
    outcome = _run(tmp_path, cache_dir, f"{MINILM}@384", f"bi:{MINILM}@384", CORPUS)
    first = _two(outcome)["first_stage"]
    stored = json.loads(outcome.path.read_text())["scores"]["test"][0]
    assert outcome.record["main_score"] == first["main_score"]
    assert {m: stored[m] for m in first["scores"]} == pytest.approx(first["scores"], abs=1e-6)
    assert first["scores"]["ndcg_at_10"] == pytest.approx(0.66541)  # MiniLM's own run
    assert outcome.record["cache"]["misses"] == 0  # the reranker read the first stage's vectors


def test_random_reranker_keeps_recall_at_top_k_and_changes_the_order(
    tmp_path: Path, cache_dir: Path
) -> None:
    outcome = _run(tmp_path, cache_dir, f"{MINILM}@384", "random", 100)
    first = _two(outcome)["first_stage"]
    stored = json.loads(outcome.path.read_text())["scores"]["test"][0]
    assert stored["recall_at_100"] == pytest.approx(first["scores"]["recall_at_100"])
    assert stored["ndcg_at_10"] < first["scores"]["ndcg_at_10"] - 0.3  # random order
    assert outcome.path.parts[-5] == "mteb__baseline-random-cross-encoder"


def _bm25s_scores() -> dict[str, dict[str, float]]:
    """bm25s run directly as mteb's BM25 is configured (English stopwords and stemmer)."""
    import bm25s
    import Stemmer

    task = get_task(TASK)
    task.load_data()
    split = task.dataset["default"]["test"]
    docs, queries = list(split["corpus"]), list(split["queries"])
    stemmer = Stemmer.Stemmer("english")
    retriever = bm25s.BM25(k1=1.5, b=0.75, delta=0.5, method="lucene")
    texts = [f"{d['title']}\n{d['text']}" for d in docs]
    retriever.index(bm25s.tokenize(texts, stopwords="en", stemmer=stemmer))
    tokens = bm25s.tokenize([q["text"] for q in queries], stopwords="en", stemmer=stemmer)
    hits, values = retriever.retrieve(tokens, k=len(docs))
    return {
        q["id"]: {docs[h]["id"]: float(v) for h, v in zip(row, scored, strict=True)}
        for q, row, scored in zip(queries, hits, values, strict=True)
    }


def _ndcg_at_10(run: dict[str, dict[str, float]]) -> float:
    """One relevant doc per query (``q:X`` → ``d:X``): 1/log2(rank + 1) within the top 10,
    ties broken by doc id descending as trec_eval does."""
    total = 0.0
    for query, hits in run.items():
        ranked = sorted(hits, key=lambda d: (hits[d], d), reverse=True)[:10]
        relevant = "d:" + query.removeprefix("q:")
        total += 1 / math.log2(ranked.index(relevant) + 2) if relevant in ranked else 0.0
    return total / len(run)


def test_bm25_first_stage_equals_bm25s_computed_directly(tmp_path: Path, cache_dir: Path) -> None:
    outcome = _run(tmp_path, cache_dir, "bm25", "no-rerank", 10)
    predictions = outcome.path.parent / "_embharness" / _two(outcome)["predictions_file"]
    stored = json.loads(predictions.read_text())["default"]["test"]
    expected = _bm25s_scores()
    assert set(stored) == set(expected)
    for query, hits in stored.items():
        assert hits == pytest.approx({d: expected[query][d] for d in hits}, abs=1e-5)
    first = _two(outcome)["first_stage"]["main_score"]
    assert first == pytest.approx(_ndcg_at_10(expected), abs=1e-5)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--first-stage", "no-such-model"], "first stage 'no-such-model': unknown model"),
        (["--top-k", "0"], "--top-k must be at least 1, got 0"),
        (["--reranker", MINILM], f"reranker {MINILM!r} is not a cross-encoder"),
        (["--reranker", "org/no-such-cross-encoder"], "hub is unreachable"),
    ],
)
def test_bad_input_is_one_line_error(tmp_path: Path, args: list[str], message: str) -> None:
    base = {"--task": TASK, "--first-stage": "bm25", "--reranker": "no-rerank", "--top-k": "5"}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    argv = ["rerank", *[x for pair in base.items() for x in pair]]
    result = CliRunner().invoke(main, [*argv, "--results-dir", str(tmp_path), "--no-cache"])
    assert result.exit_code == 2, result.output
    [line] = result.output.strip().splitlines()
    assert line.startswith("error: ") and message in line and " — fix: " in line


def test_a_task_without_a_corpus_search_is_refused(tmp_path: Path) -> None:
    request = RerankRequest("ManpagesBitextMining", "bm25", "no-rerank", tmp_path)
    with pytest.raises(HarnessError, match="needs a Retrieval task"):
        run_two_stage(request)


def test_version_7_record_reads_with_two_stage_none() -> None:
    """Schema 8: a record written before two-stage results reads with ``two_stage`` None."""
    from embharness.results.schema import upgrade_record

    upgraded = upgrade_record({"schema_version": 7, "main_score": 0.5})
    assert upgraded["schema_version"] == SCHEMA_VERSION and upgraded["two_stage"] is None
