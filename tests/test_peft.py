"""User LoRA adapters (peft) on the tiny Qwen2: they change vectors, merge exactly, and change
the result identity."""

from __future__ import annotations

from pathlib import Path

import mteb
import numpy as np
import pytest
import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import AutoModel

from embharness.encoding.plans import resolve_plan
from embharness.models.loading import LoadSettings
from embharness.models.peft_adapter import adapter_identity
from embharness.run.options import RunOptions
from embharness.run.runner import SweepRunner
from embharness.run.sweep import parse_sweep
from embharness.specs.registry import get_spec

CODE_05B = "jinaai/jina-code-embeddings-0.5b"
TEXTS = ["binary search over a sorted list", "def add(a, b):\n    return a + b\n", "x"]


def make_lora(base_folder: Path, out: Path, seed: int) -> Path:
    """A rank-4 LoRA on q/v projections with random non-zero A and B, saved by peft."""
    torch.manual_seed(seed)
    model = AutoModel.from_pretrained(base_folder, dtype=torch.float32)
    config = LoraConfig(
        r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False
    )
    get_peft_model(model, config).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def lora_dir(tiny_qwen_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One saved LoRA adapter for the tiny Qwen2."""
    return make_lora(tiny_qwen_dir, tmp_path_factory.mktemp("lora-a"), seed=1)


def harness_vectors(folder: Path, make_encoder, settings: LoadSettings) -> np.ndarray:
    """Raw full-dim vectors of TEXTS (CosQA query plan) through the harness."""
    spec = get_spec(CODE_05B, local_path=str(folder))
    plan = resolve_plan(spec, mteb.get_task("CosQA").metadata, "query")
    return make_encoder(spec, 256, settings).full_vectors(TEXTS, plan)


def test_adapter_changes_vectors_and_merges_exactly(
    tiny_qwen_dir: Path, lora_dir: Path, make_encoder, jina_code_reference
) -> None:
    """Adapter ≠ base; adapter = merged adapter = peft's own PeftModel, all to 1e-5."""
    base = harness_vectors(tiny_qwen_dir, make_encoder, LoadSettings(device="cpu"))
    adapted = harness_vectors(
        tiny_qwen_dir, make_encoder, LoadSettings(device="cpu", peft_adapter=str(lora_dir))
    )
    merged = harness_vectors(
        tiny_qwen_dir,
        make_encoder,
        LoadSettings(device="cpu", peft_adapter=str(lora_dir), merge_peft=True),
    )
    assert np.abs(adapted - base).max() > 1e-2
    np.testing.assert_allclose(adapted, merged, atol=1e-5)
    prefix = resolve_plan(get_spec(CODE_05B), mteb.get_task("CosQA").metadata, "query").prefix
    peft_model = PeftModel.from_pretrained(
        AutoModel.from_pretrained(tiny_qwen_dir, dtype=torch.float32), str(lora_dir)
    )
    # The spec strips each prompted text, as sentence-transformers does; TEXTS[1] ends in "\n".
    prompted = [(prefix + t).strip() for t in TEXTS]
    want = jina_code_reference(tiny_qwen_dir, prompted, model=peft_model)
    np.testing.assert_allclose(adapted, want, atol=1e-5)
    np.testing.assert_allclose(base, jina_code_reference(tiny_qwen_dir, prompted), atol=1e-5)


def test_adapter_changes_result_identity(
    tiny_qwen_dir: Path, lora_dir: Path, tmp_path: Path
) -> None:
    """The runner's ModelMeta names the adapter's content hash; another adapter, another name."""
    other = make_lora(tiny_qwen_dir, tmp_path / "lora-b", seed=2)
    entries = [{"name": CODE_05B, "path": str(tiny_qwen_dir), "dims": [64]}]
    entries += [{**entries[0], "adapter": str(path)} for path in (lora_dir, other)]
    sweep = parse_sweep({"models": entries, "tasks": ["CosQA"]})
    runner = SweepRunner(sweep, RunOptions(tmp_path / "results", None, show_progress=False))
    task = sweep.tasks[0]
    metas = [runner.cell_meta(model, task, 64) for model in runner.models]
    names = [meta.experiment_name or "" for meta in metas]
    assert "peft" not in names[0]
    for name, path in zip(names[1:], (lora_dir, other), strict=True):
        digest = adapter_identity(str(path))["sha256"]
        assert digest[:12] in name
    assert len(set(names)) == 3
    assert len({meta.model_name_with_experiment for meta in metas}) == 3
    identities = [str(model.info.cache_identity()) for model in runner.models]
    assert len(set(identities)) == 3
