"""A worker killed with ``kill -9`` mid-job: Ray retries the task, submitit resubmits the job,
and the final tree equals an uninterrupted run's with nothing partial. A job that fails is
contained: its failure file keeps the error and log, the other jobs finish, the exit code is 1."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sweep_processes import assert_nothing_partial, assert_same_scores, run_here, scores, start_run

from embharness.cli import main
from embharness.run.leases import lease_folder, read_failure

pytestmark = pytest.mark.slow_file  # whole sweeps, some in subprocesses: scheduled first (conftest)

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
BODY = f"""
models:
  - name: {MINILM}
    dims: [64, 384]
settings:
  batch_size: 16
tasks:
  - name: PythonStdlibDocstringRetrieval
    max_samples: 100
"""
BLOCKS = {
    "slurm": "launcher:\n  name: slurm\n  cluster: local\n",
    "ray": "launcher:\n  name: ray\n  num_cpus: 2\n",
}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """The sweep's scores from a plain local run."""
    root = tmp_path_factory.mktemp("uninterrupted")
    (root / "sweep.yaml").write_text(BODY)
    run_here(root / "sweep.yaml", root)
    return scores(root / "results")


def _first_lease(results: Path, proc: object, limit_s: float = 240.0) -> dict:
    """The first lease a worker writes (its pid is the worker's, not the launcher's)."""
    deadline = time.time() + limit_s
    while time.time() < deadline:
        for path in lease_folder(results).glob("*.json"):
            try:
                return dict(json.loads(path.read_text()))
            except ValueError:
                continue  # caught between create and write: read again
        assert proc.poll() is None, "the launcher ended before any worker took a lease"  # type: ignore[attr-defined]
        time.sleep(0.1)
    raise AssertionError("no worker took a lease")


def _records(results: Path) -> list[dict]:
    return [
        json.loads(p.read_text())
        for p in results.rglob("_embharness/*.json")
        if p.parent.name == "_embharness"
    ]


@pytest.mark.parametrize("launcher", ["ray", "slurm"])
def test_a_worker_killed_mid_job_is_rerun_to_an_identical_tree(
    launcher: str, tmp_path: Path, uninterrupted: dict[str, dict]
) -> None:
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(BODY + BLOCKS[launcher])
    results = tmp_path / "results"
    proc = start_run(sweep, tmp_path)
    lease = _first_lease(results, proc)
    time.sleep(1.5)  # into the model load / encode of the job's first cell
    os.kill(int(lease["pid"]), signal.SIGKILL)
    assert len(scores(results)) < 2, "the job finished before the kill: nothing was tested"
    _out, err = proc.communicate(timeout=400)
    assert proc.returncode == 0, err.decode()[-3000:]
    assert_same_scores(uninterrupted, scores(results))
    assert len(scores(results)) == 2
    assert_nothing_partial(tmp_path)
    assert list(lease_folder(results).iterdir()) == []
    job_ids = {r["launch"]["job_id"] for r in _records(results)}
    assert len(job_ids) == 1
    if launcher == "slurm":
        # The resubmission is a new job: it wrote the records, and said so on stderr.
        assert job_ids != {lease["job_id"]}
        assert f"job {lease['job_id']} " in err.decode() and "resubmitted as" in err.decode()
    else:
        # Ray re-ran the same task (same task id) in a new worker process.
        assert job_ids == {lease["job_id"]}


def _broken_model(minilm_path: Path, folder: Path) -> Path:
    """MiniLM's config and tokenizer with weights that are not a safetensors file."""
    shutil.copytree(minilm_path, folder)
    (folder / "model.safetensors").write_bytes(b"not a safetensors file")
    return folder


def test_a_failed_job_is_contained_and_loud(tmp_path: Path, minilm_path: Path) -> None:
    broken = _broken_model(minilm_path, tmp_path / "broken-model")
    sweep = tmp_path / "sweep.yaml"
    body = BODY.replace("    dims: [64, 384]\n", f"    dims: [64, 384]\n  - name: st:{broken}\n", 1)
    sweep.write_text(body.replace("max_samples: 100", "max_samples: 40") + BLOCKS["ray"])
    proc = start_run(sweep, tmp_path)
    _out, err = proc.communicate(timeout=400)
    assert proc.returncode == 1, err.decode()[-3000:]
    failed = [ln for ln in err.decode().splitlines() if ln.startswith("FAILED ")]
    assert len(failed) == 1 and "local/broken-model × " in failed[0]
    assert "1 job(s) failed" in err.decode()
    results = tmp_path / "results"
    assert len(scores(results)) == 2  # MiniLM's job went on to the end
    failure = read_failure(results, "local/broken-model", "PythonStdlibDocstringRetrieval")
    assert failure is not None and failure["error"] and failure["log"]
    assert failure["error"].split(":")[0] in Path(failure["log"]).read_text()  # its traceback
    screen = CliRunner().invoke(main, ["status", str(sweep), "--results-dir", str(results)])
    assert screen.exit_code == 0, screen.output
    assert "total 3 cells: 2 done, 0 running, 1 failed, 0 pending" in screen.output
