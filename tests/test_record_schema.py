"""The run record is a documented, versioned type; records of older versions still load."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from test_report_fixtures import run_record

from embharness.results.runs import load_runs
from embharness.results.schema import SCHEMA_VERSION, SECTIONS, RunRecord, upgrade_record
from embharness.results.store import run_record_path
from embharness.run.options import RunOptions
from embharness.run.runner import SweepRunner
from embharness.run.sweep import parse_sweep

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
TASK = "HumanEvalRetrievalOffline"


def _keys(cls: type) -> set[str]:
    return set(cls.__annotations__)


def test_written_record_has_exactly_the_schema(tmp_path: Path) -> None:
    sweep = parse_sweep(
        {
            "settings": {"batch_size": 5},
            "models": [{"name": MINILM, "dims": [384]}],
            "tasks": [{"name": TASK, "max_samples": 8}],
        }
    )
    options = RunOptions(tmp_path / "results", None, show_progress=False)
    lines: list[str] = []
    SweepRunner(sweep, options, say=lines.append).run()
    assert len(lines) == 1 and lines[0].startswith("[cell 1/1]")  # the progress callback
    [result] = [
        p for p in (tmp_path / "results").rglob(f"{TASK}.json") if "_embharness" not in p.parts
    ]
    stored = json.loads(run_record_path(result).read_text())
    assert stored["schema_version"] == SCHEMA_VERSION
    assert set(stored) == _keys(RunRecord)
    assert stored["two_stage"] is None  # schema 8: set on a reranked result only
    for name, section in SECTIONS.items():
        if name != "two_stage":
            assert set(stored[name]) == _keys(section), name
    settings = stored["settings"]
    assert (settings["batch_size"], settings["effective_batch_size"]) == (5, 5)
    assert settings["oom_retries"] == 0
    assert (settings["max_batch_tokens"], settings["effective_max_batch_tokens"]) == (None, None)
    assert settings["search"] == "torch"  # schema 9: the default backend of a Retrieval task
    # schema 5: the kernel read back from the loaded model (sdpa on CPU), padded batches
    assert (stored["model"]["attn_implementation"], stored["model"]["packed"]) == ("sdpa", False)
    # schema 6: the per-item file beside the record, one row per judged query of the 8
    per_item = stored["per_item"]
    assert per_item["file"] == f"{TASK}.items.parquet" and per_item["unit"] == "query"
    assert (run_record_path(result).parent / per_item["file"]).is_file()
    assert per_item["statistic"] == "mean" and per_item["reason"] is None
    # schema 7: a plain run is the local launcher, no job id, on this host
    host = socket.gethostname()
    assert stored["launch"] == {
        "launcher": "local",
        "job_id": None,
        "host": host,
        "process": "runner",
        "parts": 1,  # schema 12: scored whole, by one process
    }


def test_record_carries_the_configured_and_effective_token_budget(tmp_path: Path) -> None:
    """Schema 3: the configured ``max_batch_tokens`` and the budget the cell ended on."""
    sweep = parse_sweep(
        {
            "settings": {"batch_size": 5, "max_batch_tokens": 600},
            "models": [{"name": MINILM, "dims": [384]}],
            "tasks": [{"name": TASK, "max_samples": 8}],
        }
    )
    [outcome] = SweepRunner(sweep, RunOptions(tmp_path / "r", None, show_progress=False)).run()
    settings = outcome.record["settings"]
    assert SCHEMA_VERSION == 12 and outcome.record["schema_version"] == 12
    assert (settings["max_batch_tokens"], settings["effective_max_batch_tokens"]) == (600, 600)
    assert (settings["batch_size"], settings["effective_batch_size"]) == (5, 5)


def test_version_1_record_loads_as_the_current_version() -> None:
    old = run_record()  # a record as the harness wrote it before the schema had a version
    assert "schema_version" not in old
    upgraded = upgrade_record(old)
    assert upgraded["schema_version"] == SCHEMA_VERSION
    assert upgraded["settings"]["batch_size"] == 32  # kept
    assert upgraded["settings"]["effective_batch_size"] is None  # absent then: None, not a guess
    assert upgraded["model"]["code_revision"] is None
    assert upgraded["timing"] is None and set(upgraded) == _keys(RunRecord)
    assert set(upgraded["settings"]) == _keys(SECTIONS["settings"])
    assert upgraded["settings"]["max_batch_tokens"] is None
    assert upgraded["settings"]["search"] is None


def test_version_2_record_loads_as_the_current_version() -> None:
    """A version-2 record (no token budget yet) reads as current, the new fields None."""
    settings = {"batch_size": 8, "effective_batch_size": 4, "oom_retries": 1, "dtype": "float16"}
    upgraded = upgrade_record(run_record(schema_version=2, settings=settings))
    assert upgraded["schema_version"] == SCHEMA_VERSION == 12
    assert upgraded["settings"]["effective_batch_size"] == 4  # kept
    assert upgraded["settings"]["max_batch_tokens"] is None
    assert upgraded["settings"]["effective_max_batch_tokens"] is None
    assert upgraded["settings"]["search"] is None
    assert set(upgraded["settings"]) == _keys(SECTIONS["settings"])


def test_version_3_record_loads_as_the_current_version() -> None:
    """A version-3 record (token budget, no search backend yet) reads as the current version."""
    settings = {"batch_size": 8, "max_batch_tokens": 600, "effective_max_batch_tokens": 300}
    upgraded = upgrade_record(run_record(schema_version=3, settings=settings))
    assert upgraded["schema_version"] == SCHEMA_VERSION == 12
    assert upgraded["settings"]["effective_max_batch_tokens"] == 300  # kept
    assert upgraded["settings"]["search"] is None  # unknown then: None, not a guess
    assert set(upgraded["settings"]) == _keys(SECTIONS["settings"])


def test_version_4_record_loads_as_the_current_version() -> None:
    """A version-4 record (before the attention kernel was recorded) reads as current."""
    model = {"name": MINILM, "flash_attn": None}
    upgraded = upgrade_record(run_record(schema_version=4, model=model))
    assert upgraded["schema_version"] == SCHEMA_VERSION == 12
    assert upgraded["model"]["name"] == MINILM  # kept
    assert upgraded["model"]["attn_implementation"] is None  # unknown then: None, not a guess
    assert upgraded["model"]["packed"] is None
    assert set(upgraded["model"]) == _keys(SECTIONS["model"])


def test_version_5_record_loads_as_the_current_version() -> None:
    """A version-5 record (before per-item scores) reads as current, ``per_item`` None."""
    upgraded = upgrade_record(run_record(schema_version=5))
    assert upgraded["schema_version"] == SCHEMA_VERSION == 12
    assert upgraded["per_item"] is None and set(upgraded) == _keys(RunRecord)


def test_version_8_record_keeps_the_search_it_ran_with() -> None:
    """A version-8 record (default search ``mteb`` then) keeps its backend: no rewrite to torch."""
    settings = {"batch_size": 8, "search": "mteb"}
    upgraded = upgrade_record(run_record(schema_version=8, settings=settings))
    assert upgraded["schema_version"] == SCHEMA_VERSION == 12
    assert upgraded["settings"]["search"] == "mteb"
    assert set(upgraded["settings"]) == _keys(SECTIONS["settings"])


def test_version_11_record_keeps_its_process_and_has_no_parts() -> None:
    """A version-11 record (before cells were scored in parts) reads as current: its launch
    section is kept and ``launch.parts`` is None (unknown then), not a guessed 1."""
    launch = {"launcher": "local", "job_id": None, "host": "h", "process": "score_worker"}
    upgraded = upgrade_record(run_record(schema_version=11, launch=launch))
    assert upgraded["schema_version"] == SCHEMA_VERSION == 12
    assert upgraded["launch"] == launch | {"parts": None}
    assert set(upgraded["launch"]) == _keys(SECTIONS["launch"])


def test_record_names_the_search_backend(tmp_path: Path) -> None:
    """``search: faiss`` is recorded as such; the default is torch (see test_search_backend)."""
    sweep = parse_sweep(
        {
            "settings": {"batch_size": 5, "search": "faiss"},
            "models": [{"name": MINILM, "dims": [384]}],
            "tasks": [{"name": TASK, "max_samples": 8}],
        }
    )
    [outcome] = SweepRunner(sweep, RunOptions(tmp_path / "r", None, show_progress=False)).run()
    assert outcome.record["settings"]["search"] == "faiss"


def test_old_records_on_disk_read_through_the_report_loader(tmp_path: Path) -> None:
    from test_report_fixtures import CODE_05B, code_05b_meta, write_result

    write_result(
        tmp_path / "r",
        CODE_05B,
        "CosQA",
        {"test": {"default": 0.4}},
        meta=code_05b_meta(),
        record=run_record(),
    )
    [run] = load_runs(tmp_path / "r")
    assert run.record is not None and run.record["schema_version"] == SCHEMA_VERSION
    assert run.record["settings"]["dtype"] == "float32"


def test_record_holds_the_device_default_batching_a_cell_ran(tmp_path: Path) -> None:
    """Schema 10: a sweep that sets no batching records the device's default as what ran."""
    sweep = parse_sweep(
        {
            "models": [{"name": MINILM, "dims": [384]}],
            "tasks": [{"name": TASK, "max_samples": 8}],
        }
    )
    assert (sweep.settings.batch_size, sweep.settings.max_batch_tokens) == (None, None)
    [outcome] = SweepRunner(sweep, RunOptions(tmp_path / "r", None, show_progress=False)).run()
    settings = outcome.record["settings"]
    # This machine runs on CPU: 32 rows, count-based (models.device.DEVICE_BATCHING["cpu"]).
    assert settings["device"] == "cpu"
    assert (settings["batch_size"], settings["max_batch_tokens"]) == (32, None)
    assert settings["effective_batch_size"] == 32
