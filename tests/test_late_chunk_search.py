"""Chunked retrieval through mteb's search path: late chunking and chunk-then-embed.

A document that fits one chunk and one window scores exactly as in the plain run (MiniLM and the
v3 stand-in, with its passage adapter and instruction); the max-over-chunks score equals an
independent numpy computation; last-token models are refused on load; every mode names its own
experiment folder.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from datasets import Dataset
from mteb.models import SearchEncoderWrapper
from transformers import AutoModel, AutoTokenizer

from embharness.encoding.bridge import HarnessEncoder
from embharness.errors import HarnessError
from embharness.results.store import ResultsStore
from embharness.run.cell_identity import cell_model_meta
from embharness.run.cells import prepare_model
from embharness.run.late_chunk_search import check_chunking, chunked_search, chunking_label
from embharness.run.options import RunOptions
from embharness.run.runner import SweepRunner
from embharness.run.sweep import TaskEntry, parse_sweep
from embharness.specs.registry import get_spec
from embharness.tasks.registry import get_task

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
V3 = "jinaai/jina-embeddings-v3"
JINA_CODE = "jinaai/jina-code-embeddings-0.5b"
SHORT_DOCS = [
    "def add(a, b):\n    return a + b",
    "print('hello world')",
    "import os\nfor name in os.listdir('.'):\n    print(name)",
    "class Stack:\n    def push(self, item):\n        self.items.append(item)",
]
QUERIES = ["add two numbers", "list the files of a folder", "push onto a stack"]
Factory = Callable[..., HarnessEncoder]
KW = {"batch_size": 8, "show_progress_bar": False}


def _long_doc(seed: int) -> str:
    words = ["parse", "token", "buffer", "socket", "retry", "config", "queue", "cache", "path"]
    rng = np.random.default_rng(seed)
    lines = [f"def {w}_{i}(x): return x.{rng.choice(words)}({i})" for i, w in enumerate(words * 3)]
    return "\n".join(lines[: 12 + 4 * seed])


def _metadata() -> Any:
    return get_task("HumanEvalRetrievalOffline").metadata  # a Retrieval task's metadata


def _search(model: Any, docs: list[str], queries: list[str]) -> dict[str, dict[str, float]]:
    """mteb's own index + search calls on ``model`` (what ``mteb.evaluate`` runs)."""
    corpus = Dataset.from_list(
        [{"id": f"d{i}", "title": "", "text": t} for i, t in enumerate(docs)]
    )
    asked = Dataset.from_list([{"id": f"q{i}", "text": t} for i, t in enumerate(queries)])
    where = {"task_metadata": _metadata(), "hf_split": "test", "hf_subset": "default"}
    model.index(corpus, encode_kwargs=KW, **where)
    results: dict[str, dict[str, float]] = model.search(asked, top_k=10, encode_kwargs=KW, **where)
    return results


def _assert_same(got: dict, want: dict) -> None:
    assert got.keys() == want.keys()
    for qid, hits in want.items():
        assert got[qid].keys() == hits.keys()
        for doc, score in hits.items():
            assert got[qid][doc] == pytest.approx(score, abs=2e-6), (qid, doc)


@pytest.mark.parametrize("mode", ["late", "chunk_then_embed"])
def test_single_chunk_equals_plain_minilm(make_encoder: Factory, mode: str) -> None:
    encoder = make_encoder(get_spec(MINILM), 384)
    wrapper = SearchEncoderWrapper(encoder)
    plain = _search(wrapper, SHORT_DOCS, QUERIES)
    params = check_chunking(mode, {"chunk_tokens": 200})
    chunked, label = chunked_search(encoder, get_task("HumanEvalRetrievalOffline"), mode, params)
    assert label == chunking_label(mode, params)
    _assert_same(_search(chunked, SHORT_DOCS, QUERIES), plain)


@pytest.mark.parametrize("mode", ["late", "chunk_then_embed"])
def test_single_chunk_equals_plain_v3_standin(
    v3_dir: Path, make_encoder: Factory, mode: str
) -> None:
    """The stand-in with its passage adapter and instruction: the instruction joins the chunk."""
    encoder = make_encoder(get_spec(V3, local_path=str(v3_dir)), 64)
    wrapper = SearchEncoderWrapper(encoder)
    plain = _search(wrapper, SHORT_DOCS, QUERIES)
    params = check_chunking(mode, {"chunk_tokens": 200, "max_length": 256})
    chunked, _ = chunked_search(encoder, get_task("HumanEvalRetrievalOffline"), mode, params)
    _assert_same(_search(chunked, SHORT_DOCS, QUERIES), plain)


def _unit(rows: np.ndarray) -> np.ndarray:
    unit: np.ndarray = rows / np.linalg.norm(rows, axis=-1, keepdims=True)
    return unit


def _by_hand(minilm_path: Path, docs: list[str], queries: list[str], chunk: int) -> np.ndarray:
    """(queries, docs): max over each doc's chunks of the cosine, from one plain forward per
    doc; chunks of ``chunk`` content tokens, [CLS] in the first, [SEP] in the last."""
    tokenizer = AutoTokenizer.from_pretrained(minilm_path)
    model = AutoModel.from_pretrained(minilm_path).eval()

    def states(text: str) -> np.ndarray:
        with torch.no_grad():
            hidden: np.ndarray = model(**tokenizer(text, return_tensors="pt"))[0][0].numpy()
        return hidden

    query_vectors = _unit(np.stack([states(q).mean(axis=0) for q in queries]))
    scores = np.empty((len(queries), len(docs)))
    for d, text in enumerate(docs):
        hidden = states(text)
        cuts = list(range(1, len(hidden) - 1, chunk))[1:]
        chunks = _unit(np.stack([part.mean(axis=0) for part in np.split(hidden, cuts)]))
        assert len(chunks) > 2
        scores[:, d] = (query_vectors @ chunks.T).max(axis=1)
    return scores


def test_max_over_chunks_equals_numpy(minilm_path: Path, make_encoder: Factory) -> None:
    docs = [_long_doc(seed) for seed in range(5)]
    encoder = make_encoder(get_spec(MINILM), 384)
    params = check_chunking("late", {"chunk_tokens": 32, "max_length": 512})
    chunked, _ = chunked_search(encoder, get_task("HumanEvalRetrievalOffline"), "late", params)
    got = _search(chunked, docs, QUERIES)
    want = _by_hand(minilm_path, docs, QUERIES, 32)
    for q in range(len(QUERIES)):
        for d in range(len(docs)):
            assert got[f"q{q}"][f"d{d}"] == pytest.approx(want[q, d], abs=1e-5)


def test_last_token_model_is_refused_on_load(tiny_qwen_dir: Path) -> None:
    sweep = parse_sweep(
        {
            "settings": {"chunking": "late"},
            "models": [{"name": JINA_CODE, "path": str(tiny_qwen_dir)}],
            "tasks": ["StdlibLongDocRetrievalOffline"],
        }
    )
    with pytest.raises(HarnessError, match="late chunking needs mean pooling") as caught:
        prepare_model(sweep.models[0])
    assert "\n" not in str(caught.value) and "chunk_then_embed" in str(caught.value)


def test_every_mode_names_its_own_folder(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path)
    task = TaskEntry("StdlibLongDocRetrievalOffline")
    settings = [
        {},
        {"chunking": "chunk_then_embed"},
        {"chunking": "late"},
        {"chunking": "late", "chunking_params": {"chunk_tokens": 256, "overlap": 32}},
        {"chunking": "late", "chunking_params": {"max_length": 512}},
    ]
    folders = []
    for block in settings:
        sweep = parse_sweep({"settings": block, "models": [MINILM], "tasks": [task.name]})
        folders.append(
            store.cell_folder(cell_model_meta(prepare_model(sweep.models[0]), task, 384))
        )
    assert len(set(folders)) == len(folders)
    assert "experiments" not in folders[0].parts
    assert [f.name for f in folders[1:]] == [
        "chunking_chunk_then_embed-c128",
        "chunking_late-c128-o32",
        "chunking_late-c256-o32",
        "chunking_late-c128-o32-m512",
    ]


def _metrics(path: Path) -> dict[str, float]:
    (row,) = json.loads(path.read_text())["scores"]["test"]
    return {k: v for k, v in row.items() if isinstance(v, int | float)}


def test_runner_single_chunk_cell_equals_plain_cell(tmp_path: Path) -> None:
    """`embharness run`'s path: HumanEval solutions fit one 1024-token chunk at max_length 512,
    so the late cell scores every metric as the plain cell, in its own folder."""
    task = {"name": "HumanEvalRetrievalOffline", "max_samples": 40, "max_length": 512}
    paths = []
    for block in ({}, {"chunking": "late", "chunking_params": {"chunk_tokens": 1024}}):
        sweep = parse_sweep({"settings": block, "models": [MINILM], "tasks": [task]})
        outcomes = SweepRunner(sweep, RunOptions(tmp_path, None, show_progress=False)).run()
        assert [o.status for o in outcomes] == ["ran"]
        found = [p for p in tmp_path.rglob(f"{task['name']}.json") if "_embharness" not in p.parts]
        paths.append(next(p for p in sorted(found) if p not in paths))
    plain, late = (_metrics(p) for p in paths)
    assert paths[0].parent != paths[1].parent and paths[1].parent.name.startswith("chunking_late")
    assert plain.keys() == late.keys() and "ndcg_at_10" in plain
    for key, value in plain.items():
        assert late[key] == pytest.approx(value, abs=1e-6, nan_ok=True), key


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"chunking": "sentences"}, "chunking must be one of"),
        ({"chunking": "late", "chunking_params": {"size": 3}}, "unknown chunking_params"),
        ({"chunking": "late", "chunking_params": {"chunk_tokens": 0}}, "chunk_tokens must be"),
        ({"chunking_params": {"chunk_tokens": 64}}, "apply to chunking: late"),
        ({"chunking": "late", "search": "faiss-hnsw"}, "cannot combine"),
        ({"chunking": "late", "precisions": ["float32", "int8"]}, "cannot combine"),
    ],
)
def test_bad_chunking_settings_are_one_line_errors(settings: dict, message: str) -> None:
    with pytest.raises(HarnessError, match=message) as caught:
        parse_sweep({"settings": settings, "models": [MINILM], "tasks": ["X"]})
    assert "\n" not in str(caught.value)


def test_non_retrieval_task_is_refused(make_encoder: Factory) -> None:
    encoder = make_encoder(get_spec(MINILM), 384)
    with pytest.raises(HarnessError, match="Retrieval tasks only"):
        chunked_search(
            encoder, get_task("ManpagesBitextMining"), "late", check_chunking("late", {})
        )
