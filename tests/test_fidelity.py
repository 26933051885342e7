"""Issue 9: v3's modeling code pinned by commit, dtype in the result identity, whitespace rule.

The v3 checkpoint is the tiny random-weight STAND-IN of ``tests/fixtures/jina_v3_standin``. For
the code pin its ``auto_map`` points at the real code repository name, and the stand-in's code
sits in a Hugging Face cache snapshot of that repository at a made-up commit, so transformers
resolves it through its real ``code_revision`` path, offline.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mteb
import numpy as np
import pytest
import torch

from embharness.encoding.bridge import cache_key
from embharness.encoding.cache import cache_summary
from embharness.encoding.plans import resolve_plan
from embharness.errors import HarnessError
from embharness.models.loading import LoadSettings, describe_backend, load_backend
from embharness.run.options import RunOptions
from embharness.run.runner import SweepRunner
from embharness.run.sweep import parse_sweep
from embharness.specs.registry import get_spec

V3 = "jinaai/jina-embeddings-v3"
CODE_REPO = "jinaai/xlm-roberta-flash-implementation"
CODE_COMMIT = "1234567890abcdef1234567890abcdef12345678"
JINA_CODE = "jinaai/jina-code-embeddings-0.5b"
TASK = "HumanEvalRetrievalOffline"


@pytest.fixture
def v3_cross_repo(v3_dir: Path, tmp_path: Path):
    """A v3 stand-in whose code lives in CODE_REPO@CODE_COMMIT of the Hugging Face cache."""
    from huggingface_hub import constants

    folder = tmp_path / "v3-cross-repo"
    shutil.copytree(v3_dir, folder, ignore=shutil.ignore_patterns("*.py"))
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {k: f"{CODE_REPO}--{v}" for k, v in config["auto_map"].items()}
    (folder / "config.json").write_text(json.dumps(config))
    repo_cache = Path(constants.HF_HUB_CACHE) / f"models--{CODE_REPO.replace('/', '--')}"
    snapshot = repo_cache / "snapshots" / CODE_COMMIT
    snapshot.mkdir(parents=True, exist_ok=True)
    for source in v3_dir.glob("*.py"):
        shutil.copy(source, snapshot)
    yield folder
    shutil.rmtree(repo_cache, ignore_errors=True)


def test_cross_repo_code_needs_a_commit_pin(v3_cross_repo: Path) -> None:
    """A local v3 whose auto_map names the code repo is refused without a code revision."""
    spec = get_spec(V3, local_path=str(v3_cross_repo))
    with pytest.raises(HarnessError, match="list_repo_commits"):
        describe_backend(spec, LoadSettings(device="cpu"))


def test_code_revision_loads_and_is_recorded(v3_cross_repo: Path, tmp_path: Path) -> None:
    """With the pin, transformers loads the code at that commit; key and record carry it."""
    sweep = parse_sweep(
        {
            "models": [
                {
                    "name": V3,
                    "path": str(v3_cross_repo),
                    "code_revision": CODE_COMMIT,
                    "dims": [64],
                }
            ],
            "tasks": [{"name": TASK, "max_samples": 8}],
        }
    )
    options = RunOptions(tmp_path / "results", tmp_path / "cache", show_progress=False)
    [outcome] = SweepRunner(sweep, options).run()
    model = outcome.record["model"]
    assert (model["code_repo"], model["code_revision"]) == (CODE_REPO, CODE_COMMIT)
    assert model["flash_attn"] is False  # no CUDA and no flash_attn here
    keys = [entry["key"]["model"] for entry in cache_summary(tmp_path / "cache")]
    assert keys and all(k["code_revision"] == CODE_COMMIT for k in keys)
    spec = get_spec(V3, local_path=str(v3_cross_repo), code_revision=CODE_COMMIT)
    backend = load_backend(spec, LoadSettings(device="cpu"))
    assert type(backend.model).__module__.startswith("transformers_modules")
    assert CODE_COMMIT in str(Path(type(backend.model).__module__.replace(".", "/")))


def _sweep(name: str, path: Path, dtype: str) -> object:
    return parse_sweep(
        {
            "settings": {"dtype": dtype, "device": "cpu"},
            "models": [{"name": name, "path": str(path), "dims": [64]}],
            "tasks": [{"name": TASK, "max_samples": 8}],
        }
    )


def test_float32_and_float16_runs_land_in_two_folders(tiny_qwen_dir: Path, tmp_path: Path) -> None:
    """jina-code's published dtype is fp16: that run keeps the folder, float32 names one."""
    options = RunOptions(tmp_path / "results", tmp_path / "cache", show_progress=False)
    [fp32] = SweepRunner(_sweep(JINA_CODE, tiny_qwen_dir, "float32"), options).run()
    [fp16] = SweepRunner(_sweep(JINA_CODE, tiny_qwen_dir, "float16"), options).run()
    assert (fp32.status, fp16.status) == ("ran", "ran")
    assert fp32.record["settings"]["dtype"] == "float32"
    assert fp16.record["settings"]["dtype"] == "float16"
    assert fp16.record["settings"]["dtype_read_from"] == "model parameters"
    results = sorted(
        p.relative_to(tmp_path / "results")
        for p in (tmp_path / "results").rglob(f"{TASK}.json")
        if "_embharness" not in p.parts
    )
    folders = {p.parent.name for p in results}
    assert len(results) == 2 and len(folders) == 2
    assert any("dtype_float32" in name for name in folders)
    assert not any("float16" in name for name in folders)
    assert fp32.main_score != pytest.approx(0.0)


def test_dtype_recorded_from_parameters(tiny_qwen_dir: Path) -> None:
    """The loaded weights' dtype, read back from the parameters, is the keyed one."""
    spec = get_spec(JINA_CODE, local_path=str(tiny_qwen_dir))
    for dtype, expected in (("auto", torch.float32), ("float16", torch.float16)):
        backend = load_backend(spec, LoadSettings(device="cpu", dtype=dtype))
        assert {p.dtype for p in backend.model.parameters()} == {expected}
        assert backend.info.dtype == str(expected).removeprefix("torch.")


def test_published_dtypes_and_their_sources() -> None:
    """Each spec carries the dtype its published figures were made in, with the reason."""
    assert get_spec(JINA_CODE).dtype == "float16"
    assert "Appendix C" in get_spec(JINA_CODE).dtype_source
    assert get_spec(V3).dtype == "bfloat16"
    assert CODE_REPO in get_spec(V3).dtype_source
    assert get_spec("sentence-transformers/all-MiniLM-L6-v2").dtype == "float32"


NEWLINE_TEXTS = ["def add(a, b):\n    return a + b\n", "  indented text with spaces  "]


@pytest.mark.parametrize("strip", [True, False])
def test_whitespace_rule_changes_key_and_last_token_vector(
    tiny_qwen_dir: Path, make_encoder, jina_code_reference, strip: bool
) -> None:
    """Last-token pooling on the tiny Qwen2: a trailing newline is the pooled token unless
    stripped; each setting equals the card recipe on the string it says reaches the model."""
    from dataclasses import replace

    spec = replace(get_spec(JINA_CODE, local_path=str(tiny_qwen_dir)), strip_whitespace=strip)
    metadata = mteb.get_task("HumanEvalRetrieval").metadata
    plan = resolve_plan(spec, metadata, "document")
    assert plan.strip is strip
    prefix = "Candidate code snippet:\n"
    expected_inputs = [(prefix + t).strip() if strip else prefix + t for t in NEWLINE_TEXTS]
    assert [plan.model_input(t) for t in NEWLINE_TEXTS] == expected_inputs
    got = make_encoder(spec, 256).full_vectors(NEWLINE_TEXTS, plan)
    want = jina_code_reference(tiny_qwen_dir, expected_inputs)
    np.testing.assert_allclose(got, want, atol=1e-4)
    other = jina_code_reference(tiny_qwen_dir, [prefix + t for t in NEWLINE_TEXTS])
    if strip:
        assert np.abs(got[0] - other[0]).max() > 1e-3  # the newline changed the pooled token


def test_whitespace_rule_is_in_the_cache_key(tiny_qwen_dir: Path) -> None:
    from dataclasses import replace

    spec = get_spec(JINA_CODE, local_path=str(tiny_qwen_dir))
    info = describe_backend(spec, LoadSettings(device="cpu"))
    metadata = mteb.get_task("HumanEvalRetrieval").metadata
    keys = [
        cache_key(info, resolve_plan(replace(spec, strip_whitespace=s), metadata, "query"), 512)
        for s in (True, False)
    ]
    assert keys[0] != keys[1]
    assert {k["strip"] for k in keys} == {True, False}
    assert get_spec(JINA_CODE).strip_whitespace is True
    assert "sentence-transformers" in get_spec(JINA_CODE).strip_source


def test_sweep_strip_override_names_an_experiment(minilm_path: Path, tmp_path: Path) -> None:
    """MiniLM strips by default (sentence-transformers); turning it off never shares a folder."""
    model = "sentence-transformers/all-MiniLM-L6-v2"
    options = RunOptions(tmp_path / "results", tmp_path / "cache", show_progress=False)
    tasks = [{"name": TASK, "max_samples": 8}]
    plain = parse_sweep({"models": [{"name": model, "dims": [384]}], "tasks": tasks})
    raw = parse_sweep(
        {"models": [{"name": model, "dims": [384], "strip_whitespace": False}], "tasks": tasks}
    )
    [first] = SweepRunner(plain, options).run()
    [second] = SweepRunner(raw, options).run()
    assert (first.status, second.status) == ("ran", "ran")
    assert second.record["settings"]["strip_whitespace"] is False
    names = {p.parent.name for p in (tmp_path / "results").rglob(f"{TASK}.json")}
    assert any("strip_whitespace_False" in n for n in names)


def _v3_sweep(v3_dir: Path, task_adapters: object) -> object:
    entry = {"name": V3, "path": str(v3_dir), "dims": [32], "task_adapters": task_adapters}
    return parse_sweep({"models": [entry], "tasks": [{"name": TASK, "max_samples": 8}]})


def test_task_adapter_opt_in_names_an_experiment(v3_dir: Path, tmp_path: Path) -> None:
    """A sweep may give a task another adapter; it is applied, recorded and kept apart."""
    options = RunOptions(tmp_path / "results", tmp_path / "cache", show_progress=False)
    [default] = SweepRunner(_v3_sweep(v3_dir, None), options).run()
    [opted] = SweepRunner(_v3_sweep(v3_dir, {TASK: "text-matching"}), options).run()
    assert default.record["task"]["plans"]["query"]["adapter"] == "retrieval.query"
    plans = opted.record["task"]["plans"]
    assert {side: plan["adapter"] for side, plan in plans.items()} == {
        "query": "text-matching",
        "document": "text-matching",
    }
    assert all(plan["prefix"] == "" for plan in plans.values())
    assert opted.main_score != default.main_score
    names = {
        p.parent.name
        for p in (tmp_path / "results").rglob(f"{TASK}.json")
        if "_embharness" not in p.parts
    }
    assert any("task_adapters" in n for n in names) and len(names) == 2, names


def test_task_adapter_unknown_name_is_one_line(v3_dir: Path, tmp_path: Path) -> None:
    options = RunOptions(tmp_path / "results", None, show_progress=False)
    with pytest.raises(HarnessError) as caught:
        SweepRunner(_v3_sweep(v3_dir, {TASK: {"query": "retrieval"}}), options)
    assert "has no adapter 'retrieval'" in caught.value.one_line()
    assert "text-matching" in caught.value.one_line()
