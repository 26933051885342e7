"""Search and scoring on synthetic unit vectors, through mteb's ``SearchEncoderWrapper``.

``synthetic``: one corpus searched by each exact backend (mteb's own chunked search, the torch
and faiss indexes), timed side by side after a warm-up search of every backend.

``coir_scale``: a COIR-CodeSearchNet-sized corpus (1,003,765 docs) and a slice of its 52,561
queries, top-1000 as mteb's retrieval tasks search (``_top_k`` = max k_values). It times the
index, the search (mteb's wrapper with the index) and mteb's own scoring of the run
(``calculate_retrieval_scores``) apart and projects them to all 52,561 queries.

``csn_host_phase``: what such a cell's score phase costs on the host once the GPU has each
query's top-1000 (rows to lists, mteb's results dicts, mteb's scoring), per query, projected.

Imported by bench_search.py (run from the repository root as ``benchmarks/bench_search.py``).
"""

from __future__ import annotations

import gc
import time
from typing import Any

import numpy as np

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
TASK = "PythonStdlibDocstringRetrieval"  # lends its metadata to the wrapper calls
CSN_DOCS, CSN_QUERIES = 1_003_765, 52_561


class VectorEncoder:
    """An mteb encoder whose texts are row numbers into fixed unit vectors (no model)."""

    def __init__(self, docs: np.ndarray, queries: np.ndarray) -> None:
        from embharness.specs.registry import get_spec

        self.mteb_model_meta = get_spec(MINILM).to_model_meta(docs.shape[1])
        self.vectors = {"d": docs, "q": queries}

    def encode(self, inputs: Any, **kwargs: Any) -> np.ndarray:
        """Rows for texts ``d17``/``q3``: side letter and row number."""
        texts = [text for batch in inputs for text in batch["text"]]
        side = texts[0][0]
        return self.vectors[side][[int(text[1:]) for text in texts]]

    def similarity(self, a: Any, b: Any) -> Any:
        """mteb's cosine similarity, as a harness encoder has it."""
        from mteb.similarity_functions import cos_sim

        return cos_sim(a, b)


def unit_vectors(rows: int, dim: int, seed: int) -> np.ndarray:
    """``rows`` random unit vectors (float32), made in slices to bound the float64 peak."""
    rng = np.random.default_rng(seed)
    out = np.empty((rows, dim), np.float32)
    for start in range(0, rows, 100_000):
        part = rng.standard_normal((min(100_000, rows - start), dim), dtype=np.float32)
        out[start : start + len(part)] = part / np.linalg.norm(part, axis=1, keepdims=True)
    return out


def _texts(side: str, rows: int) -> Any:
    from datasets import Dataset

    names = [f"{side}{i}" for i in range(rows)]
    return Dataset.from_dict({"id": names, "text": names})


def _wrapper(name: str, encoder: VectorEncoder) -> Any:
    from mteb.models import SearchEncoderWrapper

    from embharness.run.search import faiss_search, torch_search

    if name == "mteb":
        return SearchEncoderWrapper(encoder)
    return faiss_search(encoder) if name == "faiss" else torch_search(encoder)


def _search_kwargs() -> dict[str, Any]:
    from embharness.run.sweep import TaskEntry
    from embharness.run.task_loading import TaskLoader

    return {
        "task_metadata": TaskLoader().get(TaskEntry(TASK), 1).metadata,
        "hf_split": "test",
        "hf_subset": "default",
        "encode_kwargs": {"batch_size": 4096, "show_progress_bar": False},
    }


def _search(name: str, encoder: VectorEncoder, corpus: Any, queries: Any, top_k: int) -> Any:
    wrapper = _wrapper(name, encoder)
    kwargs = _search_kwargs()
    wrapper.index(corpus, **kwargs)
    return wrapper.search(queries, top_k=top_k, **kwargs)


def synthetic(docs: int, queries: int, dim: int = 384, top_k: int = 100) -> dict[str, Any]:
    """Search ``queries`` × ``docs`` random unit vectors top-k with every exact backend."""
    encoder = VectorEncoder(unit_vectors(docs, dim, 0), unit_vectors(queries, dim, 1))
    corpus, query_set = _texts("d", docs), _texts("q", queries)
    backends = ("mteb", "torch", "faiss")
    for name in backends:  # warm-up: 100 queries each
        _search(name, encoder, corpus, query_set.select(range(min(100, queries))), top_k)
    runs: dict[str, Any] = {}
    for name in backends:
        start = time.perf_counter()
        found = _search(name, encoder, corpus, query_set, top_k)
        runs[name] = {"s": time.perf_counter() - start, "found": found}
    reference = runs["mteb"]["found"]
    report: dict[str, Any] = {"docs": docs, "queries": queries, "dim": dim, "top_k": top_k}
    for name in backends:
        found = runs[name]["found"]
        report[f"{name}_s"] = runs[name]["s"]
        differ = [q for q in found if set(found[q]) != set(reference[q])]
        report[f"{name}_queries_with_other_sets"] = len(differ)
        report[f"{name}_differences_are_kth_ties"] = all(
            _kth_tie(found[q], reference[q]) for q in differ
        )
        report[f"{name}_max_score_diff"] = max(
            abs(score - reference[q][doc])
            for q, hits in found.items()
            for doc, score in hits.items()
            if doc in reference[q]
        )
    return report


def _kth_tie(ours: dict[str, float], theirs: dict[str, float], tol: float = 1e-6) -> bool:
    """Whether every doc in one top-k but not the other scores the k-th score (within float
    rounding): a tie at the cut-off that two exact searches need not break alike."""
    kth = max(min(ours.values()), min(theirs.values()))
    others = set(ours) ^ set(theirs)
    return all(abs(ours.get(doc, theirs.get(doc, kth)) - kth) <= tol for doc in others)


def coir_scale(queries: int, dim: int, backends: tuple[str, ...]) -> dict[str, Any]:
    """Index, search and mteb scoring of a COIR-CSN-sized cell with ``queries`` queries, per
    backend, projected to all of COIR-CSN's queries.

    Each backend runs a warm-up, then ``queries // 2`` and ``queries`` queries: indexing the
    corpus is a fixed cost per cell; search and scoring grow with the queries, so the two runs
    give the per-query slope (time = fixed + slope × queries) that the projection uses.
    """
    docs = unit_vectors(CSN_DOCS, dim, 2)
    encoder = VectorEncoder(docs, unit_vectors(queries, dim, 3))
    corpus, query_set = _texts("d", CSN_DOCS), _texts("q", queries)
    report: dict[str, Any] = {"docs": CSN_DOCS, "queries": queries, "dim": dim, "top_k": 1000}
    for name in backends:
        _timed_cell(name, encoder, corpus, query_set.select(range(min(50, queries))))  # warm-up
        half = _timed_cell(name, encoder, corpus, query_set.select(range(queries // 2)))
        full = _timed_cell(name, encoder, corpus, query_set)
        row: dict[str, Any] = {"half": half, "full": full}
        for phase in ("search_s", "scoring_s"):
            slope = (full[phase] - half[phase]) / (queries - queries // 2)
            fixed = max(0.0, full[phase] - slope * queries)
            row[f"projected_{phase}"] = fixed + slope * CSN_QUERIES
        row["projected_index_s"] = full["index_s"]
        report[name] = row
        gc.collect()
    return report


def _timed_cell(name: str, encoder: VectorEncoder, corpus: Any, queries: Any) -> dict[str, Any]:
    """One cell's index, search (top-1000) and mteb scoring seconds; one relevant doc per
    query, the doc ranked 5th, so every cut-off has work to do."""
    from mteb._evaluators.retrieval_metrics import calculate_retrieval_scores

    wrapper, kwargs = _wrapper(name, encoder), _search_kwargs()
    start = time.perf_counter()
    wrapper.index(corpus, **kwargs)
    indexed = time.perf_counter()
    found = wrapper.search(queries, top_k=1000, **kwargs)
    searched = time.perf_counter()
    qrels = {q: {sorted(hits, key=hits.__getitem__)[-5]: 1} for q, hits in found.items()}
    begun = time.perf_counter()
    scores = calculate_retrieval_scores(found, qrels, [1, 3, 5, 10, 20, 100, 1000])
    return {
        "queries": len(queries),
        "index_s": indexed - start,
        "search_s": searched - indexed,
        "scoring_s": time.perf_counter() - begun,
        "ndcg_at_10": scores.ndcg["NDCG@10"],
    }


def csn_host_phase(queries: int) -> dict[str, Any]:
    """The host's part of a COIR-CSN cell's score phase after the top-k (which a GPU runs):
    the index's rows to Python lists, ``run.search.ranked_results`` (the results dicts mteb's
    metrics read) and mteb's scoring, for ``queries`` queries of 1,000 distinct random docs of
    the 1,003,765 (scores descending), each part projected linearly to all 52,561 queries."""
    import torch
    from mteb._evaluators.retrieval_metrics import calculate_retrieval_scores

    from embharness.run.search import ranked_results

    rng = np.random.default_rng(4)
    ids = [f"doc{i}" for i in range(CSN_DOCS)]
    draws = (np.unique(rng.integers(0, CSN_DOCS, 1010)) for _ in range(queries))
    hits = torch.from_numpy(np.stack([rng.permutation(row)[:1000] for row in draws]))
    values = torch.from_numpy(-np.sort(-rng.random((queries, 1000), dtype=np.float32), axis=1))
    start = time.perf_counter()
    value_rows, hit_rows = values.tolist(), hits.tolist()
    listed = time.perf_counter()
    found = ranked_results(
        ids,
        query_idx_to_id={row: f"q{row}" for row in range(queries)},
        cos_scores_top_k_idx=hit_rows,
        cos_scores_top_k_values=value_rows,
    )
    built = time.perf_counter()
    qrels = {q: {sorted(hits_, key=hits_.__getitem__)[-5]: 1} for q, hits_ in found.items()}
    begun = time.perf_counter()
    calculate_retrieval_scores(found, qrels, [1, 3, 5, 10, 20, 100, 1000])
    seconds = {
        "tolist_s": listed - start,
        "results_s": built - listed,
        "scoring_s": time.perf_counter() - begun,
    }
    scale = CSN_QUERIES / queries
    return {"queries": queries} | {f"projected_{k}": v * scale for k, v in seconds.items()}


def csn_part_shares(max_parts: int = 5) -> dict[int, float]:
    """Per number of parts: the share of COIR-CSN's queries in its heaviest part, as the
    runner groups its subsets (``run.cell_parts.subset_groups``; queries per subset from
    mteb's packaged descriptive statistics)."""
    from types import SimpleNamespace

    import mteb

    from embharness.run.cell_parts import subset_groups

    stats = mteb.get_task("COIRCodeSearchNetRetrieval").metadata.descriptive_stats["test"]
    queries = {
        subset: int(values["num_samples"] - values["num_documents"])
        for subset, values in stats["hf_subset_descriptive_stats"].items()
    }
    dataset = {subset: {"test": {"queries": range(n)}} for subset, n in queries.items()}
    task = SimpleNamespace(hf_subsets=list(queries), dataset=dataset)
    total = sum(queries.values())
    return {
        parts: max(sum(queries[s] for s in group) for group in subset_groups(task, parts)) / total
        for parts in range(1, max_parts + 1)
    }
