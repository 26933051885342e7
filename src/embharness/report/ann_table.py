"""The report's "Approximate search" section: one row per index and parameter setting.

Two sources, both optional:

- the ANN benchmark's rows (``benchmarks/bench_ann.py --results-dir DIR`` writes them to
  ``DIR/_embharness/ann_latency_recall.json``, beside no result file so mteb never reads it):
  recall@10 against exact search, nDCG@10 exact → ANN, build time, single-query p50/p99 and
  index memory, measured on one corpus per row;
- ANN experiment folders of a sweep (experiment kwarg ``search``, ``run.ann.search_label``):
  nDCG@10 of the ANN cell against the same cell without ``search`` (exact). A sweep measures
  no recall, build time, latency or memory: those cells read ``—``.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import pandas as pd

from embharness.errors import HarnessError
from embharness.report.document import MISSING, Section, Table
from embharness.results.runs import Run
from embharness.run.ann import params_text, parse_search_label

RESULTS_FILE = Path("_embharness") / "ann_latency_recall.json"
BENCH_KEYS = ["corpus", "docs", "index", "params", "recall_at_10", "ndcg_at_10_exact"]
BENCH_KEYS += ["ndcg_at_10", "ndcg_at_10_loss", "build_s", "p50_ms", "p99_ms", "memory_mb"]
COLUMNS = ["source", "model", "dim", "corpus", "docs", "queries (timed)", "index", "params"]
COLUMNS += ["recall@10", "nDCG@10 exact → ANN", "loss", "build s", "p50 ms", "p99 ms", "MB"]


def load_bench_rows(results_dir: Path) -> list[dict[str, Any]]:
    """The benchmark's rows under ``results_dir`` (``RESULTS_FILE``), [] when there are none."""
    path = Path(results_dir) / RESULTS_FILE
    if not path.is_file():
        return []
    fix = f"re-run benchmarks/bench_ann.py --results-dir {results_dir}"
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise HarnessError(f"cannot read the ANN table {path}: {exc}", fix) from exc
    if not isinstance(rows, list) or not all(
        isinstance(r, dict) and set(BENCH_KEYS) <= set(r) for r in rows
    ):
        raise HarnessError(f"{path} is not a list of ANN rows with {', '.join(BENCH_KEYS)}", fix)
    return rows


def _ndcg(run: Run) -> float | None:
    values = [
        float(entry["ndcg_at_10"])
        for entries in run.result.scores.values()
        for entry in entries
        if "ndcg_at_10" in entry
    ]
    return statistics.fmean(values) if values else None


def _key(run: Run) -> tuple[Any, ...]:
    rest = {k: v for k, v in run.kwargs.items() if k != "search"}
    return (run.model, run.revision, run.task, tuple(sorted(rest.items())))


def sweep_rows(runs: list[Run]) -> list[dict[str, Any]]:
    """One row per ANN experiment run (bench row keys; unmeasured values None)."""
    exact = {_key(r): _ndcg(r) for r in runs if "search" not in r.kwargs}
    rows = []
    for run in runs:
        parsed = parse_search_label(str(run.kwargs.get("search", "")))
        if parsed is None:
            continue
        base, ndcg = exact.get(_key(run)), _ndcg(run)
        cap = f" (max_samples {run.max_samples})" if run.capped else ""
        rows.append(
            {
                "source": "sweep",
                "model": run.model,
                "dim": run.dim,
                "corpus": run.task + cap,
                "index": parsed[0],
                "params": parsed[1],
                "ndcg_at_10_exact": base,
                "ndcg_at_10": ndcg,
                "ndcg_at_10_loss": None if base is None or ndcg is None else base - ndcg,
            }
        )
    return sorted(rows, key=lambda r: (r["model"], r["corpus"], r["dim"] or 0, r["index"]))


def _num(value: Any, fmt: str) -> str:
    return MISSING if value is None else format(value, fmt)


def _points(value: Any) -> str:
    return MISSING if value is None else f"{100 * value:.2f}"


def _queries(row: dict[str, Any]) -> str:
    count, timed = row.get("queries"), row.get("latency_queries")
    if count is None:
        return MISSING
    return f"{count:,} ({timed:,} timed)" if timed is not None else f"{count:,}"


def bench_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The rows as the section's string table (columns ``COLUMNS``; nDCG in points)."""
    shown = [
        [
            row.get("source", "bench"),
            row.get("model", MISSING),
            _num(row.get("dim"), "d"),
            row["corpus"],
            _num(row.get("docs"), ","),
            _queries(row),
            row["index"] if row["params"] else f"{row['index']} (exact)",
            params_text(row["params"]) or MISSING,
            _num(row.get("recall_at_10"), ".4f"),
            f"{_points(row['ndcg_at_10_exact'])} → {_points(row['ndcg_at_10'])}",
            MISSING if row["ndcg_at_10_loss"] is None else f"{100 * row['ndcg_at_10_loss']:+.2f}",
            _num(row.get("build_s"), ".2f"),
            _num(row.get("p50_ms"), ".3f"),
            _num(row.get("p99_ms"), ".3f"),
            _num(row.get("memory_mb"), ".1f"),
        ]
        for row in rows
    ]
    return pd.DataFrame(shown, columns=COLUMNS)


NOTE = (
    "recall@10: share of the exact top 10 the index returns, mean over all queries. "
    "nDCG@10 in points (pytrec_eval, as mteb scores it), exact search → the index, and the "
    "loss (exact − ANN; negative: the index scored higher). Bench rows: build s is "
    "`add_documents` (normalise, train, add) after a warm-up build; p50/p99 are single-query "
    "latencies through mteb's index protocol on a fixed sample of the queries (timed count "
    "beside the query count), after warm-up queries; MB is the serialised index. Rows of one "
    "build share its build time and memory. Sweep rows: nDCG@10 of the ANN experiment folder "
    "against the same cell without `search`; a sweep measures no recall, time or memory (—)."
)


def ann_section(runs: list[Run], results_dir: Path) -> list[Section]:
    """The report's "Approximate search" section, or nothing without bench or sweep rows."""
    bench, sweep = load_bench_rows(results_dir), sweep_rows(runs)
    if not bench and not sweep:
        return []
    where = f"Bench rows from `{RESULTS_FILE.as_posix()}` (benchmarks/bench_ann.py)."
    table = Table(bench_frame(bench + sweep), "Latency and recall per index and setting")
    return [Section("Approximate search", paragraphs=[where, NOTE], tables=[table])]
