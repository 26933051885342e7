"""Sweep selection: groups by task type, a single language, dims and models."""

from __future__ import annotations

from pathlib import Path

import mteb
import pytest

from embharness.errors import HarnessError
from embharness.run.select import filter_sweep
from embharness.run.sweep import load_sweep

EVALS = Path(__file__).resolve().parents[1] / "evals"


def test_multilingual_sweep_is_the_benchmark_grouped_by_type() -> None:
    sweep = load_sweep(EVALS / "multilingual.yaml")
    benchmark = mteb.get_benchmark("MTEB(Multilingual, v2)")
    assert sorted(t.name for t in sweep.tasks) == sorted(t.metadata.name for t in benchmark.tasks)
    for task in benchmark.tasks:
        assert task.metadata.name in sweep.groups[task.metadata.type]


def test_quick_subset_covers_every_type_and_five_languages() -> None:
    quick = load_sweep(EVALS / "quick-multilingual.yaml")
    types = {mteb.get_task(t.name).metadata.type for t in quick.tasks}
    assert types >= {
        "BitextMining",
        "Classification",
        "Clustering",
        "MultilabelClassification",
        "PairClassification",
        "Reranking",
        "Retrieval",
        "STS",
        "Summarization",
    }
    languages = {lang for t in quick.tasks for lang in (t.languages or ())}
    assert len(languages) >= 5


def test_one_type_and_one_language() -> None:
    sweep = filter_sweep(load_sweep(EVALS / "multilingual.yaml"), None, None, None, "STS", ["deu"])
    assert [t.name for t in sweep.tasks] == ["GermanSTSBenchmark", "STS17", "STS22.v2"]
    assert all(t.languages == ("deu",) for t in sweep.tasks)


def test_unknown_group_and_model_are_errors() -> None:
    sweep = load_sweep(EVALS / "multilingual.yaml")
    with pytest.raises(HarnessError, match="group 'Nope'"):
        filter_sweep(sweep, None, None, None, "Nope")
    with pytest.raises(HarnessError, match="not in this sweep"):
        filter_sweep(sweep, ["other/model"], None, None)


def test_dims_flag_replaces_the_sweep_dims() -> None:
    sweep = filter_sweep(load_sweep(EVALS / "offline.yaml"), None, None, [64, 384])
    assert sweep.models[0].dims == (64, 384)
