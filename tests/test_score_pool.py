"""The score pool (run/score_pool.py): a job's cache-served cells scored in worker processes.

Checked against the same sweep run one cell after the other in this process, both from a
cold cache: identical scores and per-item files, the same outcomes in the same order, records
that name the process that scored each cell, and first cells whose records carry the job's
encode pass. A worker's failure fails its job as it would in the runner
(failure file, lease released, the error raised), and a runner killed with SIGKILL takes its
workers with it.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import psutil
import pytest
import yaml
from sweep_processes import StderrWatch, assert_same_scores, scores, start_run

from embharness.errors import HarnessError
from embharness.run.cell_parts import subset_groups
from embharness.run.leases import lease_folder, read_failure
from embharness.run.options import RunOptions
from embharness.run.runner import SweepRunner
from embharness.run.sweep import parse_sweep

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
TASKS = ["HumanEvalRetrievalOffline", "PythonStdlibDocstringRetrieval"]
DIMS = [384, 128, 32]


def _sweep(samples: int = 120) -> dict:
    return {
        "name": "pool",
        "settings": {"batch_size": 32},
        "models": [{"name": MINILM, "dims": DIMS}],
        "tasks": [{"name": task, "max_samples": samples} for task in TASKS],
    }


def _run(results: Path, cache: Path, workers: int) -> list:
    options = RunOptions(results, cache, "always", show_progress=False, score_workers=workers)
    lines: list[str] = []
    outcomes = SweepRunner(parse_sweep(_sweep()), options, say=lines.append).run()
    return [outcomes, lines]


def _records(results: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(results.rglob("_embharness/*.json"))]


@pytest.fixture(scope="module")
def both_runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("pool")
    serial = _run(root / "serial", root / "serial_cache", workers=0)
    pooled = _run(root / "pooled", root / "pooled_cache", workers=2)  # cold too
    return {"root": root, "serial": serial, "pooled": pooled}


def test_pooled_scores_equal_the_serial_run(both_runs: dict) -> None:
    root = both_runs["root"]
    serial, pooled = scores(root / "serial"), scores(root / "pooled")
    assert len(serial) == len(TASKS) * len(DIMS)
    assert serial.keys() == pooled.keys()
    assert_same_scores(serial, pooled)
    for path in sorted((root / "serial").rglob("*.items.parquet")):
        twin = root / "pooled" / path.relative_to(root / "serial")
        pd.testing.assert_frame_equal(pd.read_parquet(path), pd.read_parquet(twin))


def test_outcomes_come_back_in_cell_order(both_runs: dict) -> None:
    serial, pooled = both_runs["serial"][0], both_runs["pooled"][0]
    keys = [(o.model, o.task, o.dim, o.status, o.main_score) for o in serial]
    assert keys == [(o.model, o.task, o.dim, o.status, o.main_score) for o in pooled]
    assert [(o.task, o.dim) for o in pooled] == [(t, d) for t in TASKS for d in DIMS]
    lines = both_runs["pooled"][1]  # one line per cell, each cell's number once
    numbers = sorted(int(line.split("]")[0].split()[1].split("/")[0]) for line in lines)
    assert numbers == list(range(1, len(TASKS) * len(DIMS) + 1))


def test_records_name_the_process_that_scored_each_cell(both_runs: dict) -> None:
    root = both_runs["root"]
    serial = [r["launch"]["process"] for r in _records(root / "serial")]
    assert serial == ["runner"] * len(serial)
    pooled = {
        (r["task"]["name"], r["model"]["dim"]): r["launch"]["process"]
        for r in _records(root / "pooled")
    }
    # every job's texts were encoded here (its encode pass) and its cells went to the pool
    # (or, still queued at the end, back to the runner); the first cell sent found a worker
    assert pooled[TASKS[0], DIMS[0]] == "score_worker"
    assert set(pooled.values()) <= {"runner", "score_worker"}


def test_a_pooled_job_s_first_cell_records_its_encode_pass(both_runs: dict) -> None:
    """Both runs start cold. The pooled first cells were scored from the cache, so their
    records carry the encode pass: the same hits, misses (none more in the worker), plans,
    batches and dtype as the serial first cells, and its encode time."""
    root = both_runs["root"]
    serial = {(r["task"]["name"], r["model"]["dim"]): r for r in _records(root / "serial")}
    pooled = {(r["task"]["name"], r["model"]["dim"]): r for r in _records(root / "pooled")}
    for task in TASKS:
        ours, theirs = pooled[task, DIMS[0]], serial[task, DIMS[0]]
        assert ours["cache"] == theirs["cache"] and ours["cache"]["misses"] > 0
        assert ours["task"]["plans"] == theirs["task"]["plans"]
        assert ours["truncated_texts"] == theirs["truncated_texts"]
        for key in ("effective_batch_size", "oom_retries", "dtype", "model_loaded"):
            assert ours["settings"][key] == theirs["settings"][key], key
        assert ours["timing"]["encode_s"] > 0
        assert ours["timing"]["wall_s"] >= ours["timing"]["encode_s"]
        for dim in DIMS[1:]:  # the other cells read every text back
            assert pooled[task, dim]["cache"]["misses"] == 0


def _run_with_last_cell_blocked(tmp_path: Path, task_name: str, samples: int) -> Path:
    """Run one task at DIMS with one worker, its last cell's result folder a file; check that
    the job failed as a job does (failure file naming the write, lease released, the run
    raised) and the blocking file is untouched. Returns the first cell's result path."""
    results, cache = tmp_path / "results", tmp_path / "cache"
    sweep = _sweep(samples) | {"tasks": [{"name": task_name, "max_samples": samples}]}
    options = RunOptions(results, cache, "always", show_progress=False, score_workers=1)
    runner = SweepRunner(parse_sweep(sweep), options, say=lambda _: None)
    model, task = runner.models[0], runner.sweep.tasks[0]
    blocked = runner.store.result_path(runner.cell_meta(model, task, DIMS[-1]), task.name)
    blocked.parent.parent.mkdir(parents=True)
    blocked.parent.write_text("not a folder")
    with pytest.raises(HarnessError, match="could not write"):
        runner.run()
    failure = read_failure(results, MINILM, task_name)
    assert failure is not None and failure["error"].startswith("HarnessError: could not write")
    assert not list(lease_folder(results).glob("*.json"))
    assert blocked.parent.read_text() == "not a folder"
    return runner.store.result_path(runner.cell_meta(model, task, DIMS[0]), task.name)


def test_a_failed_worker_cell_fails_its_job(tmp_path: Path) -> None:
    """A cell that cannot write its result (a file where its folder must go) fails in the
    pool; the job's failure file names it, its lease is released, the run raises, and the
    cells that ran keep their results."""
    first = _run_with_last_cell_blocked(tmp_path, TASKS[0], 60)
    assert json.loads(first.read_text())["scores"]


def test_a_killed_runner_takes_its_workers_with_it(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(yaml.safe_dump(_sweep(200)))
    proc = start_run(sweep, tmp_path, "--score-workers", "2")
    watch = StderrWatch(proc, ": main=")
    assert watch.seen.wait(240), watch.text()
    runner = psutil.Process(proc.pid)
    family = runner.children(recursive=True)
    assert len(family) >= 3, family  # the forkserver and two workers
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(p.is_running() for p in family):
        time.sleep(0.2)
    alive = [p for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not alive, alive


MULTI = "ManpagesCrossLingualRetrieval"  # one subset per language pair


@pytest.fixture(scope="module")
def parted_runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A multi-subset retrieval task, serial and with 2 workers (3 parts a cell), both cold."""
    root = tmp_path_factory.mktemp("parts")
    sweep = _sweep(30) | {"tasks": [{"name": MULTI, "max_samples": 30}]}
    runs = {}
    for name, workers in (("serial", 0), ("pooled", 2)):
        cache, quiet = root / f"{name}_cache", {"show_progress": False}
        options = RunOptions(root / name, cache, "always", **quiet, score_workers=workers)
        runs[name] = SweepRunner(parse_sweep(sweep), options, say=lambda _: None).run()
    return {"root": root, **runs}


def test_a_multi_subset_cell_scored_in_parts_equals_the_whole_cell(parted_runs: dict) -> None:
    """Each cell's subsets went to three processes, mteb scored each part, and the joined
    result, per-item rows and record counts equal the cell scored whole."""
    root = parted_runs["root"]
    serial, pooled = scores(root / "serial"), scores(root / "pooled")
    assert len(serial) == len(DIMS)
    assert_same_scores(serial, pooled)  # subsets in the task's order, as mteb wrote them
    for path in sorted((root / "serial").rglob("*.items.parquet")):
        twin = root / "pooled" / path.relative_to(root / "serial")
        pd.testing.assert_frame_equal(pd.read_parquet(path), pd.read_parquet(twin))
    whole = {r["model"]["dim"]: r for r in _records(root / "serial")}
    parted = {r["model"]["dim"]: r for r in _records(root / "pooled")}
    for dim in DIMS:
        assert whole[dim]["launch"]["parts"] == 1 and parted[dim]["launch"]["parts"] == 3
        assert parted[dim]["cache"] == whole[dim]["cache"]
        assert parted[dim]["main_score"] == pytest.approx(whole[dim]["main_score"], abs=1e-9)
        assert parted[dim]["per_item"]["n_items"] == whole[dim]["per_item"]["n_items"]
    outcomes = [(o.dim, o.status, o.main_score) for o in parted_runs["pooled"]]
    assert outcomes == [(o.dim, o.status, o.main_score) for o in parted_runs["serial"]]


def test_subsets_are_grouped_by_queries_in_task_order() -> None:
    """Longest first onto the lightest group; each group keeps the task's subset order."""

    subsets = ["a", "b", "c", "d", "e"]
    sizes = dict(zip(subsets, [5, 40, 10, 30, 20], strict=True))
    dataset = {name: {"test": {"queries": [0] * size}} for name, size in sizes.items()}
    task = SimpleNamespace(hf_subsets=subsets, dataset=dataset)

    groups = subset_groups(task, 2)  # type: ignore[arg-type]
    assert groups == [("a", "b", "c"), ("d", "e")]
    assert subset_groups(task, 1) == [("a", "b", "c", "d", "e")]  # type: ignore[arg-type]
    assert len(subset_groups(task, 9)) == 5  # type: ignore[arg-type]


def test_a_cell_in_parts_that_cannot_be_written_fails_its_job(tmp_path: Path) -> None:
    """The runner joins a parted cell and writes it; a write that fails (a file where the
    cell's folder must go) fails the job like a worker's error: failure file, lease
    released, the run raises, and the cells that were written keep their results."""
    first = _run_with_last_cell_blocked(tmp_path, MULTI, 20)
    assert json.loads(first.read_text())["scores"]
    record = json.loads((first.parent / "_embharness" / f"{MULTI}.json").read_text())
    assert record["launch"]["parts"] == 2  # one worker and the runner
