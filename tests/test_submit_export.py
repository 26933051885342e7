"""`embharness submit`: MTEB results-repository layout, mteb round trip and refusals."""

from __future__ import annotations

import json
from pathlib import Path

import mteb
import pytest
from mteb.models.model_meta import ModelMeta
from mteb.results import TaskResult
from test_report_fixtures import (
    CODE_05B,
    REV,
    V3,
    code_05b_meta,
    full_scores,
    run_record,
    simple_meta,
    write_result,
)

from embharness.errors import HarnessError
from embharness.results import export as submit_module
from embharness.results.export import SNIPPET_FILE, export_submission, format_submission

CODE_TASKS = sorted(t.metadata.name for t in mteb.get_benchmark("MTEB(Code, v1)").tasks)


def _results(tmp_path: Path, skip: str | None = None, dirty_task: str | None = None) -> Path:
    results = tmp_path / "results"
    for i, task in enumerate(CODE_TASKS):
        if task == skip:
            continue
        git = {"sha": "abc1234", "dirty": task == dirty_task}
        record = run_record(git=git)
        scores = full_scores(task, 0.5 + i / 100)
        write_result(results, CODE_05B, task, scores, meta=code_05b_meta(), record=record)
    write_result(results, CODE_05B, "CosQA", {"test": {"default": 0.3}}, kwargs={"embed_dim": 256})
    offline = {"test": {"default": 0.9}}
    write_result(results, CODE_05B, "HumanEvalRetrievalOffline", offline, meta=code_05b_meta())
    return results


def _exec_snippet(path: Path, variable: str = "jina_code_embeddings_0_5b") -> ModelMeta:
    namespace: dict[str, object] = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    meta = namespace[variable]
    assert isinstance(meta, ModelMeta)
    return meta


def _note_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if "not in mteb's model registry" in line]


def test_export_round_trips_through_mteb(tmp_path: Path) -> None:
    results = _results(tmp_path)
    out = tmp_path / "submission"
    done = export_submission(CODE_05B, out, results)
    folder = out / "results" / "jinaai__jina-code-embeddings-0.5b" / REV
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"{t}.json" for t in CODE_TASKS] + ["model_meta.json"]
    )
    assert done.tasks == CODE_TASKS and done.skipped == ["HumanEvalRetrievalOffline"]
    assert done.gaps == [] and any("MTEB(Multilingual, v2)" in line for line in done.touched)
    loaded = mteb.ResultCache(out).load_results(include_remote=False)
    assert [(m.model_name, m.model_revision, m.experiment_name) for m in loaded] == [
        (CODE_05B, REV, None)
    ]
    for i, task in enumerate(CODE_TASKS):
        exported = TaskResult.from_disk(folder / f"{task}.json")
        assert exported.get_score() == pytest.approx(0.5 + i / 100)
        assert exported.get_missing_evaluations(mteb.get_task(task)) == {}
    assert {t.task_name: t.get_score() for t in loaded[0]} == pytest.approx(
        {task: 0.5 + i / 100 for i, task in enumerate(CODE_TASKS)}
    )
    assert not (folder / "experiments").exists() and not (folder / "_embharness").exists()


def test_snippet_comes_from_the_registry_meta(tmp_path: Path) -> None:
    registry = pytest.importorskip("embharness.specs.registry")
    out = tmp_path / "submission"
    export_submission(CODE_05B, out, _results(tmp_path))
    meta = _exec_snippet(out / SNIPPET_FILE)
    expected = registry.model_meta_for(CODE_05B).model_copy(update={"revision": REV})
    assert meta == expected  # every field (model_dump), training datasets as a set
    code_v1 = set(CODE_TASKS)
    assert (meta.release_date, meta.adapted_from) == ("2025-09-04", "Qwen/Qwen2.5-Coder-0.5B")
    assert meta.training_datasets == code_v1 and meta.is_zero_shot_on(CODE_TASKS) is False


def test_unregistered_model_gets_one_note_line(tmp_path: Path) -> None:
    out = tmp_path / "submission"
    done = export_submission(CODE_05B, out, _results(tmp_path))
    assert done.snippet == out / SNIPPET_FILE
    notes = _note_lines(format_submission(done))
    assert notes == [
        f"note: {CODE_05B} is not in mteb's model registry, so the leaderboard cannot show it "
        f"until a ModelMeta is added to mteb; wrote {out / SNIPPET_FILE} for that PR"
    ]


def test_any_unregistered_model_gets_a_snippet_from_its_saved_meta(tmp_path: Path) -> None:
    name = "acme/tiny-code-encoder.v2"
    results = tmp_path / "results"
    meta = code_05b_meta(name=name, reference=None, adapted_from=None, release_date="2026-01-02")
    write_result(results, name, "CosQA", full_scores("CosQA", 0.4), meta=meta)
    out = tmp_path / "submission"
    done = export_submission(name, out, results, allow_partial=True)
    snippet = _exec_snippet(out / SNIPPET_FILE, "tiny_code_encoder_v2")
    assert snippet.to_dict() == meta.to_dict()
    assert len(_note_lines(format_submission(done))) == 1


def test_registered_model_exports_mteb_entry_and_no_snippet(tmp_path: Path) -> None:
    results = tmp_path / "results"
    revision = mteb.get_model_meta(V3).revision
    stale = simple_meta(V3, revision, 1024)  # e.g. written before the harness used mteb's entry
    write_result(results, V3, "CosQA", full_scores("CosQA", 0.4), revision=revision, meta=stale)
    out = tmp_path / "submission"
    done = export_submission(V3, out, results, allow_partial=True)
    written = out / "results" / V3.replace("/", "__") / revision / "model_meta.json"
    saved = json.loads(written.read_text())
    assert saved.pop("is_cross_encoder") is False  # legacy key that to_dict() writes
    exported = ModelMeta.model_validate_json_resolved(json.dumps(saved))
    assert exported == mteb.get_model_meta(V3)  # every field, loader resolved by name
    assert done.snippet is None and not (out / SNIPPET_FILE).exists()
    assert _note_lines(format_submission(done)) == []


def test_snippet_falls_back_to_saved_model_meta(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(submit_module, "_registry_meta", lambda name: None)
    out = tmp_path / "submission"
    export_submission(CODE_05B, out, _results(tmp_path))
    meta = _exec_snippet(out / SNIPPET_FILE)
    assert meta.to_dict() == code_05b_meta().to_dict()
    assert (meta.embed_dim, meta.max_tokens, meta.n_parameters) == (896, 32768, 494_000_000)
    assert (meta.license, meta.similarity_fn_name.value) == ("cc-by-nc-4.0", "cosine")


def test_partial_benchmark_is_refused_unless_allowed(tmp_path: Path) -> None:
    results = _results(tmp_path, skip="CodeEditSearchRetrieval")
    with pytest.raises(HarnessError, match=r"MTEB\(Code, v1\) @ rev000000000: 11/12 tasks"):
        export_submission(CODE_05B, tmp_path / "refused", results)
    assert not (tmp_path / "refused").exists()
    done = export_submission(CODE_05B, tmp_path / "allowed", results, allow_partial=True)
    assert len(done.tasks) == 11
    assert any("MTEB(Code, v1)" in gap and "CodeEditSearchRetrieval" in gap for gap in done.gaps)


def test_incomplete_task_is_refused(tmp_path: Path) -> None:
    results = _results(tmp_path)
    write_result(results, CODE_05B, "CosQA", {"test": {"default": 0.5}}, meta=code_05b_meta())
    write_result(
        results, CODE_05B, "CodeSearchNetRetrieval", {"test": {"python": 0.5}}, meta=code_05b_meta()
    )
    with pytest.raises(HarnessError, match=r"CodeSearchNetRetrieval .* lacks test: go"):
        export_submission(CODE_05B, tmp_path / "out", results)


def test_dirty_tree_is_refused(tmp_path: Path) -> None:
    results = _results(tmp_path, dirty_task="CosQA")
    with pytest.raises(HarnessError, match=r"uncommitted local changes .*CosQA"):
        export_submission(CODE_05B, tmp_path / "out", results, allow_partial=True)


def test_capped_default_run_and_unknown_model_are_refused(tmp_path: Path) -> None:
    results = _results(tmp_path)
    capped = run_record(task={"name": "CosQA", "type": "Retrieval", "max_samples": 20})
    write_result(
        results, CODE_05B, "CosQA", {"test": {"default": 0.5}}, meta=code_05b_meta(), record=capped
    )
    with pytest.raises(HarnessError, match="max_samples=20"):
        export_submission(CODE_05B, tmp_path / "out", results, allow_partial=True)
    with pytest.raises(HarnessError, match="no full-dimension default results"):
        export_submission("org/unknown", tmp_path / "out", results)
