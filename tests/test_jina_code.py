"""jina-code-embeddings through the harness, on a tiny random Qwen2 with the real Qwen tokenizer.

Every vector is checked against the model card's recipe computed independently
(``conftest.card_recipe``); prefixes against the literal strings of the model card.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import mteb
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mteb.types import PromptType
from transformers import AutoTokenizer

from embharness.encoding.plans import resolve_plan
from embharness.errors import HarnessError
from embharness.models.pooling import last_token_pool
from embharness.run.cells import prepare_model
from embharness.run.sweep import ModelEntry
from embharness.specs.jina_code import TASK_PROMPT_TYPES
from embharness.specs.registry import get_spec

CODE_05B = "jinaai/jina-code-embeddings-0.5b"
CODE_15B = "jinaai/jina-code-embeddings-1.5b"

# (mteb task, task type, query prefix, document prefix), copied from the model card's table.
PREFIXES = [
    (
        "CosQA",
        "nl2code",
        "Find the most relevant code snippet given the following query:\n",
        "Candidate code snippet:\n",
    ),
    (
        "StackOverflowQA",
        "qa",
        "Find the most relevant answer given the following question:\n",
        "Candidate answer:\n",
    ),
    (
        "CodeTransOceanContest",
        "code2code",
        "Find an equivalent code snippet given the following code snippet:\n",
        "Candidate code snippet:\n",
    ),
    (
        "COIRCodeSearchNetRetrieval",
        "code2nl",
        "Find the most relevant comment given the following code snippet:\n",
        "Candidate comment:\n",
    ),
    (
        "CodeSearchNetCCRetrieval",
        "code2completion",
        "Find the most relevant completion given the following start of code snippet:\n",
        "Candidate completion:\n",
    ),
]
NL2CODE_QUERY = PREFIXES[0][2]
QUERIES = [
    "reverse a linked list in place",
    "sort a dict by value — descending, ties by key",
    "x",
    "read a CSV file with pandas and drop rows where the 'age' column is missing",
]
LONG_CODE = [
    "def fib(n: int) -> int:\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n"
    "    return a\n",
    "class Stack:\n    def __init__(self):\n        self.items = []\n\n    def push(self, x):\n"
    "        self.items.append(x)\n\n    def pop(self):\n        return self.items.pop()\n",
]
TRIO = ["x", *LONG_CODE]


def normalize(vectors: np.ndarray) -> np.ndarray:
    """The card's ``F.normalize(…, p=2, dim=1)``."""
    return F.normalize(torch.from_numpy(vectors), p=2, dim=1).numpy()


def st_input(prefix: str, text: str) -> str:
    """What the card's sentence-transformers path tokenizes: the prompted text, stripped.

    The spec follows that path (``strip_whitespace``); both settings are tested in
    ``test_fidelity.py``. Our code texts end in a newline, so this matters here.
    """
    return (prefix + text).strip()


def code_spec(folder: Path, name: str = CODE_05B):
    """The registered spec, loading the tiny checkpoint folder."""
    return get_spec(name, local_path=str(folder))


def test_tokenizer_is_qwen25_compatible(tiny_qwen_dir: Path) -> None:
    """The saved tokenizer is the real Qwen2 one: pad token ``<|endoftext|>`` = 151643."""
    tokenizer = AutoTokenizer.from_pretrained(tiny_qwen_dir)
    assert type(tokenizer).__name__ == "Qwen2TokenizerFast"
    assert (tokenizer.pad_token, tokenizer.pad_token_id) == ("<|endoftext|>", 151643)
    assert tokenizer.convert_ids_to_tokens(151645) == "<|im_end|>"


@pytest.mark.parametrize("side", ["query", "document"])
def test_harness_equals_model_card(
    tiny_qwen_dir: Path, make_encoder, jina_code_reference, side: str
) -> None:
    """mteb's encode call on the harness = card recipe on prefix + text, normalised (1e-5)."""
    metadata = mteb.get_task("CosQA").metadata
    texts = QUERIES if side == "query" else LONG_CODE + QUERIES[:1]
    encoder = make_encoder(code_spec(tiny_qwen_dir), 256, batch_size=3)
    got = encoder.encode(
        [{"text": texts}],
        task_metadata=metadata,
        hf_split="test",
        hf_subset="default",
        prompt_type=PromptType(side),
    )
    prefix = PREFIXES[0][2] if side == "query" else PREFIXES[0][3]
    want = normalize(jina_code_reference(tiny_qwen_dir, [st_input(prefix, t) for t in texts]))
    assert got.shape == (len(texts), 256)
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert np.abs(got[0] - got[1]).max() > 1e-3  # distinct texts give distinct vectors
    assert encoder.backend.get().tokenizer.padding_side == "left"


def test_batch_composition_and_order_invariance(
    tiny_qwen_dir: Path, make_encoder, jina_code_reference
) -> None:
    """A short text alone = the same text left-padded among longer ones, wherever it sits."""
    plan = resolve_plan(code_spec(tiny_qwen_dir), mteb.get_task("CosQA").metadata, "query")
    encoder = make_encoder(code_spec(tiny_qwen_dir), 256, batch_size=8)
    alone = encoder.full_vectors(["x"], plan)[0]
    singles = {t: jina_code_reference(tiny_qwen_dir, [st_input(NL2CODE_QUERY, t)])[0] for t in TRIO}
    for texts in (["x", *LONG_CODE], [*LONG_CODE, "x"], [LONG_CODE[0], "x", LONG_CODE[1]]):
        batch = encoder.full_vectors(texts, plan)
        np.testing.assert_allclose(batch[texts.index("x")], alone, atol=1e-5)
        for i, text in enumerate(texts):
            np.testing.assert_allclose(batch[i], singles[text], atol=1e-5)


@pytest.mark.parametrize(("task", "prompt_type", "query", "document"), PREFIXES)
def test_exact_prefix_per_task_type_and_side(
    task: str, prompt_type: str, query: str, document: str
) -> None:
    """Each paper task type maps to the card's exact prefix on each side, via real metadata."""
    metadata = mteb.get_task(task).metadata
    for spec in (get_spec(CODE_05B), get_spec(CODE_15B)):
        for side, prefix in (("query", query), ("document", document)):
            plan = resolve_plan(spec, metadata, side)  # type: ignore[arg-type]
            assert (plan.prompt_type, plan.prefix) == (prompt_type, prefix)
            assert plan.source == f"prompt table: {task}-{side}"
            assert plan.harness_chosen is False
            assert plan.adapter is None


def test_task_missing_from_table_gets_recorded_fallback(tiny_qwen_dir: Path, make_encoder) -> None:
    """SciFact is not in the paper's table: a fallback type is used and recorded in the stats."""
    metadata = mteb.get_task("SciFact").metadata
    assert metadata.name not in TASK_PROMPT_TYPES
    assert "SciFact-query" not in get_spec(CODE_05B).prompts.rows
    encoder = make_encoder(code_spec(tiny_qwen_dir), 64)
    encoder.encode(
        [{"text": QUERIES[:2]}],
        task_metadata=metadata,
        hf_split="test",
        hf_subset="default",
        prompt_type=PromptType.query,
    )
    recorded = encoder.stats.plans["query"]
    assert recorded["prompt_type"] == "nl2code"
    assert recorded["prefix"] == NL2CODE_QUERY
    assert recorded["harness_chosen"] is True
    assert "not in the authors' task table" in recorded["source"]


@pytest.mark.parametrize(("name", "dims"), [(CODE_05B, (64, 128, 256)), (CODE_15B, (128, 256))])
def test_truncation_and_renormalisation_every_dim(
    tiny_qwen_dir: Path, make_encoder, jina_code_reference, name: str, dims: tuple[int, ...]
) -> None:
    """Every spec dim the checkpoint allows = numpy truncate + normalise of the card's output."""
    spec = code_spec(tiny_qwen_dir, name)
    assert prepare_model(ModelEntry(name=name, path=str(tiny_qwen_dir), dims=dims)).dims == tuple(
        sorted(dims, reverse=True)
    )
    with pytest.raises(HarnessError, match="cannot produce dim"):
        prepare_model(ModelEntry(name=name, path=str(tiny_qwen_dir), dims=(512,)))
    full = jina_code_reference(tiny_qwen_dir, [NL2CODE_QUERY + t for t in QUERIES])
    metadata = mteb.get_task("CosQA").metadata
    for dim in dims:
        encoder = make_encoder(spec, dim)
        got = encoder.encode(
            [{"text": QUERIES}],
            task_metadata=metadata,
            hf_split="test",
            hf_subset="default",
            prompt_type=PromptType.query,
        )
        cut = full[:, :dim]
        np.testing.assert_allclose(got, cut / np.linalg.norm(cut, axis=1, keepdims=True), atol=1e-5)


def test_last_token_pool_right_padding_matches_manual_gather() -> None:
    """With right padding the pool takes each row's last non-pad token; left padding: -1."""
    torch.manual_seed(0)
    hidden = torch.randn(3, 6, 8)
    lengths = [6, 3, 1]
    right = torch.tensor([[1] * n + [0] * (6 - n) for n in lengths])
    manual = torch.stack([hidden[i, n - 1] for i, n in enumerate(lengths)])
    torch.testing.assert_close(last_token_pool(hidden, right), manual, rtol=0, atol=0)
    left = right.flip(1)
    torch.testing.assert_close(last_token_pool(hidden, left), hidden[:, -1], rtol=0, atol=0)


def test_right_padded_model_pools_last_real_token(
    tiny_qwen_dir: Path, make_encoder, jina_code_reference
) -> None:
    """The same spec but a right-padding tokenizer still yields the card's vectors (1e-5)."""
    spec = replace(code_spec(tiny_qwen_dir), padding_side="right")
    plan = resolve_plan(spec, mteb.get_task("CosQA").metadata, "query")
    encoder = make_encoder(spec, 256, batch_size=8)
    got = encoder.full_vectors(QUERIES, plan)
    assert encoder.backend.get().tokenizer.padding_side == "right"
    want = jina_code_reference(tiny_qwen_dir, [NL2CODE_QUERY + t for t in QUERIES])
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_max_length_truncates_and_counts(
    tiny_qwen_dir: Path, make_encoder, jina_code_reference
) -> None:
    """Texts over max_length are cut to it (as the card's truncation does) and counted."""
    max_length = 16
    tokenizer = AutoTokenizer.from_pretrained(tiny_qwen_dir)
    prompted = [NL2CODE_QUERY + t for t in QUERIES]
    lengths = [len(tokenizer(t)["input_ids"]) for t in prompted]
    over = sum(n > max_length for n in lengths)
    assert 0 < over < len(prompted), lengths
    plan = resolve_plan(code_spec(tiny_qwen_dir), mteb.get_task("CosQA").metadata, "query")
    encoder = make_encoder(code_spec(tiny_qwen_dir), 256, max_length=max_length)
    got = encoder.full_vectors(QUERIES, plan)
    assert encoder.stats.truncated == over
    want = jina_code_reference(tiny_qwen_dir, prompted, max_length=max_length)
    np.testing.assert_allclose(got, want, atol=1e-5)
    untruncated = jina_code_reference(tiny_qwen_dir, prompted)
    cut = [i for i, n in enumerate(lengths) if n > max_length]
    assert np.abs(got[cut] - untruncated[cut]).max() > 1e-3
