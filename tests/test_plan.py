"""``embharness plan``: real text counts, mteb statistics, done cells, and no model loaded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from embharness.cli import main
from embharness.run import plan as plan_module
from embharness.run.options import RunOptions
from embharness.run.plan import CHARS_PER_TOKEN, plan_lines, plan_sweep
from embharness.run.runner import SweepRunner
from embharness.run.sweep import load_sweep, parse_sweep
from embharness.tasks.registry import get_task

ROOT = Path(__file__).resolve().parents[1]
OFFLINE = ROOT / "evals" / "offline.yaml"
MINILM = "sentence-transformers/all-MiniLM-L6-v2"


def _refuse_load(*args: object, **kwargs: object) -> None:
    raise AssertionError("planning must not load a model")


def _forbid_loads(patch: pytest.MonkeyPatch) -> None:
    patch.setattr("embharness.models.loading.load_backend", _refuse_load)
    patch.setattr("embharness.run.runner.load_backend", _refuse_load)
    patch.setattr("sentence_transformers.SentenceTransformer", _refuse_load)


@pytest.fixture(autouse=True)
def no_model_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test here fails if anything tries to load weights."""
    _forbid_loads(monkeypatch)


def _real_texts(name: str) -> int:
    """Queries + corpus documents (retrieval) or both sentences (bitext), counted by hand."""
    task = get_task(name)
    task.load_data()
    total = 0
    for subset in task.dataset.values():
        for split in task.metadata.eval_splits:
            data = subset[split]
            if task.metadata.type == "BitextMining":
                total += 2 * len(data)
            else:
                total += len(data["queries"]) + len(data["corpus"])
    return total


@pytest.fixture(scope="module")
def offline_plan() -> plan_module.Plan:
    with pytest.MonkeyPatch.context() as patch:
        _forbid_loads(patch)
        return plan_sweep(load_sweep(OFFLINE), Path("/nonexistent-results"))


def test_offline_texts_are_the_real_counts(offline_plan: plan_module.Plan) -> None:
    rows = {row.task: row for row in offline_plan.rows}
    assert set(rows) == {t.name for t in load_sweep(OFFLINE).tasks}
    for name, row in rows.items():
        assert row.count.texts == _real_texts(name), name
        assert row.count.chars and row.count.tokens == round(row.count.chars / CHARS_PER_TOKEN)
        assert (row.cells, row.done) == (5, 0)
    assert not offline_plan.problems


@pytest.mark.parametrize("name", ["HumanEvalRetrieval", "CosQA"])
def test_mteb_task_counts_are_the_packaged_statistics(name: str) -> None:
    import mteb

    folder = Path(mteb.__file__).parent / "descriptive_stats" / "Retrieval"
    stats = json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
    task = get_task(name)
    splits = list(task.metadata.eval_splits)
    count = plan_module.packaged_count(task, splits)
    assert count.texts == sum(stats[s]["num_queries"] + stats[s]["num_documents"] for s in splits)
    assert count.texts == sum(stats[s]["num_samples"] for s in splits)
    assert count.chars == sum(stats[s]["number_of_characters"] for s in splits)
    assert count.source == "mteb statistics" and not count.upper_bound


def _tiny_sweep(dims: list[int]):
    task = {"name": "HumanEvalRetrievalOffline", "max_samples": 12}
    return parse_sweep({"models": [{"name": MINILM, "dims": dims}], "tasks": [task]})


def test_finished_cells_count_as_done(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    results = tmp_path / "results"
    monkeypatch.undo()  # the run itself loads MiniLM; only the plan below may not
    SweepRunner(_tiny_sweep([64, 32]), RunOptions(results, None, show_progress=False)).run()
    _forbid_loads(monkeypatch)

    plan = plan_sweep(_tiny_sweep([128, 64, 32]), results)
    (row,) = plan.rows
    assert (row.done, row.cells) == (2, 3)
    assert row.count.texts is not None and row.count.texts < _real_texts(row.task)
    assert "cells done 2/3" in plan_lines(plan)[-2]
    uncapped = plan_sweep(parse_sweep({"models": [MINILM], "tasks": [row.task]}), results)
    assert uncapped.rows[0].done == 0  # an uncapped run is another experiment


def test_cli_prints_a_total_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["plan", str(OFFLINE), "--results-dir", str(tmp_path), "--tokens-per-s", "1000"]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    total = next(line for line in lines if line.startswith("total: "))
    assert "GPU h" in total and "cells done 0/20" in total
    assert f"characters / {CHARS_PER_TOKEN}" in result.output
    assert "1,000 tokens/s" in result.output


def test_unresolvable_model_still_gets_its_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    sweep = parse_sweep(
        {
            "models": [{"name": "jinaai/jina-code-embeddings-0.5b", "dims": [64, 128]}, MINILM],
            "tasks": ["HumanEvalRetrieval"],
        }
    )
    plan = plan_sweep(sweep, Path("/nonexistent-results"))
    lines = plan_lines(plan)
    assert any(line.startswith("cannot plan jinaai/jina-code-embeddings-0.5b: ") for line in lines)
    code, minilm = plan.rows
    assert (code.done, code.cells, code.count.texts) == (None, 2, 316)
    assert (minilm.done, minilm.cells) == (0, 1)
