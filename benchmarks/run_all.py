"""Run every benchmark (``make bench``): engine throughput, token-budget batches (about 3
minutes on 2 cores), the sweep engine, the search backends, then tokens/s and MFU on jina-code
shapes (``bench_gpu.py``: here its small CPU shape, 200 texts, 2 rounds, 546 s measured on 2
cores, the bf16 row about 25 s a pass of it; on a CUDA machine run it without arguments for
the 0.5b/1.5b/v3 table).

The sweep benchmark runs on 800 stdlib queries here (about 6 minutes on 2 cores); run
``benchmarks/bench_sweep.py`` without ``--max-samples`` for the whole task (about 30 minutes).
The search benchmark runs the whole stdlib task, the offline suite's whole process at 5 dims
and 1 dim per exact backend (each once as a warm-up, then timed), a 100k × 5k synthetic search
and 1,000 queries against a 1,003,765-document COIR-CodeSearchNet-sized corpus.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent

if __name__ == "__main__":
    for script, *args in (
        ("bench_engine.py",),
        ("bench_token_budget.py",),
        ("bench_sweep.py", "--max-samples", "800"),
        ("bench_search.py",),
        ("bench_launchers.py",),
        ("bench_gpu.py", "--shapes", "small", "--texts", "200", "--rounds", "2"),
    ):
        print(f"== {script} {' '.join(args)}", flush=True)
        subprocess.run([sys.executable, str(HERE / script), *args], check=True)
