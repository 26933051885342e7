"""submitit (local executor) and Ray (local instance) started at once on one results folder:
every job runs exactly once, the scores equal a local run's, and `status` follows the run."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sweep_processes import scores, start_run

from embharness.cli import main
from embharness.run.options import RunOptions
from embharness.run.runner import SweepRunner
from embharness.run.sweep import load_sweep

pytestmark = pytest.mark.slow_file  # whole sweeps, some in subprocesses: scheduled first (conftest)

BODY = """
models:
  - name: sentence-transformers/all-MiniLM-L6-v2
    dims: [64, 384]
settings:
  batch_size: 32
tasks:
  - name: PythonStdlibDocstringRetrieval
    max_samples: 40
  - name: HumanEvalRetrievalOffline
    max_samples: 40
"""
LAUNCHERS = {
    "slurm": "launcher:\n  name: slurm\n  cluster: local\n",
    "ray": "launcher:\n  name: ray\n  num_cpus: 2\n",
}


def _status(sweep: Path, results: Path) -> str:
    out = CliRunner().invoke(main, ["status", str(sweep), "--results-dir", str(results)])
    assert out.exit_code == 0, out.output
    return out.output


@pytest.fixture(scope="module")
def shared_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("launchers")
    sweeps = {}
    for name, block in LAUNCHERS.items():
        sweeps[name] = root / f"{name}.yaml"
        sweeps[name].write_text(BODY + block)
    results = root / "results"
    procs = {name: start_run(sweep, root) for name, sweep in sweeps.items()}
    screens = []
    while any(p.poll() is None for p in procs.values()):
        screens.append(_status(sweeps["slurm"], results))
        time.sleep(1.0)
    outputs = {
        name: tuple(stream.decode() for stream in p.communicate()) for name, p in procs.items()
    }
    local = root / "local"
    SweepRunner(
        load_sweep(sweeps["slurm"]), RunOptions(local, root / "lc", show_progress=False)
    ).run()
    return {
        "root": root,
        "results": results,
        "local": local,
        "outputs": outputs,
        "procs": procs,
        "screens": screens,
        "sweep": sweeps["slurm"],
    }


def test_both_launchers_succeed_and_every_job_runs_exactly_once(shared_run: dict) -> None:
    ran: dict[tuple[str, str], int] = {}
    for name, (out, err) in shared_run["outputs"].items():
        assert shared_run["procs"][name].returncode == 0, err[-2000:]
        for line in out.splitlines():
            fields = line.split()
            if fields and fields[-1] == "ran":
                key = (fields[1], fields[2])
                ran[key] = ran.get(key, 0) + 1
    expected = {
        (t, d)
        for t in ("PythonStdlibDocstringRetrieval", "HumanEvalRetrievalOffline")
        for d in ("64", "384")
    }
    assert set(ran) == expected and set(ran.values()) == {1}


def test_records_name_launcher_job_and_host(shared_run: dict) -> None:
    """Schema 7: each cell's record names the launcher that ran it, its job id and the host;
    both dims of a (model, task) job come from one job."""
    records = [
        json.loads(p.read_text())
        for p in shared_run["results"].rglob("_embharness/*.json")
        if p.parent.name == "_embharness"
    ]
    launches = [r["launch"] for r in records if r.get("launch")]
    assert len(launches) == 4
    assert {launch["launcher"] for launch in launches} <= {"slurm", "ray"}
    assert all(launch["job_id"] and launch["host"] == socket.gethostname() for launch in launches)
    per_task: dict[str, set[str]] = {}
    for record in records:
        per_task.setdefault(record["task"]["name"], set()).add(record["launch"]["job_id"])
    assert all(len(ids) == 1 for ids in per_task.values())


def test_scores_equal_a_local_run_exactly(shared_run: dict) -> None:
    shared, local = scores(shared_run["results"]), scores(shared_run["local"])
    assert len(local) == 4 and shared == local
    assert not [p for p in shared_run["results"].rglob("*") if ".tmp" in p.name]


def test_status_showed_running_and_pending_then_all_done(shared_run: dict) -> None:
    screens = shared_run["screens"]
    # Taken while the launchers start their workers: nothing leased yet.
    assert "total 4 cells: 0 done, 0 running, 0 failed, 4 pending" in screens[0]
    assert any(" running " in screen for screen in screens)
    final = _status(shared_run["sweep"], shared_run["results"])
    assert "total 4 cells: 4 done, 0 running, 0 failed, 0 pending" in final


def test_a_model_listed_twice_is_refused_by_the_launchers(tmp_path: Path) -> None:
    sweep = tmp_path / "twice.yaml"
    twice = BODY.replace(
        "    dims: [64, 384]\n",
        "    dims: [64, 384]\n  - name: sentence-transformers/all-MiniLM-L6-v2\n    dims: [64]\n",
        1,
    )
    sweep.write_text(twice + LAUNCHERS["ray"])
    args = ["run", str(sweep), "--results-dir", str(tmp_path / "results"), "--quiet"]
    out = CliRunner().invoke(main, args)
    assert out.exit_code == 2
    assert "more than once" in out.output and "--launcher local" in out.output
    assert not (tmp_path / "results" / "_embharness" / "leases").exists()
