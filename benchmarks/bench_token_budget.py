"""Count-based against token-budget batches on CPU: the packaged MiniLM (all-MiniLM-L6-v2).

1,000 real texts from ``embharness.tasks.stdlib_offline`` (500 docstring queries and their 500
function documents, every k-th record), batch size 32 as the row cap, ``max_batch_tokens``
None (count-based) vs 4096 vs 8192 vs 16384. One process: each configuration is warmed up
once, then timed rounds alternate the configurations to spread drift over all of them. Every
configuration's vectors must equal the count-based ones to 1e-5.

Usage: .venv/bin/python benchmarks/bench_token_budget.py [--rounds 2] [--batch-size 32]
Writes .cache/bench/token_budget.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import torch

import embharness  # noqa: F401  (process settings before mteb is imported)

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
OUT = Path(".cache/bench/token_budget.json")
BUDGETS: tuple[int | None, ...] = (None, 4096, 8192, 16384)
N_RECORDS = 500  # 500 queries + 500 documents
TOLERANCE = 1e-5


def stdlib_texts(n_records: int = N_RECORDS) -> list[str]:
    """Every k-th stdlib record's docstring query and function document (2 × n texts)."""
    from embharness.tasks.stdlib_offline import build_records

    records = build_records()
    step = max(1, len(records) // n_records)
    chosen = records[::step][:n_records]
    return [r.query for r in chosen] + [r.document for r in chosen]


def label(budget: int | None) -> str:
    """The table's name of one configuration."""
    return "count-based (None)" if budget is None else f"max_batch_tokens {budget}"


def run(rounds: int, batch_size: int) -> dict:
    """Warm up each configuration, then alternate timed rounds; the JSON-ready summary."""
    from embharness.models.engine import EncodingEngine
    from embharness.models.loading import LoadSettings, load_backend
    from embharness.specs.registry import get_spec

    backend = load_backend(get_spec(MINILM), LoadSettings(device="cpu"))
    texts = stdlib_texts()
    lengths = backend.tokenize(texts, backend.info.max_length).lengths()
    engines = {
        b: EncodingEngine(batch_size, show_progress=False, max_batch_tokens=b) for b in BUDGETS
    }
    reference = engines[None].encode(backend, texts).vectors  # warm-up of count-based
    gaps = {b: 0.0 for b in BUDGETS}
    for budget, engine in engines.items():
        if budget is not None:  # warm-up of each token-budget configuration
            gaps[budget] = float(np.abs(engine.encode(backend, texts).vectors - reference).max())
    seconds = {b: 0.0 for b in BUDGETS}
    best = {b: float("inf") for b in BUDGETS}
    for round_no in range(rounds):
        for budget, engine in engines.items():
            start = time.perf_counter()
            vectors = engine.encode(backend, texts).vectors
            elapsed = time.perf_counter() - start
            seconds[budget] += elapsed
            best[budget] = min(best[budget], elapsed)
            gaps[budget] = max(gaps[budget], float(np.abs(vectors - reference).max()))
            print(f"round {round_no + 1} {label(budget):<24} {elapsed:7.2f} s", flush=True)
    return {
        "model": MINILM,
        "texts": len(texts),
        "tokens": int(sum(lengths)),
        "max_text_tokens": int(max(lengths)),
        "batch_size": batch_size,
        "rounds": rounds,
        "configurations": {
            label(b): {
                "max_batch_tokens": b,
                "seconds": round(seconds[b], 3),
                "texts_per_s": round(len(texts) * rounds / seconds[b], 1),
                "best_round_texts_per_s": round(len(texts) / best[b], 1),
                "max_abs_diff_vs_count_based": gaps[b],
            }
            for b in BUDGETS
        },
        "device": "cpu",
        "torch_threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__,
    }


def print_table(summary: dict) -> None:
    """One row per configuration: seconds, texts/s, and the gap to count-based vectors."""
    print(
        f"\n{summary['texts']} stdlib texts ({summary['tokens']} tokens), MiniLM on CPU, "
        f"batch_size {summary['batch_size']}, {summary['rounds']} timed rounds each"
    )
    print(f"{'configuration':<26}{'seconds':>10}{'texts/s':>10}{'best round':>12}{'max |Δ|':>10}")
    for name, row in summary["configurations"].items():
        print(
            f"{name:<26}{row['seconds']:>10.2f}{row['texts_per_s']:>10.1f}"
            f"{row['best_round_texts_per_s']:>12.1f}{row['max_abs_diff_vs_count_based']:>10.1e}"
        )
    print("texts/s: all timed rounds together; best round: the fastest single round")


def main() -> None:
    """Run the benchmark, print the table, write the JSON; fail if vectors disagree."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2, help="timed rounds per configuration")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    summary = run(args.rounds, args.batch_size)
    print_table(summary)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"→ {OUT}")
    worst = max(r["max_abs_diff_vs_count_based"] for r in summary["configurations"].values())
    if worst > TOLERANCE:
        raise SystemExit(f"vectors disagree: max |Δ| {worst:.2e} > {TOLERANCE}")


if __name__ == "__main__":
    main()
