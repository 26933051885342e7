"""Scoring at scale: the ``search`` setting's exact backends (torch, mteb, faiss) side by side.

1. Score-phase time (cell wall minus encode) per dim on the whole stdlib task, warm cache.
2. Whole-process wall time of ``embharness run`` on the offline suite (evals/offline.yaml's
   tasks), warm cache: 5 dims against 1 dim, per backend, with the score pool at its default
   size (``run/score_pool.py``) and without it (``--score-workers 0``), each configuration run
   once as a warm-up before the timed run (issue goal: 5 dims ≤ 1.25 × 1 dim).
3. A synthetic corpus (unit vectors, dim 384) searched top-100 through mteb's
   ``SearchEncoderWrapper``: its own chunked search against the two exact indexes.
4. COIR-CodeSearchNet scale (``synthetic_search.coir_scale``): 1,003,765 docs, a slice of the 52,561
   queries, top-1000, search and mteb's scoring timed apart and projected to all queries.
5. The host's part of that cell's score phase once a GPU has the top-1000
   (``synthetic_search.csn_host_phase``), projected against its GPU encode.

Usage: .venv/bin/python benchmarks/bench_search.py [--max-samples N] [--docs N] [--queries N]
       [--cache-dir DIR]  (reuse a warm embedding cache; the first cell warms a new one)
       [--csn-queries N] [--csn-dim D]  (0 queries: skip the COIR-scale part)
       [--csn-host-queries N]  (0: skip part 5)
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

import datasets
import yaml
from synthetic_search import CSN_QUERIES, coir_scale, csn_host_phase, csn_part_shares, synthetic

import embharness  # noqa: F401  (process settings before mteb is imported)
from embharness.run.options import RunOptions
from embharness.run.runner import SweepRunner
from embharness.run.score_pool import auto_workers, available_cores
from embharness.run.sweep import parse_sweep

TASK = "PythonStdlibDocstringRetrieval"
MINILM = "sentence-transformers/all-MiniLM-L6-v2"
BACKENDS = ("torch", "mteb", "faiss")
# faiss ranks like torch (its search is in part 1); mteb's own heap merge is timed in part 3.
# (label, search, --score-workers): None is the CLI's default pool size, 0 no pool.
PROCESS_CONFIGS = (
    ("torch", "torch", None),
    ("torch serial", "torch", 0),
    ("mteb serial", "mteb", 0),
)
CSN_BACKENDS = ("torch", "faiss")
OFFLINE_SUITE = Path(__file__).parents[1] / "evals" / "offline.yaml"
SWEEP_DIMS = [32, 64, 128, 256, 384]
DIM_RUNS = (("5 dims", SWEEP_DIMS), ("1 dim", [384]))


def sweep_data(
    dims: list[int], search: str, max_samples: int | None, tasks: list[str] | None = None
) -> dict[str, Any]:
    """MiniLM on ``tasks`` (default: the stdlib task) at ``dims`` with the ``search`` backend."""
    names = tasks or [TASK]
    return {
        "name": f"bench-search-{search}",
        "settings": {"batch_size": 32, "search": search},
        "models": [{"name": MINILM, "dims": dims}],
        "tasks": [{"name": n, "max_samples": max_samples} if max_samples else n for n in names],
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
    """Per configuration (``PROCESS_CONFIGS``): wall seconds of a whole ``embharness run``
    process over the offline suite's tasks, 5 dims and 1 dim; every configuration runs once
    untimed first (it also fills the embedding cache), then once timed."""
    cli = Path(sys.executable).with_name("embharness")
    tasks = yaml.safe_load(OFFLINE_SUITE.read_text())["tasks"]
    commands = {}
    for name, search, workers in PROCESS_CONFIGS:
        for label, dims in DIM_RUNS:
            path = work / f"{search}-{len(dims)}.yaml"
            path.write_text(yaml.safe_dump(sweep_data(dims, search, max_samples, tasks)))
            results = str(work / f"proc-{search}")
            command = [str(cli), "run", str(path), "--results-dir", results]
            command += ["--cache-dir", str(cache), "--overwrite", "always"]
            pool = [] if workers is None else ["--score-workers", str(workers)]
            commands[name, label] = command + pool
    for command in commands.values():  # warm-up
        subprocess.run(command, check=True, capture_output=True, env=os.environ.copy())
    table: dict[str, dict[str, float]] = {name: {} for name, _, _ in PROCESS_CONFIGS}
    for (name, label), command in commands.items():
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=os.environ.copy())
        table[name][label] = time.perf_counter() - start
    return table


def main() -> None:
    """Run the four comparisons, print a table, write .cache/bench/search.json."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-samples", type=int, default=None)
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=5_000)
    parser.add_argument(
        "--cache-dir", type=Path, default=None, help="an embedding cache to reuse (default: new)"
    )
    parser.add_argument("--csn-queries", type=int, default=1_000)
    parser.add_argument("--csn-dim", type=int, default=896, help="896: jina-code-0.5b")
    parser.add_argument("--csn-host-queries", type=int, default=5_000)
    parser.add_argument("--csn-tokens-s", type=float, default=297.0, help="COIR-CSN encode s")
    args = parser.parse_args()
    datasets.disable_progress_bars()  # mteb's corpus bars, once per 50k docs
    work = Path(tempfile.mkdtemp(prefix="bench-search-"))
    cache = args.cache_dir or work / "cache"
    try:
        scores = score_phase(work, cache, args.max_samples)
        walls = process_wall(work, cache, args.max_samples)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    synth = synthetic(args.docs, args.queries)
    csn = coir_scale(args.csn_queries, args.csn_dim, CSN_BACKENDS) if args.csn_queries else None
    host = csn_host_phase(args.csn_host_queries) if args.csn_host_queries else None
    if host is not None:
        host["part_shares"] = csn_part_shares()
    report = {"task": TASK, "max_samples": args.max_samples, "score_phase": scores}
    report |= {"process_wall_s": walls, "synthetic": synth, "coir_scale": csn, "csn_host": host}
    out = Path(".cache/bench/search.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print_report(report, args.csn_tokens_s)


def print_report(report: dict[str, Any], encode_s: float) -> None:
    """The four parts as a table; ``encode_s``: the projected GPU encode of COIR-CSN."""
    scores, walls, synth = report["score_phase"], report["process_wall_s"], report["synthetic"]
    print(f"{TASK} (max_samples {report['max_samples']}), warm cache, score phase per cell:")
    for dim in (384, 32):
        cells = "  ".join(f"{s} {scores[s][dim]['score_s']:6.2f} s" for s in BACKENDS)
        mains = " ".join(f"{scores[s][dim]['main_score']:.6f}" for s in BACKENDS)
        print(f"  dim {dim:>3}: {cells}  main scores {mains}")
    print(
        "whole `embharness run` process on the offline suite, warm cache (after a warm-up), "
        f"{available_cores()} cores, default pool {auto_workers()} worker(s):"
    )
    for search, w in walls.items():
        ratio = w["5 dims"] / w["1 dim"]
        print(
            f"  {search:>12}: 5 dims {w['5 dims']:6.1f} s  1 dim {w['1 dim']:6.1f} s  {ratio:.2f}x"
        )
    print(
        f"synthetic {synth['queries']} queries x {synth['docs']} docs (dim {synth['dim']}, "
        f"top-{synth['top_k']}): "
        + "  ".join(
            f"{s} {synth[f'{s}_s']:.1f} s ({synth[f'{s}_queries_with_other_sets']} other sets, "
            f"k-th ties only: {synth[f'{s}_differences_are_kth_ties']}, "
            f"max diff {synth[f'{s}_max_score_diff']:.1e})"
            for s in ("mteb", "torch", "faiss")
        )
    )
    print_csn(report, encode_s)


def print_csn(report: dict[str, Any], encode_s: float) -> None:
    """Parts 4 and 5: COIR-CSN's score phase, projected, against ``encode_s`` of GPU encode."""
    host = report["csn_host"]
    if host is not None:
        parts = [host[f"projected_{p}_s"] for p in ("tolist", "results", "scoring")]
        print(
            f"COIR-CSN host score phase after a GPU top-1000 ({host['queries']} queries, "
            f"projected to {CSN_QUERIES}): rows to lists {parts[0]:.1f} s + results dicts "
            f"{parts[1]:.1f} s + mteb scoring {parts[2]:.1f} s = {sum(parts):.1f} s "
            f"= {100 * sum(parts) / encode_s:.1f} % of {encode_s:.0f} s GPU encode"
        )
        for count, share in host["part_shares"].items():
            wall = share * sum(parts)
            print(
                f"  scored in {count} part(s) (run/cell_parts.py): heaviest part "
                f"{100 * share:.1f} % of the queries -> {wall:.1f} s = "
                f"{100 * wall / encode_s:.1f} % of encode"
            )
    csn = report["coir_scale"]
    if csn is None:
        return
    print(
        f"COIR-CSN scale: {csn['queries']} of {CSN_QUERIES} queries x {csn['docs']} docs, "
        f"dim {csn['dim']}, top-{csn['top_k']}; projected to all queries vs {encode_s:.0f} s "
        "GPU encode:"
    )
    for search in CSN_BACKENDS:
        row = csn[search]
        parts = [row[f"projected_{p}_s"] for p in ("index", "search", "scoring")]
        print(
            f"  {search:>5}: index {parts[0]:5.0f} s + search {parts[1]:6.0f} s + mteb scoring "
            f"{parts[2]:5.0f} s = {100 * sum(parts) / encode_s:5.0f} % of encode "
            f"(scoring alone {100 * parts[2] / encode_s:.0f} %)"
        )


if __name__ == "__main__":
    main()
