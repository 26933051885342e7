"""Launcher overhead: the offline sweep under local, submitit-local and Ray-local, each as the
whole `embharness run` command from an empty results folder and cache, after a warm-up run of
every configuration; reported as a ratio to the local launcher's wall time. Then a projection of
MTEB(Code, v1) for the two jina-code models on 8 GPUs, from `embharness plan`'s token estimates
and the H100 token-budget throughputs measured in issue 11 (0.5b 210k tok/s, 1.5b 107k tok/s).
"""

from __future__ import annotations

import argparse
import heapq
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BODY = """
models:
  - name: sentence-transformers/all-MiniLM-L6-v2
    dims: [64, 384]
settings:
  batch_size: 32
tasks:
  - name: PythonStdlibDocstringRetrieval
    max_samples: {n}
  - name: HumanEvalRetrievalOffline
"""
BLOCKS = {
    "local": "",
    "submitit-local": "launcher:\n  name: slurm\n  cluster: local\n",
    # Ray pins a task's torch threads to its num_cpus: one job at a time on both cores, as the
    # local launcher runs (two 1-thread jobs would leave a core idle once the short job ends).
    "ray-local": "launcher:\n  name: ray\n  num_cpus: 2\n  cpus_per_job: 2\n",
}
TOKENS_PER_S = {
    "jinaai/jina-code-embeddings-0.5b": 210_000,
    "jinaai/jina-code-embeddings-1.5b": 107_000,
}


def _run(sweep: Path, work: Path) -> float:
    for sub in ("results", "cache"):
        shutil.rmtree(work / sub, ignore_errors=True)
    exe = Path(sys.executable).parent / "embharness"
    args = [str(exe), "run", str(sweep), "--results-dir", str(work / "results")]
    args += ["--cache-dir", str(work / "cache"), "--quiet"]
    start = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    return time.perf_counter() - start


def overhead(max_samples: int, rounds: int, warmup_samples: int) -> dict[str, float]:
    """Median wall seconds per launcher (after one warm-up run each, of ``warmup_samples``:
    it warms imports, the page cache and Ray's install; its size does not matter)."""
    walls: dict[str, list[float]] = {name: [] for name in BLOCKS}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sweeps, warmups = {}, {}
        for name, block in BLOCKS.items():
            sweeps[name] = work / f"{name}.yaml"
            sweeps[name].write_text(BODY.format(n=max_samples) + block)
            warmups[name] = work / f"{name}-warmup.yaml"
            warmups[name].write_text(BODY.format(n=warmup_samples) + block)
        for name in BLOCKS:
            _run(warmups[name], work)
        for _ in range(rounds):
            for name in BLOCKS:
                walls[name].append(_run(sweeps[name], work))
    return {name: sorted(w)[len(w) // 2] for name, w in walls.items()}


def projection(sweep_file: Path, gpus: int, ratio: float) -> None:
    """Makespan of the (model, task) jobs on ``gpus`` GPUs (longest job first)."""
    from embharness.run.plan import plan_sweep
    from embharness.run.sweep import load_sweep

    plan = plan_sweep(load_sweep(sweep_file), ROOT / "results")
    jobs = []
    for row in plan.rows:
        rate = TOKENS_PER_S.get(row.model)
        if rate and row.count.tokens:
            jobs.append((row.count.tokens / rate, row.model, row.task))
    total = sum(j[0] for j in jobs)
    loads = [0.0] * gpus
    for seconds, _, _ in sorted(jobs, reverse=True):
        heapq.heapreplace(loads, loads[0] + seconds)
    makespan = max(loads)
    print(
        f"projection for {sweep_file.name}: {len(jobs)} (model, task) jobs, "
        f"{sum(j[0] for j in jobs if '0.5b' in j[1]) / 3600:.2f} h (0.5b) + "
        f"{sum(j[0] for j in jobs if '1.5b' in j[1]) / 3600:.2f} h (1.5b) of encode on one H100"
    )
    print(
        f"  one GPU: {total / 3600:.2f} h; {gpus} GPUs (longest job first): "
        f"{makespan / 3600:.2f} h; × launcher overhead {ratio:.3f}: {makespan * ratio / 3600:.2f} h"
    )
    print(f"  longest single job: {max(jobs)[0] / 3600:.2f} h ({max(jobs)[1]} × {max(jobs)[2]})")


def main() -> None:
    """Measure, then project."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-samples", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--warmup-samples", type=int, default=None, help="default: --max-samples")
    parser.add_argument("--sweep", type=Path, default=ROOT / "evals" / "mteb-code.yaml")
    parser.add_argument("--gpus", type=int, default=8)
    args = parser.parse_args()
    walls = overhead(args.max_samples, args.rounds, args.warmup_samples or args.max_samples)
    base = walls["local"]
    jobs = 2
    for name, wall in walls.items():
        print(
            f"{name:15} wall {wall:6.1f}s  ratio {wall / base:5.3f}  "
            f"overhead/job {(wall - base) / jobs:+6.1f}s"
        )
    worst = max(w / base for w in walls.values())
    projection(args.sweep, args.gpus, worst)


if __name__ == "__main__":
    main()
