"""Deployment trade-offs (issue 14): the precision grid, and the ANN table slot.

Grid part: the whole dims × precision grid over the offline retrieval suite (MiniLM, every
Matryoshka dim × float32, float16, int8, ubinary, binary-rescore), run from the embedding cache,
against one plain cell per task (float32, full dim, cold cache: what a user waits for to get one
score). Both run once as a warm-up (fresh folders), then once measured, side by side:

    ratio = wall(whole grid, warm cache) / wall(plain full-dim cells, cold cache)

Each wall is the whole ``SweepRunner.run()`` the user waits for (task loading, mteb, writing).
``ann_section()`` is the ANN half; it runs ``benchmarks/bench_ann.py`` where that exists.

    .venv/bin/python benchmarks/bench_tradeoffs.py [--max-samples 600] [--skip-ann]
"""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
import time
from pathlib import Path

from embharness.encoding.quantize import PRECISIONS
from embharness.run.options import RunOptions
from embharness.run.runner import SweepRunner
from embharness.run.sweep import Sweep, parse_sweep

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
DIMS = [384, 256, 128, 64, 32]
TASKS = ["HumanEvalRetrievalOffline", "PythonStdlibDocstringRetrieval"]


def _sweep(dims: list[int], precisions: list[str], cap: int | None) -> Sweep:
    return parse_sweep(
        {
            "settings": {"precisions": precisions, "dtype": "float32"},
            "models": [{"name": MINILM, "dims": dims}],
            "tasks": [{"name": t, "max_samples": cap} for t in TASKS],
        }
    )


def _timed(sweep: Sweep, results: Path, cache: Path) -> tuple[float, int]:
    options = RunOptions(results, cache, show_progress=False)
    runner = SweepRunner(sweep, options, say=lambda _: None)
    start = time.perf_counter()
    outcomes = runner.run()
    wall = time.perf_counter() - start
    assert all(o.status == "ran" for o in outcomes), "a cell did not run"
    return wall, len(outcomes)


def grid_section(cap: int | None) -> None:
    """Print the grid's wall ÷ plain cells' wall (one warm-up round, one measured round)."""
    plain, grid = _sweep([max(DIMS)], ["float32"], cap), _sweep(DIMS, list(PRECISIONS), cap)
    for round_name in ("warm-up", "measured"):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            plain_s, plain_n = _timed(plain, root / "plain", root / "cache")
            grid_s, grid_n = _timed(grid, root / "grid", root / "cache")
        print(
            f"[{round_name}] plain: {plain_n} cells in {plain_s:.2f}s (cold cache); "
            f"grid: {grid_n} points in {grid_s:.2f}s (warm cache); "
            f"grid/plain = {grid_s / plain_s:.3f}; grid/one plain cell = "
            f"{grid_s / (plain_s / plain_n):.3f}",
            flush=True,
        )


def ann_section() -> None:
    """ANN half of the benchmark (issue 14 part 2): runs ``bench_ann.main()`` if present."""
    path = Path(__file__).with_name("bench_ann.py")
    if not path.is_file():
        print("ANN: benchmarks/bench_ann.py not present, skipped")
        return
    spec = importlib.util.spec_from_file_location("bench_ann", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main()


def main() -> None:
    """Parse the options and run both halves."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-samples", type=int, default=600)
    parser.add_argument("--skip-ann", action="store_true")
    args = parser.parse_args()
    grid_section(args.max_samples or None)
    if not args.skip_ann:
        ann_section()


if __name__ == "__main__":
    main()
