"""jina-embeddings-v3 through the harness: adapters, instructions, pooling, dims, remote code.

The checkpoint is a tiny random-weight STAND-IN whose own modeling code
(``tests/fixtures/jina_v3_standin``) is loaded with ``trust_remote_code`` from the local
folder, as the real model's code would be; the real remote code cannot be downloaded here.
"""

from __future__ import annotations

import json
from pathlib import Path

import mteb
import numpy as np
import pytest
import torch
from mteb.types import PromptType
from transformers import AutoModel, AutoTokenizer

from embharness.encoding.bridge import project
from embharness.encoding.plans import resolve_plan
from embharness.errors import HarnessError
from embharness.models.loading import LoadSettings, load_backend
from embharness.run.cells import prepare_model
from embharness.run.sweep import ModelEntry
from embharness.specs.registry import get_spec

V3 = "jinaai/jina-embeddings-v3"
QUERY_INSTRUCTION = "Represent the query for retrieving evidence documents: "
PASSAGE_INSTRUCTION = "Represent the document for retrieval: "
ADAPTATIONS = ["retrieval.query", "retrieval.passage", "separation", "classification"]
ADAPTATIONS += ["text-matching"]
TEXTS = [
    "What is the capital of France?",
    "Paris is the capital and largest city of France, on the Seine.",
    "short",
    "Le chat dort sur le canapé pendant que la pluie tombe dehors.",
]

# One real mteb task per task type, with the adapter the reference table gives each side.
TASK_ADAPTERS = [
    ("SciFact", "query", "retrieval.query"),
    ("SciFact", "document", "retrieval.passage"),
    ("TwentyNewsgroupsClustering", "query", "separation"),
    ("AskUbuntuDupQuestions", "query", "separation"),
    ("AskUbuntuDupQuestions", "document", "separation"),
    ("Banking77Classification", "query", "classification"),
    ("SprintDuplicateQuestions", "query", "classification"),
    ("EmotionAnalysisPlus.v2", "query", "classification"),
    ("STSBenchmark", "query", "text-matching"),
    ("BUCC.v2", "query", "text-matching"),
    ("SummEvalSummarization.v2", "query", "text-matching"),
    ("SummEvalSummarization.v2", "document", "text-matching"),
]
TASK_TYPES = {
    "SciFact": "Retrieval",
    "TwentyNewsgroupsClustering": "Clustering",
    "AskUbuntuDupQuestions": "Reranking",
    "Banking77Classification": "Classification",
    "SprintDuplicateQuestions": "PairClassification",
    "EmotionAnalysisPlus.v2": "MultilabelClassification",
    "STSBenchmark": "STS",
    "BUCC.v2": "BitextMining",
    "SummEvalSummarization.v2": "Summarization",
}


def v3_spec(folder: Path):
    """The registered v3 spec, loading the stand-in folder."""
    return get_spec(V3, local_path=str(folder))


def reference_vectors(folder: Path, texts: list[str], adapter: str, dim: int) -> np.ndarray:
    """The public usage pattern, computed independently of the harness.

    ``adapter_mask`` full of the adapter's id, mean pooling over the attention mask by hand,
    truncation to ``dim`` and only then L2 normalisation.
    """
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder, trust_remote_code=True, use_flash_attn=False).eval()
    inputs = tokenizer(texts, padding=True, truncation=True, max_length=8192, return_tensors="pt")
    task_id = model._adaptation_map[adapter]
    adapter_mask = torch.full((len(texts),), task_id, dtype=torch.int32)
    with torch.no_grad():
        out = model(inputs["input_ids"], inputs["attention_mask"], adapter_mask=adapter_mask)
    mask = inputs["attention_mask"].unsqueeze(-1).float()
    pooled = (out[0] * mask).sum(dim=1) / mask.sum(dim=1)
    cut = pooled[:, :dim]
    return (cut / cut.norm(dim=1, keepdim=True)).numpy()


@pytest.mark.parametrize(("task", "side", "adapter"), TASK_ADAPTERS)
def test_adapter_for_every_task_type_and_side(task: str, side: str, adapter: str) -> None:
    """resolve_plan on real mteb task metadata picks mteb's adapter for the type and side."""
    metadata = mteb.get_task(task).metadata
    assert metadata.type == TASK_TYPES[task]
    plan = resolve_plan(get_spec(V3), metadata, side)  # type: ignore[arg-type]
    assert plan.adapter == adapter
    assert plan.prompt_type is None
    task_type = TASK_TYPES[task]
    assert plan.source in (f"prompt table: {task_type}-{side}", f"prompt table: {task_type}")


# mteb 2.26.24 JinaWrapper's model_prompts, written out by hand: only these types get an adapter.
MTEB_WRAPPER_TABLE = {
    "Retrieval": {"query": "retrieval.query", "document": "retrieval.passage"},
    "Clustering": "separation",
    "Reranking": "separation",
    "Classification": "classification",
    "MultilabelClassification": "classification",
    "PairClassification": "classification",
    "STS": "text-matching",
    "BitextMining": "text-matching",
    "Summarization": "text-matching",
}


def _task_types() -> list[str]:
    """Every task type mteb declares (the TaskMetadata ``type`` literal)."""
    from typing import get_args

    from mteb.abstasks.task_metadata import TaskMetadata

    return sorted(get_args(TaskMetadata.model_fields["type"].annotation))


def _wrapper_table(task_type: str, side: str) -> str | None:
    entry = MTEB_WRAPPER_TABLE.get(task_type)
    return entry.get(side) if isinstance(entry, dict) else entry


@pytest.mark.parametrize("task_type", _task_types())
@pytest.mark.parametrize("side", ["query", "document"])
def test_every_mteb_task_type_as_mteb_wrapper(task_type: str, side: str) -> None:
    """Adapter and instruction per task type: the hand table, and mteb's own prompt lookup."""
    from mteb.models.abs_encoder import get_prompt_name
    from mteb.models.model_implementations.jina_models import JinaWrapper

    metadata = mteb.get_task("SciFact").metadata.model_copy(
        update={"type": task_type, "name": f"Some{task_type}Task"}
    )
    plan = resolve_plan(get_spec(V3), metadata, side)  # type: ignore[arg-type]
    wrapper_prompts = mteb.get_model_meta(V3).loader_kwargs["model_prompts"]
    mteb_name = get_prompt_name(wrapper_prompts, metadata, PromptType(side))
    mteb_adapter = wrapper_prompts.get(mteb_name) if mteb_name else None
    assert plan.adapter == _wrapper_table(task_type, side) == mteb_adapter
    assert plan.prefix == JinaWrapper.jina_task_to_prompt.get(mteb_adapter or "", "")
    assert not plan.harness_chosen


@pytest.mark.parametrize("task", ["Core17InstructionRetrieval", "News21InstructionRetrieval"])
def test_instruction_retrieval_gets_no_adapter_and_no_instruction(task: str) -> None:
    """As the public results for Core17/News21/Robust04InstructionRetrieval were made."""
    metadata = mteb.get_task(task).metadata
    for side in ("query", "document"):
        plan = resolve_plan(get_spec(V3), metadata, side)  # type: ignore[arg-type]
        assert (plan.adapter, plan.prefix) == (None, "")
        assert plan.source == "prompt table: default"


@pytest.mark.parametrize(
    ("side", "instruction"), [("query", QUERY_INSTRUCTION), ("document", PASSAGE_INSTRUCTION)]
)
def test_retrieval_instructions_exact(side: str, instruction: str) -> None:
    """The retrieval adapters get mteb's exact instruction strings."""
    plan = resolve_plan(get_spec(V3), mteb.get_task("SciFact").metadata, side)  # type: ignore[arg-type]
    assert plan.prefix == instruction


@pytest.mark.parametrize("task", sorted(set(TASK_TYPES) - {"SciFact"}))
def test_no_instruction_for_other_adapters(task: str) -> None:
    """Non-retrieval adapters take the text as is, on both sides."""
    metadata = mteb.get_task(task).metadata
    for side in ("query", "document"):
        assert resolve_plan(get_spec(V3), metadata, side).prefix == ""  # type: ignore[arg-type]


def test_loads_remote_code_without_flash_attn_on_cpu(v3_dir: Path) -> None:
    """The model's own code comes from the folder; the harness turns flash-attn off on CPU."""
    assert json.loads((v3_dir / "config.json").read_text())["use_flash_attn"] is True
    backend = load_backend(v3_spec(v3_dir), LoadSettings(device="cpu"))
    assert type(backend.model).__name__ == "StandinXLMRobertaLoRA"
    assert backend.model.config.use_flash_attn is False
    assert list(backend.model._adaptation_map) == ADAPTATIONS


@pytest.mark.parametrize(
    ("task", "prompt_type", "adapter"),
    [
        ("SciFact", PromptType.query, "retrieval.query"),
        ("SciFact", PromptType.document, "retrieval.passage"),
        ("STSBenchmark", None, "text-matching"),
        ("Banking77Classification", None, "classification"),
    ],
)
@pytest.mark.parametrize("dim", [32, 64])
def test_harness_equals_reference(
    v3_dir: Path, make_encoder, task: str, prompt_type, adapter: str, dim: int
) -> None:
    """mteb's encode call on the harness equals the independent recipe (1e-5)."""
    metadata = mteb.get_task(task).metadata
    encoder = make_encoder(v3_spec(v3_dir), dim, batch_size=3)
    got = encoder.encode(
        [{"text": TEXTS}],
        task_metadata=metadata,
        hf_split="test",
        hf_subset="default",
        prompt_type=prompt_type,
    )
    side = "document" if prompt_type == PromptType.document else "query"
    prefix = {"retrieval.query": QUERY_INSTRUCTION, "retrieval.passage": PASSAGE_INSTRUCTION}
    want = reference_vectors(v3_dir, [prefix.get(adapter, "") + t for t in TEXTS], adapter, dim)
    assert got.shape == (len(TEXTS), dim)
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert encoder.stats.plans[side]["adapter"] == adapter


def test_adapters_give_different_vectors(v3_dir: Path, make_encoder) -> None:
    """Each adapter changes the vectors, and no adapter differs from every adapter."""
    encoder = make_encoder(v3_spec(v3_dir), 64)
    backend = encoder.backend.get()
    raw = {a: encoder.engine.encode(backend, TEXTS, a).vectors for a in [*ADAPTATIONS, None]}
    keys = list(raw)
    for i, first in enumerate(keys):
        for second in keys[i + 1 :]:
            gap = np.abs(project(raw[first], 64) - project(raw[second], 64)).max()
            assert gap > 1e-3, (first, second)


def test_truncate_before_normalising(v3_dir: Path, make_encoder) -> None:
    """dim 32 is truncate-then-normalise, not normalise-then-truncate (the old code's order)."""
    spec = v3_spec(v3_dir)
    plan = resolve_plan(spec, mteb.get_task("STSBenchmark").metadata, "query")
    full = make_encoder(spec, 64).full_vectors(TEXTS, plan)
    normalised_first = (full / np.linalg.norm(full, axis=1, keepdims=True))[:, :32]
    truncated_first = full[:, :32] / np.linalg.norm(full[:, :32], axis=1, keepdims=True)
    harness = project(full, 32)
    np.testing.assert_allclose(harness, truncated_first, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(harness, axis=1), 1.0, atol=1e-6)
    assert np.all(np.linalg.norm(normalised_first, axis=1) < 0.99)
    assert np.abs(harness - normalised_first).max() > 1e-2
    np.testing.assert_allclose(
        harness, reference_vectors(v3_dir, TEXTS, "text-matching", 32), atol=1e-5
    )


def test_refuses_remote_code_not_allow_listed(v3_dir: Path) -> None:
    """A generic ``hf:`` folder asking for trust_remote_code is refused before any code runs."""
    with pytest.raises(HarnessError, match="trust_remote_code"):
        prepare_model(ModelEntry(name=f"hf:{v3_dir}", trust_remote_code=True))


def test_refuses_v3_at_another_revision(v3_dir: Path) -> None:
    """The allow-list keys on the model revision too: v3 at any other revision is refused."""
    spec = get_spec(V3, revision="0" * 40, local_path=str(v3_dir))
    with pytest.raises(HarnessError, match="trust_remote_code"):
        load_backend(spec, LoadSettings(device="cpu"))


@pytest.mark.parametrize("code_revision", [None, "main", "abc123"])
def test_refuses_v3_from_the_hub_with_unpinned_code(code_revision: str | None) -> None:
    """Hub v3 takes its code from a second repo: without a commit pin it never loads."""
    entry = ModelEntry(name=V3, code_revision=code_revision)
    with pytest.raises(HarnessError) as caught:
        prepare_model(entry)
    line = caught.value.one_line()
    assert "jinaai/xlm-roberta-flash-implementation" in line
    assert "list_repo_commits" in line and "code_revision" in line and "--code-revision" in line
    assert "\n" not in line
