"""Scoring at scale: the ``search`` setting's two backends, faiss and mteb, side by side.

1. Score-phase time (cell wall minus encode) per dim on the whole stdlib task, warm cache.
2. Whole-process wall time of ``embharness run`` on a warm 5-dim sweep and a 1-dim sweep.
3. A synthetic corpus (unit vectors, dim 384) searched top-100 through mteb's
   ``SearchEncoderWrapper``: its own chunked search against the harness's faiss wrapper.

Usage: .venv/bin/python benchmarks/bench_search.py [--max-samples N] [--docs N] [--queries N]
       [--cache-dir DIR]  (reuse a warm embedding cache; the first cell warms a new one)
Writes .cache/bench/search.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

import embharness  # noqa: F401  (process settings before mteb is imported)
from embharness.run.runner import RunOptions, SweepRunner
from embharness.run.sweep import parse_sweep

TASK = "PythonStdlibDocstringRetrieval"
MINILM = "sentence-transformers/all-MiniLM-L6-v2"
BACKENDS = ("mteb", "faiss")
SWEEP_DIMS = [32, 64, 128, 256, 384]


def sweep_data(dims: list[int], search: str, max_samples: int | None) -> dict[str, Any]:
    """MiniLM on the stdlib task at ``dims`` with the ``search`` backend."""
    task = {"name": TASK, "max_samples": max_samples} if max_samples else TASK
    return {
        "name": f"bench-search-{search}",
        "settings": {"batch_size": 32, "search": search},
        "models": [{"name": MINILM, "dims": dims}],
        "tasks": [task],
    }


def score_phase(
    work: Path, cache: Path, max_samples: int | None
) -> dict[str, dict[int, dict[str, float]]]:
    """Per backend and dim: the cell's score-phase seconds and main score (cache warm)."""
    warm = parse_sweep(sweep_data([384], "mteb", max_samples))
    SweepRunner(warm, RunOptions(work / "warm", cache, show_progress=False)).run()
    table: dict[str, dict[int, dict[str, float]]] = {}
    for search in BACKENDS:
        sweep = parse_sweep(sweep_data([384, 32], search, max_samples))
        options = RunOptions(work / f"score-{search}", cache, "always", show_progress=False)
        table[search] = {
            o.dim: {
                "score_s": o.record["timing"]["score_s"],
                "encode_s": o.record["timing"]["encode_s"],
                "main_score": o.main_score or 0.0,
            }
            for o in SweepRunner(sweep, options).run()
        }
    return table


def process_wall(work: Path, cache: Path, max_samples: int | None) -> dict[str, dict[str, float]]:
    """Per backend: wall seconds of a whole ``embharness run`` process, 5 dims and 1 dim."""
    cli = Path(sys.executable).with_name("embharness")
    table: dict[str, dict[str, float]] = {}
    for search in BACKENDS:
        table[search] = {}
        for label, dims in (("5 dims", SWEEP_DIMS), ("1 dim", [384])):
            path = work / f"{search}-{len(dims)}.yaml"
            path.write_text(yaml.safe_dump(sweep_data(dims, search, max_samples)))
            command = [str(cli), "run", str(path), "--results-dir", str(work / f"proc-{search}")]
            command += ["--cache-dir", str(cache), "--overwrite", "always"]
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True, env=os.environ.copy())
            table[search][label] = time.perf_counter() - start
    return table


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


def synthetic(docs: int, queries: int, dim: int = 384, top_k: int = 100) -> dict[str, Any]:
    """Search ``queries`` × ``docs`` random unit vectors top-k with both backends."""
    from datasets import Dataset
    from mteb.models import SearchEncoderWrapper

    from embharness.run.search import faiss_search
    from embharness.run.sweep import TaskEntry
    from embharness.run.task_loading import TaskLoader

    rng = np.random.default_rng(0)

    def unit(n: int) -> np.ndarray:
        vectors = rng.standard_normal((n, dim), dtype=np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    encoder = VectorEncoder(unit(docs), unit(queries))
    corpus = Dataset.from_dict(
        {"id": [f"d{i}" for i in range(docs)], "text": [f"d{i}" for i in range(docs)]}
    )
    query_set = Dataset.from_dict(
        {"id": [f"q{i}" for i in range(queries)], "text": [f"q{i}" for i in range(queries)]}
    )
    metadata = TaskLoader().get(TaskEntry(TASK), 1).metadata
    kwargs: dict[str, Any] = {
        "task_metadata": metadata,
        "hf_split": "test",
        "hf_subset": "default",
        "encode_kwargs": {"batch_size": 4096, "show_progress_bar": False},
    }
    runs: dict[str, Any] = {}
    for name in ("mteb", "faiss"):
        wrapper = SearchEncoderWrapper(encoder) if name == "mteb" else faiss_search(encoder)
        start = time.perf_counter()
        wrapper.index(corpus, **kwargs)
        found = wrapper.search(query_set, top_k=top_k, **kwargs)
        runs[name] = {"s": time.perf_counter() - start, "found": found}
    mteb_found, faiss_found = runs["mteb"]["found"], runs["faiss"]["found"]
    score_diff = max(
        abs(score - mteb_found[q][doc])
        for q, hits in faiss_found.items()
        for doc, score in hits.items()
        if doc in mteb_found[q]
    )
    same = all(
        set(runs["mteb"]["found"][q]) == set(runs["faiss"]["found"][q])
        for q in runs["mteb"]["found"]
    )
    return {
        "docs": docs,
        "queries": queries,
        "dim": dim,
        "top_k": top_k,
        "mteb_s": runs["mteb"]["s"],
        "faiss_s": runs["faiss"]["s"],
        "same_top_k_sets": same,
        "max_score_diff": score_diff,
    }


def main() -> None:
    """Run the three comparisons, print a table, write .cache/bench/search.json."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-samples", type=int, default=None)
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=5_000)
    parser.add_argument(
        "--cache-dir", type=Path, default=None, help="an embedding cache to reuse (default: new)"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-search-"))
    cache = args.cache_dir or work / "cache"
    try:
        scores = score_phase(work, cache, args.max_samples)
        walls = process_wall(work, cache, args.max_samples)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    synth = synthetic(args.docs, args.queries)
    report = {"task": TASK, "max_samples": args.max_samples, "score_phase": scores}
    report |= {"process_wall_s": walls, "synthetic": synth}
    out = Path(".cache/bench/search.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"{TASK} (max_samples {args.max_samples}), warm cache, score phase per cell:")
    for dim in (384, 32):
        row = {s: scores[s][dim] for s in BACKENDS}
        ours, theirs = row["faiss"]["score_s"], row["mteb"]["score_s"]
        print(
            f"  dim {dim:>3}: mteb {theirs:6.2f} s  faiss {ours:6.2f} s  ({theirs / ours:.1f}x)"
            f"  main mteb {row['mteb']['main_score']:.6f} faiss {row['faiss']['main_score']:.6f}"
        )
    print("whole `embharness run` process, warm cache:")
    for search in BACKENDS:
        w = walls[search]
        print(
            f"  {search:>5}: 5 dims {w['5 dims']:6.1f} s  1 dim {w['1 dim']:6.1f} s  "
            f"ratio {w['5 dims'] / w['1 dim']:.2f}x"
        )
    print(
        f"synthetic {synth['queries']} queries x {synth['docs']} docs (dim {synth['dim']}, "
        f"top-{synth['top_k']}): mteb {synth['mteb_s']:.1f} s  faiss {synth['faiss_s']:.1f} s  "
        f"same top-k sets: {synth['same_top_k_sets']}, max score diff {synth['max_score_diff']:.1e}"
    )


if __name__ == "__main__":
    main()
