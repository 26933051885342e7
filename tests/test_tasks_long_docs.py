"""StdlibLongDocRetrievalOffline: long documents, deep answers, deterministic, registered."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from mteb.abstasks.retrieval_dataset_loaders import RetrievalSplitData
from transformers import AutoTokenizer

from embharness.tasks.long_docs_offline import (
    MAX_CHARS,
    MIN_CHARS,
    MIN_OFFSET,
    StdlibLongDocRetrievalOffline,
    build_modules,
    build_split,
    evenly_spaced,
    load_modules,
)
from embharness.tasks.registry import get_task

MINILM_LIMIT = 256


@pytest.fixture(scope="module")
def split() -> Any:
    return build_split()


def test_sizes_and_one_gold_document_per_query(split: RetrievalSplitData) -> None:
    corpus, queries, qrels = split["corpus"], split["queries"], split["relevant_docs"]
    doc_ids = list(corpus["id"])
    assert len(doc_ids) == len(set(doc_ids)) >= 150
    assert len(queries) == len(set(queries["id"])) == len(qrels) >= 150
    assert all(MIN_CHARS <= len(text) <= MAX_CHARS for text in corpus["text"])
    for qid in queries["id"]:
        (gold,) = qrels[qid]  # exactly one relevant document, and it is in the corpus
        assert gold in set(doc_ids) and qid.startswith(gold.replace("d:", "q:", 1) + ":")
    assert len(set(queries["text"])) == len(queries)  # no ambiguous query


def test_documents_exceed_minilm_and_answers_lie_beyond_it(
    minilm_path: Path, split: RetrievalSplitData
) -> None:
    """Every document is > 5× MiniLM's 256 tokens; every query's function starts after the
    characters MiniLM's window covers, so truncation never shows the model the answer."""
    tokenizer = AutoTokenizer.from_pretrained(minilm_path)
    texts = dict(zip(split["corpus"]["id"], split["corpus"]["text"], strict=True))
    for text in texts.values():
        encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        assert len(encoded["input_ids"]) > 5 * MINILM_LIMIT
        assert encoded["offset_mapping"][MINILM_LIMIT - 1][1] < MIN_OFFSET
    for qid, gold in split["relevant_docs"].items():
        name = qid.rsplit(":", 1)[1].split(".")[-1]
        starts = [
            m.start() for m in re.finditer(rf"def {re.escape(name)}\s*\(", texts[next(iter(gold))])
        ]
        assert starts and max(starts) >= MIN_OFFSET


def test_deterministic(split: RetrievalSplitData) -> None:
    again = build_split()
    for key in ("corpus", "queries"):
        assert split[key].to_list() == again[key].to_list()
    assert split["relevant_docs"] == again["relevant_docs"]


def test_cached_modules_equal_a_fresh_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The split is built from the built-task cache; what it holds is a fresh build's."""
    monkeypatch.setenv("EMBHARNESS_CACHE", str(tmp_path))
    fresh = build_modules()
    assert load_modules() == fresh  # built and stored
    assert len(list((tmp_path / "tasks").glob("stdlib-long-*.json"))) == 1
    assert load_modules() == fresh  # read back: tuples of (qualname, query) as built


def test_recipe_on_a_synthetic_module(tmp_path: Path) -> None:
    """Docstrings of functions go, module/class docstrings stay; only deep functions query."""
    filler = "\n".join(f"VALUE_{i} = {i} * 12345  # padding line" for i in range(200))
    body = [
        '"""Module docstring stays."""',
        "class Box:",
        '    """Class docstring stays."""',
        "    def early(self):",
        '        """Open the box and return every item inside it."""',
        "        return 1",
        filler,
        "def deep_one(x):",
        '    """Compute the checksum of the given byte string quickly."""',
        "    return x",
        "def _private(x):",
        '    """A private helper that is never a query at all."""',
        "    return x",
        "def deep_two(x):",
        '    """Short doc."""',
        "    return x",
    ]
    (tmp_path / "mod.py").write_text("\n".join(body) + "\n")
    (module,) = build_modules(tmp_path)
    assert module.module == "mod" and len(module.document) >= MIN_CHARS
    assert (
        "Module docstring stays" in module.document and "Class docstring stays" in module.document
    )
    assert "checksum" not in module.document and "Open the box" not in module.document
    assert module.queries == (
        ("deep_one", "Compute the checksum of the given byte string quickly."),
    )
    assert module.document.count("def ") == 4


def test_evenly_spaced() -> None:
    assert evenly_spaced(list(range(10)), 3) == [0, 4, 9]  # round(4.5) == 4
    assert evenly_spaced([1, 2], 3) == [1, 2]


def test_registered_as_an_mteb_retrieval_task() -> None:
    task = get_task("StdlibLongDocRetrievalOffline")
    assert isinstance(task, StdlibLongDocRetrievalOffline)
    assert task.metadata.type == "Retrieval" and task.metadata.main_score == "ndcg_at_10"
