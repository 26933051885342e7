"""Leaderboard metadata: mteb's registry entry for models it knows, the paper's facts otherwise."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mteb
import pytest
from mteb.models import ModelMeta
from test_report_fixtures import task_result

from embharness.results.store import ResultsStore
from embharness.specs import meta as meta_module
from embharness.specs.jina_code import JINA_CODE_05B, JINA_CODE_15B
from embharness.specs.jina_v3 import JINA_V3
from embharness.specs.minilm import MINILM
from embharness.specs.registry import get_spec
from embharness.specs.spec import ModelSpec

OTHER_REVISION = "0123456789abcdef0123456789abcdef01234567"


def _differing(ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Fields whose values differ (training datasets compared as sets: their order is a set's)."""
    assert ours.keys() == theirs.keys()
    norm = {"training_datasets": lambda v: None if v is None else set(v)}
    return {
        key: (ours[key], theirs[key])
        for key in ours
        if norm.get(key, lambda v: v)(ours[key]) != norm.get(key, lambda v: v)(theirs[key])
    }


@pytest.mark.parametrize("spec", [JINA_V3, MINILM], ids=["jina-v3", "minilm"])
def test_full_dim_meta_is_mteb_registry_entry(spec: ModelSpec) -> None:
    expected = mteb.get_model_meta(spec.name).to_dict()
    assert _differing(spec.to_model_meta().to_dict(), expected) == {}


@pytest.mark.parametrize(("spec", "dim"), [(JINA_V3, 256), (MINILM, 64)], ids=["jina-v3", "minilm"])
def test_matryoshka_meta_differs_only_in_dim_and_experiment(spec: ModelSpec, dim: int) -> None:
    expected = mteb.get_model_meta(spec.name).to_dict()
    assert _differing(spec.to_model_meta(dim).to_dict(), expected) == {
        "embed_dim": (dim, expected["embed_dim"]),
        "experiment_kwargs": ({"embed_dim": dim}, None),
    }


def test_v3_meta_has_the_registry_facts_the_leaderboard_reads() -> None:
    meta = JINA_V3.to_model_meta(256)
    assert (meta.max_tokens, meta.n_parameters, meta.release_date) == (
        8192,
        572310396,
        "2024-09-18",
    )
    assert meta.adapted_from == "XLM-RoBERTa" and meta.training_datasets
    assert meta.languages == mteb.get_model_meta(JINA_V3.name).languages


def test_pinned_revision_overrides_only_the_revision() -> None:
    spec = get_spec(JINA_V3.name, revision=OTHER_REVISION)
    expected = mteb.get_model_meta(JINA_V3.name).to_dict()
    meta = spec.to_model_meta(256, max_samples=50)
    assert _differing(meta.to_dict(), expected) == {
        "revision": (OTHER_REVISION, expected["revision"]),
        "embed_dim": (256, 1024),
        "experiment_kwargs": ({"embed_dim": 256, "max_samples": 50}, None),
    }
    folder = ResultsStore(Path("results")).cell_folder(meta)
    assert folder.parts[-3:-1] == (OTHER_REVISION, "experiments")


def test_written_model_meta_json_is_mteb_entry(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "results")
    result = task_result("CosQA", {"test": {"default": 0.5}})
    path = store.write(result, JINA_V3.to_model_meta(), {"model": {"name": JINA_V3.name}})
    assert path.parent == tmp_path / "results" / JINA_V3.name.replace("/", "__") / JINA_V3.revision
    written = json.loads((path.parent / "model_meta.json").read_text())
    expected = json.loads(json.dumps(mteb.get_model_meta(JINA_V3.name).to_dict(), default=str))
    assert _differing(written, expected) == {}


def test_registry_lookup_never_asks_the_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_hub(*args: object, **kwargs: object) -> None:
        raise AssertionError("fetched from the hub")

    monkeypatch.setattr(ModelMeta, "from_hub", no_hub)
    assert meta_module.mteb_registry_meta("acme/not-a-registered-model") is None
    assert not meta_module.in_mteb_registry(JINA_CODE_05B.name)
    assert meta_module.in_mteb_registry(JINA_V3.name)


@pytest.mark.parametrize(
    ("spec", "base"),
    [(JINA_CODE_05B, "Qwen/Qwen2.5-Coder-0.5B"), (JINA_CODE_15B, "Qwen/Qwen2.5-Coder-1.5B")],
    ids=["0.5b", "1.5b"],
)
def test_jina_code_meta_carries_the_paper_facts(spec: ModelSpec, base: str) -> None:
    meta = spec.to_model_meta()
    assert meta.release_date == "2025-09-04" and meta.adapted_from == base
    code_v1 = {task.metadata.name for task in mteb.get_benchmark("MTEB(Code, v1)").tasks}
    assert meta.training_datasets == code_v1
    known = {task.metadata.name for task in mteb.get_tasks(exclude_superseded=False)}
    assert meta.training_datasets <= known
    assert meta.is_zero_shot_on(sorted(code_v1)) is False
    assert (meta.name, meta.embed_dim, meta.loader) == (spec.name, spec.embed_dim, None)
    assert spec.to_model_meta(256).experiment_kwargs == {"embed_dim": 256}


def test_written_model_meta_json_lists_training_datasets_sorted(tmp_path: Path) -> None:
    """mteb keeps training_datasets as a set; written sorted, a rerun writes the same bytes."""
    store = ResultsStore(tmp_path / "results")
    result = task_result("CosQA", {"test": {"default": 0.5}})
    path = store.write(result, JINA_V3.to_model_meta(), {"model": {"name": JINA_V3.name}})
    written = json.loads((path.parent / "model_meta.json").read_text())["training_datasets"]
    assert written == sorted(mteb.get_model_meta(JINA_V3.name).training_datasets or [])
    assert len(written) > 5
