"""Builders for fixture results folders (mteb TaskResult files + run records), and their checks.

Other report/gate/submit tests import the builders from here
(``from test_report_fixtures import ...``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from embharness.paths import configure_environment

configure_environment()

import mteb  # noqa: E402
from mteb.models.model_meta import ModelMeta  # noqa: E402
from mteb.results import TaskResult  # noqa: E402

CODE_05B = "jinaai/jina-code-embeddings-0.5b"
V3 = "jinaai/jina-embeddings-v3"
REV = "rev0000000000000000000000000000000000001"
V3_REVISION = "215a6e121fa0183376388ac6b1ae230326bfeaed"  # of v3's figures in published.csv

KNOWN_TASKS = {t.metadata.name for t in mteb.get_tasks(exclude_superseded=False)}
Scores = dict[str, dict[str, float]]  # split -> subset -> main score (0–1)


def code_05b_meta(revision: str = REV, **overrides: Any) -> ModelMeta:
    """jina-code-embeddings-0.5b's ModelMeta from the reference facts (README)."""
    fields: dict[str, Any] = {
        "loader": None,
        "name": CODE_05B,
        "revision": revision,
        "release_date": "2025-09-04",
        "languages": ["python-Code", "eng-Latn"],
        "n_parameters": 494_000_000,
        "memory_usage_mb": None,
        "max_tokens": 32768,
        "embed_dim": 896,
        "license": "cc-by-nc-4.0",
        "open_weights": True,
        "public_training_code": None,
        "public_training_data": None,
        "framework": ["PyTorch", "Sentence Transformers"],
        "similarity_fn_name": "cosine",
        "use_instructions": True,
        "training_datasets": None,
        "reference": "https://huggingface.co/jinaai/jina-code-embeddings-0.5b",
        "adapted_from": "Qwen/Qwen2.5-Coder-0.5B",
    }
    fields.update(overrides)
    return ModelMeta(**fields)


def simple_meta(name: str, revision: str, embed_dim: int, kwargs: dict | None = None) -> ModelMeta:
    """A minimal ModelMeta for a results folder."""
    return ModelMeta.create_empty(
        {"name": name, "revision": revision, "embed_dim": embed_dim, "experiment_kwargs": kwargs}
    )


def full_scores(task: str, value: float) -> Scores:
    """``value`` for every eval split and subset mteb defines for ``task`` (a complete result)."""
    obj = mteb.get_task(task)
    return {split: dict.fromkeys(obj.hf_subsets, value) for split in obj.eval_splits}


def task_result(task: str, scores: Scores) -> TaskResult:
    """A TaskResult through mteb's API (tasks mteb knows) or its constructor (offline tasks)."""
    nested = {
        split: {sub: {"main_score": s, "ndcg_at_10": s} for sub, s in subs.items()}
        for split, subs in scores.items()
    }
    if task in KNOWN_TASKS:
        return TaskResult.from_task_results(mteb.get_task(task), nested, evaluation_time=1.0)
    flat = {
        split: [{**vals, "hf_subset": sub, "languages": ["eng-Latn"]} for sub, vals in subs.items()]
        for split, subs in nested.items()
    }
    return TaskResult(
        dataset_revision="local",
        task_name=task,
        mteb_version=mteb.__version__,
        scores=flat,
        evaluation_time=1.0,
    )


def run_record(**overrides: Any) -> dict[str, Any]:
    """A run record in the harness's schema; ``overrides`` replace top-level keys."""
    record: dict[str, Any] = {
        "embharness_version": "0.1.0",
        "git": {"sha": "abc1234", "dirty": False},
        "model": {"name": "m", "revision": REV, "dim": None, "full_dim": None},
        "task": {"name": "t", "type": "Retrieval", "max_samples": None},
        "settings": {"batch_size": 32, "dtype": "float32", "device": "cpu", "max_length": 512},
        "versions": {"python": "3.11.7", "mteb": mteb.__version__, "torch": "2.13.0"},
    }
    record.update(overrides)
    return record


def write_result(
    results: Path,
    model: str,
    task: str,
    scores: Scores,
    *,
    revision: str = REV,
    embed_dim: int = 896,
    kwargs: dict[str, Any] | None = None,
    meta: ModelMeta | None = None,
    record: dict[str, Any] | None = None,
    dataset_revision: str | None = None,
) -> Path:
    """Write one TaskResult (+ model_meta.json, + run record) in the harness's layout;
    ``dataset_revision`` replaces the task's own."""
    folder = results / model.replace("/", "__") / revision
    meta = meta or simple_meta(model, revision, embed_dim, kwargs)
    if kwargs:
        folder = folder / "experiments" / meta.experiment_name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model_meta.json").write_text(json.dumps(meta.to_dict(), default=str))
    path = folder / f"{task}.json"
    result = task_result(task, scores)
    if dataset_revision is not None:
        result.dataset_revision = dataset_revision
    result.to_disk(path)
    if record is not None:
        (folder / "_embharness").mkdir(exist_ok=True)
        (folder / "_embharness" / f"{task}.json").write_text(json.dumps(record))
    return path


def test_fixture_files_load_through_mteb(tmp_path: Path) -> None:
    results = tmp_path / "results"
    write_result(results, CODE_05B, "CosQA", {"test": {"default": 0.4}}, meta=code_05b_meta())
    write_result(results, CODE_05B, "CosQA", {"test": {"default": 0.3}}, kwargs={"embed_dim": 256})
    write_result(results, CODE_05B, "PythonStdlibDocstringRetrieval", {"test": {"default": 0.5}})
    loaded = mteb.ResultCache(tmp_path).load_results(
        include_remote=False, load_experiments="match_name"
    )
    found = {
        (m.experiment_name, t.task_name, t.get_score()) for m in loaded.model_results for t in m
    }
    assert found == {
        (None, "CosQA", 0.4),
        ("embed_dim_256", "CosQA", 0.3),
        (None, "PythonStdlibDocstringRetrieval", 0.5),
    }


# Table 2 as printed for jina-code-embeddings-0.5b (the 12 MTEB(Code, v1) rows), typed here so
# the tests do not trust the loader.
PAPER_05B = {
    "CosQA": 39.25,
    "COIRCodeSearchNetRetrieval": 85.73,
    "CodeSearchNetRetrieval": 90.68,
    "CodeEditSearchRetrieval": 83.25,
    "AppsRetrieval": 84.17,
    "SyntheticText2SQL": 72.80,
    "CodeFeedbackMT": 89.56,
    "CodeFeedbackST": 85.73,
    "StackOverflowQA": 91.04,
    "CodeTransOceanContest": 90.37,
    "CodeTransOceanDL": 41.69,
    "CodeSearchNetCCRetrieval": 90.41,
}
