"""The exact torch and faiss backends score exactly as mteb's own search; the record says which."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embharness.errors import HarnessError
from embharness.results.store import run_record_path
from embharness.run.options import RunOptions
from embharness.run.runner import SweepRunner
from embharness.run.sweep import Settings, parse_sweep

pytestmark = pytest.mark.slow_file  # whole sweeps, some in subprocesses: scheduled first (conftest)

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
TASKS = {
    "HumanEvalRetrievalOffline": 300,
    "PythonStdlibDocstringRetrieval": 300,
    "ManpagesCrossLingualRetrieval": 100,
}


def _run(root: Path, cache: Path, search: str) -> None:
    sweep = parse_sweep(
        {
            "settings": {"search": search},
            "models": [{"name": MINILM, "dims": [384, 32]}],
            "tasks": [{"name": name, "max_samples": cap} for name, cap in TASKS.items()],
        }
    )
    outcomes = SweepRunner(sweep, RunOptions(root, cache, show_progress=False)).run()
    assert [o.status for o in outcomes] == ["ran"] * 6
    assert {o.record["settings"]["search"] for o in outcomes} == {search}


def _results(root: Path) -> dict[Path, Path]:
    """Result files by their path under ``root`` (model, revision/dim folder, task)."""
    return {
        path.relative_to(root): path
        for path in root.rglob("*.json")
        if "_embharness" not in path.parts and path.name != "model_meta.json"
    }


def _metrics(path: Path) -> dict[tuple[str, int, str], float]:
    scores = json.loads(path.read_text())["scores"]
    return {
        (split, i, key): value
        for split, rows in scores.items()
        for i, row in enumerate(rows)
        for key, value in row.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }


@pytest.fixture(scope="module")
def mteb_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """mteb's own search on the three tasks, once: (results root, the embedding cache)."""
    root = tmp_path_factory.mktemp("search")
    _run(root / "mteb", root / "cache", "mteb")
    return root / "mteb", root / "cache"


@pytest.mark.parametrize("backend", ["torch", "faiss"])
def test_exact_backends_and_mteb_search_score_the_same(
    mteb_run: tuple[Path, Path], tmp_path: Path, backend: str
) -> None:
    reference, cache = mteb_run
    _run(tmp_path / backend, cache, backend)
    ours, theirs = _results(tmp_path / backend), _results(reference)
    # Same folders: the backend names no experiment, results stay comparable.
    assert sorted(ours) == sorted(theirs) and len(ours) == 6
    for cell, path in ours.items():
        got, want = _metrics(path), _metrics(theirs[cell])
        assert got.keys() == want.keys(), cell
        assert any(key[2].startswith("ndcg_at_") for key in got), cell
        assert any(key[2].startswith("mrr_at_") for key in got), cell
        assert any(key[2] == "main_score" for key in got), cell
        for key, value in got.items():
            assert value == pytest.approx(want[key], abs=1e-6, nan_ok=True), (cell, key)
        record = json.loads(run_record_path(path).read_text())
        assert record["settings"]["search"] == backend


def test_search_setting_defaults_to_torch_and_is_checked() -> None:
    assert Settings().search == "torch"  # the fastest exact search (benchmarks/bench_search.py)
    assert parse_sweep({"models": [MINILM], "tasks": ["X"]}).settings.search == "torch"
    entry = parse_sweep(
        {
            "settings": {"search": "mteb"},
            "models": [{"name": MINILM, "search": "faiss"}],
            "tasks": ["X"],
        }
    ).models[0]
    assert entry.settings.search == "faiss"  # a model entry may override it
    with pytest.raises(HarnessError, match="search must be one of torch, mteb, faiss"):
        parse_sweep({"settings": {"search": "annoy"}, "models": [MINILM], "tasks": ["X"]})
