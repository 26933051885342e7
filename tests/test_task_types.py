"""Every mteb task type through the harness path (wrapper, cache, dims) on mteb's mock tasks.

For each type we check, independently of the spec tables, what actually reached the model: the
adapter ids in ``adapter_mask`` (jina-embeddings-v3 stand-in) and the prefix at the start of
the decoded input ids (jina-code-embeddings on a tiny Qwen2).
"""

from __future__ import annotations

import functools
import importlib
import math
import pkgutil
from pathlib import Path

import mteb
import pytest

from embharness.encoding.bridge import LazyBackend, build_encoder
from embharness.encoding.cache import EmbeddingCache, cache_summary
from embharness.models.loading import LoadSettings, describe_backend, load_backend
from embharness.specs.registry import get_spec

# mock task → (mteb type, adapter expected on each side mteb encodes), from the reference table.
V3_EXPECTED = {
    "MockBitextMiningTask": ("BitextMining", {"query": "text-matching"}),
    "MockClassificationTask": ("Classification", {"query": "classification"}),
    "MockMultilabelClassification": ("MultilabelClassification", {"query": "classification"}),
    "MockClusteringTask": ("Clustering", {"query": "separation"}),
    "MockMultilingualClusteringFastTask": ("Clustering", {"query": "separation"}),
    "MockPairClassificationTask": ("PairClassification", {"query": "classification"}),
    "MockRerankingTask": ("Reranking", {"query": "separation", "document": "separation"}),
    "MockRetrievalTask": (
        "Retrieval",
        {"query": "retrieval.query", "document": "retrieval.passage"},
    ),
    "MockSTSTask": ("STS", {"query": "text-matching"}),
    "MockSummarizationTask": ("Summarization", {"query": "text-matching"}),
    # Types mteb's JinaWrapper does not map: no adapter and no instruction on any side.
    "MockInstructionRetrieval": ("InstructionRetrieval", {"query": None, "document": None}),
    "MockInstructionReranking": ("InstructionReranking", {"query": None, "document": None}),
    "MockRegressionTask": ("Regression", {"query": None}),
}
V3_INSTRUCTIONS = {
    "retrieval.query": "Represent the query for retrieving evidence documents: ",
    "retrieval.passage": "Represent the document for retrieval: ",
}
# jina-code on types the paper's table lacks: retrieval → nl2code, everything else → qa.
CODE_QUERY_PREFIXES = {
    "nl2code": "Find the most relevant code snippet given the following query:\n",
    "qa": "Find the most relevant answer given the following question:\n",
}
CODE_DOCUMENT_PREFIXES = {"nl2code": "Candidate code snippet:\n", "qa": "Candidate answer:\n"}


def mock_task(name: str):
    """Instantiate an mteb mock task by class name."""
    import mteb.mocks.mock_tasks as package

    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        if hasattr(module, name):
            return getattr(module, name)()
    raise LookupError(name)


class Recorder:
    """Records what each forward call received: adapter ids and the decoded inputs."""

    def __init__(self) -> None:
        self.adapters: set[int | None] = set()
        self.inputs: list[str] = []


def recording_load(spec, settings: LoadSettings, recorder: Recorder):
    """Load the real backend, then observe its model's forward (behaviour unchanged)."""
    backend = load_backend(spec, settings)
    forward = backend.model.forward

    @functools.wraps(forward)
    def observed(*args, **kwargs):
        mask = kwargs.get("adapter_mask")
        recorder.adapters.update(mask.tolist() if mask is not None else [None])
        ids = kwargs["input_ids"]
        recorder.inputs += backend.tokenizer.batch_decode(ids, skip_special_tokens=True)
        return forward(*args, **kwargs)

    backend.model.forward = observed
    return backend


def run_task(spec, task_name: str, cache_root: Path, dim: int):
    """Evaluate one mock task through a fresh harness encoder; returns encoder and recorder."""
    recorder = Recorder()
    settings = LoadSettings(device="cpu")
    backend = LazyBackend(
        describe_backend(spec, settings), lambda: recording_load(spec, settings, recorder)
    )
    encoder = build_encoder(spec, backend, dim, batch_size=4, cache=EmbeddingCache(cache_root))
    result = mteb.evaluate(encoder, mock_task(task_name), cache=None, show_progress_bar=False)
    return encoder, recorder, result.task_results[0]


def squeeze(text: str) -> str:
    """Compare WordPiece-decoded text with a literal: lower case, no spaces."""
    return text.lower().replace(" ", "")


@pytest.mark.parametrize("task_name", sorted(V3_EXPECTED))
def test_v3_adapter_and_instruction_per_task_type(
    task_name: str, v3_dir: Path, tmp_path: Path
) -> None:
    spec = get_spec("jinaai/jina-embeddings-v3", local_path=str(v3_dir))
    task_type, expected = V3_EXPECTED[task_name]
    encoder, recorder, result = run_task(spec, task_name, tmp_path, 32)
    assert mock_task(task_name).metadata.type == task_type
    names = {v: k for k, v in encoder.backend.get().model._adaptation_map.items()}
    names[None] = None  # no adapter_mask at all: the base model without LoRA
    assert {names[i] for i in recorder.adapters} == set(expected.values())
    assert {side: plan["adapter"] for side, plan in encoder.stats.plans.items()} == expected
    for adapter in expected.values():
        instruction = V3_INSTRUCTIONS.get(adapter)
        if instruction:
            assert any(squeeze(t).startswith(squeeze(instruction)) for t in recorder.inputs)
    if not any(a in V3_INSTRUCTIONS for a in expected.values()):
        assert not any("represent" in t.lower() for t in recorder.inputs)
    assert math.isfinite(result.get_score())
    keys = cache_summary(tmp_path)
    assert {(e["key"]["side"], e["key"]["adapter"]) for e in keys} == set(expected.items())
    again, second, _ = run_task(spec, task_name, tmp_path, 32)
    assert again.stats.misses == 0 and again.stats.hits > 0
    assert not again.backend.loaded and not second.inputs


@pytest.mark.parametrize("task_name", sorted(V3_EXPECTED))
def test_jina_code_falls_back_and_records_it(
    task_name: str, tiny_qwen_dir: Path, tmp_path: Path
) -> None:
    spec = get_spec("jinaai/jina-code-embeddings-0.5b", local_path=str(tiny_qwen_dir))
    task_type, expected = V3_EXPECTED[task_name]
    prompt_type = "nl2code" if task_type in ("Retrieval", "InstructionRetrieval") else "qa"
    encoder, recorder, _ = run_task(spec, task_name, tmp_path, 64)
    for plan in encoder.stats.plans.values():
        assert plan["prompt_type"] == prompt_type
        assert plan["harness_chosen"] is True
        assert (
            "harness fallback" in plan["source"]
            and "not in the authors' task table" in plan["source"]
        )
    prefixes = {CODE_QUERY_PREFIXES[prompt_type]}
    if "document" in expected:
        prefixes.add(CODE_DOCUMENT_PREFIXES[prompt_type])
    assert {p for p in prefixes if any(t.startswith(p) for t in recorder.inputs)} == prefixes
    assert all(any(t.startswith(p) for p in prefixes) for t in recorder.inputs)
    assert set(encoder.stats.plans) == set(expected)
