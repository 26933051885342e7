"""The runner end to end on the offline suite: mteb layout, resume without the model, dims."""

from __future__ import annotations

import json
from pathlib import Path

import mteb
import pytest
from backend_probes import ObservedBackend

from embharness.run import runner as runner_module
from embharness.run.options import RunOptions
from embharness.run.runner import SweepRunner
from embharness.run.sweep import parse_sweep

pytestmark = pytest.mark.slow_file  # whole sweeps, some in subprocesses: scheduled first (conftest)

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
REVISION = "8b3219a92973c328a8e22fadcfa821b5dc75636a"
TASK = "HumanEvalRetrievalOffline"


def small_sweep(dims: list[int], max_samples: int | None = 40):
    """MiniLM on a slice of the HumanEval offline task."""
    task = {"name": TASK, "max_samples": max_samples} if max_samples else TASK
    return parse_sweep({"models": [{"name": MINILM, "dims": dims}], "tasks": [task]})


class CountingBackend(ObservedBackend):
    """Wraps a real backend and counts forward calls (the model is real; only counted)."""

    calls = 0
    loads = 0

    def forward(self, batch, adapter):
        CountingBackend.calls += 1
        return self.inner.forward(batch, adapter)


@pytest.fixture
def counting(monkeypatch):
    """Count model loads and forward passes made by the runner."""
    real_load = runner_module.load_backend
    CountingBackend.calls = CountingBackend.loads = 0

    def load(spec, settings):
        CountingBackend.loads += 1
        return CountingBackend(real_load(spec, settings))

    monkeypatch.setattr(runner_module, "load_backend", load)
    return CountingBackend


def run(sweep, tmp_path: Path, overwrite: str = "missing", cache: bool = True):
    """Run a sweep into tmp_path/results."""
    options = RunOptions(
        tmp_path / "results", tmp_path / "cache" if cache else None, overwrite, show_progress=False
    )
    return SweepRunner(sweep, options).run()


def test_results_load_back_through_mteb(tmp_path: Path) -> None:
    outcome = run(small_sweep([384]), tmp_path)[0]
    base = tmp_path / "results" / "sentence-transformers__all-MiniLM-L6-v2" / REVISION
    capped = base / "experiments" / "max_samples_40"
    assert (capped / f"{TASK}.json").exists() and (capped / "model_meta.json").exists()
    loaded = mteb.ResultCache(tmp_path).load_results(
        include_remote=False, load_experiments="match_name"
    )
    [model_result] = [
        m
        for m in loaded.model_results
        if m.model_name == MINILM and m.experiment_name == "max_samples_40"
    ]
    [task_result] = [t for t in model_result.task_results if t.task_name == TASK]
    assert task_result.get_score() == pytest.approx(outcome.main_score, abs=1e-12)
    record = json.loads((capped / "_embharness" / f"{TASK}.json").read_text())
    assert record["task"]["max_samples"] == 40
    assert record["model"]["revision"] == REVISION
    assert set(record["versions"]) >= {"mteb", "torch", "transformers", "python"}
    assert record["git"]["sha"] is None or len(record["git"]["sha"]) == 40
    assert record["cache"]["misses"] > 0 and record["timing"]["wall_s"] > 0


def test_second_run_does_not_call_the_model(tmp_path: Path, counting) -> None:
    first = run(small_sweep([64, 384]), tmp_path)
    assert counting.loads == 1 and counting.calls > 0
    assert [o.status for o in first] == ["ran", "ran"]
    counting.calls = counting.loads = 0
    second = run(small_sweep([64, 384]), tmp_path)
    assert [o.status for o in second] == ["skipped", "skipped"]
    assert counting.loads == 0 and counting.calls == 0


def test_dims_share_one_encode(tmp_path: Path, counting) -> None:
    outcomes = run(small_sweep([32, 128, 384]), tmp_path)
    full, *smaller = sorted(outcomes, key=lambda o: -o.dim)
    assert full.record["cache"]["hits"] == 0
    for outcome in smaller:
        assert outcome.record["cache"]["misses"] == 0
        assert outcome.record["cache"]["hits"] == full.record["cache"]["misses"]
    assert counting.loads == 1


def test_dim_from_cache_equals_direct_encode(tmp_path: Path) -> None:
    swept = {o.dim: o for o in run(small_sweep([32, 64, 384]), tmp_path / "swept")}
    for dim in (32, 64):
        direct = run(small_sweep([dim]), tmp_path / f"direct{dim}", cache=False)[0]
        assert direct.record["cache"]["hits"] == 0
        assert swept[dim].main_score == pytest.approx(direct.main_score, abs=1e-6)
        meta = json.loads(
            (
                tmp_path
                / "swept"
                / "results"
                / "sentence-transformers__all-MiniLM-L6-v2"
                / REVISION
                / "experiments"
                / f"embed_dim_{dim}__max_samples_40"
                / "model_meta.json"
            ).read_text()
        )
        assert meta["embed_dim"] == dim


def test_cached_scores_equal_uncached(tmp_path: Path) -> None:
    """float32 storage changes no score: cached and uncached runs agree to 1e-6."""
    cold = run(small_sweep([384], None), tmp_path / "a")[0]
    warm = run(small_sweep([384], None), tmp_path / "a", overwrite="always")[0]
    fresh = run(small_sweep([384], None), tmp_path / "b", cache=False)[0]
    assert warm.record["cache"]["misses"] == 0
    assert warm.main_score == pytest.approx(fresh.main_score, abs=1e-6)
    assert cold.main_score == pytest.approx(fresh.main_score, abs=1e-6)


def test_per_task_max_length_truncates_and_is_recorded(tmp_path: Path) -> None:
    sweep = parse_sweep(
        {
            "models": [{"name": MINILM, "dims": [384], "task_max_length": {TASK: 16}}],
            "tasks": [{"name": TASK, "max_samples": 20}],
        }
    )
    outcome = run(sweep, tmp_path)[0]
    record = outcome.record
    assert record["settings"]["max_length"] == 16
    assert record["truncated_texts"] > 0
    folder = (
        tmp_path
        / "results"
        / "sentence-transformers__all-MiniLM-L6-v2"
        / REVISION
        / "experiments"
        / "max_length_16__max_samples_20"
    )
    assert (folder / f"{TASK}.json").exists()
