"""The report marks what a reader must know: a non-published dtype and harness-chosen prompts.

Real runs of jina-code-embeddings' spec on the tiny Qwen2 (CPU, so float32 where the paper used
float16), on a task of the paper's Table 4b and on one outside it.
"""

from __future__ import annotations

from pathlib import Path

from embharness.report.build import build_report
from embharness.results.runs import load_runs
from embharness.run.options import RunOptions
from embharness.run.runner import SweepRunner
from embharness.run.sweep import parse_sweep

JINA_CODE = "jinaai/jina-code-embeddings-0.5b"
IN_TABLE = "HumanEvalRetrievalOffline"
OUTSIDE = "ManpagesBitextMining"
FP32_MARK = "float32 on CPU, published in float16 (tolerated by the leaderboard)"


def test_cpu_float32_and_harness_chosen_prompt_are_marked(
    tiny_qwen_dir: Path, tmp_path: Path
) -> None:
    sweep = parse_sweep(
        {
            "settings": {"device": "cpu", "max_samples": 8},
            "models": [{"name": JINA_CODE, "path": str(tiny_qwen_dir), "dims": [64, 256]}],
            "tasks": [IN_TABLE, OUTSIDE],
        }
    )
    results = tmp_path / "results"
    SweepRunner(sweep, RunOptions(results, tmp_path / "cache", show_progress=False)).run()
    runs = load_runs(results)
    assert {run.precision_note for run in runs} == {FP32_MARK}
    chosen = {run.task: run.harness_chosen_prompts() for run in runs}
    assert chosen[IN_TABLE] == []
    assert chosen[OUTSIDE] and all(c.startswith("query: qa (") for c in chosen[OUTSIDE])
    assert "not in the authors' task table" in chosen[OUTSIDE][0]

    files = build_report(results, tmp_path / "reports")
    text = files.markdown.read_text()
    assert "## Harness-chosen prompts" in text
    section = text.split("## Harness-chosen prompts", 1)[1].split("\n## ", 1)[0]
    assert OUTSIDE in section and IN_TABLE not in section
    others = text.split("## Other experiments", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in others.splitlines() if line.startswith("|") and OUTSIDE in line]
    assert rows and all(FP32_MARK in row for row in rows)
    assert all("harness-chosen prompt, query: qa" in row for row in rows)
    rows = [line for line in others.splitlines() if line.startswith("|") and IN_TABLE in line]
    assert rows and all(FP32_MARK in r and "harness-chosen" not in r for r in rows)


def test_dim_table_title_names_a_non_published_dtype(tmp_path: Path) -> None:
    """MiniLM's figures are float32: a float16 run (CPU) gets its own, marked dim table."""
    model = "sentence-transformers/all-MiniLM-L6-v2"
    results = tmp_path / "results"
    for dtype in ("float32", "float16"):
        sweep = parse_sweep(
            {
                "settings": {"device": "cpu", "dtype": dtype, "max_samples": 8},
                "models": [{"name": model, "dims": [64, 384]}],
                "tasks": [IN_TABLE],
            }
        )
        SweepRunner(sweep, RunOptions(results, tmp_path / "cache", show_progress=False)).run()
    text = build_report(results, tmp_path / "reports").markdown.read_text()
    cap = "capped at 8 samples (not comparable)"
    assert f"{model} @ 8b3219a92973, {cap}, float16 on CPU, published in float32" in text
    assert f"**{model} @ 8b3219a92973, {cap}**" in text  # the float32 run: unmarked
    plots = sorted(p.name for p in (tmp_path / "reports" / "plots").glob("dims_average_*.png"))
    assert len(plots) == 2, plots  # one per dtype, neither overwriting the other
