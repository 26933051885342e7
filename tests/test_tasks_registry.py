"""Task registry: lazy offline tasks, mteb fallback, one-line errors, and the sample cap."""

from __future__ import annotations

import subprocess
import sys

import embharness  # noqa: F401  (process settings before mteb is imported)

# isort: split
import mteb
import numpy as np
import pytest
from datasets import Dataset, DatasetDict
from mteb.models import ModelMeta
from mteb.models.abs_encoder import AbsEncoder

from embharness.errors import HarnessError
from embharness.tasks.registry import (
    OFFLINE_TASKS,
    apply_sample_cap,
    get_task,
    list_offline_tasks,
    task_exists,
)


class OracleEncoder(AbsEncoder):
    """Embeds each text as the one-hot vector of its group: matching texts score 1, others 0."""

    def __init__(self, groups: dict[str, int]) -> None:
        self.groups = groups
        self.width = max(groups.values()) + 1
        self.seen: list[str] = []
        self.mteb_model_meta = ModelMeta.create_empty({"name": "test/oracle", "revision": "1"})

    def encode(self, inputs, *, task_metadata, hf_split, hf_subset, prompt_type=None, **kwargs):
        texts = [text.strip() for batch in inputs for text in batch["text"]]
        self.seen.extend(texts)
        vectors = np.zeros((len(texts), self.width), dtype=np.float32)
        for row, text in enumerate(texts):
            vectors[row, self.groups[text]] = 1.0
        return vectors


def _retrieval_groups(split) -> dict[str, int]:
    """Group id per text: a query shares its group with its relevant document."""
    docs = dict(zip(split["corpus"]["id"], split["corpus"]["text"], strict=True))
    queries = dict(zip(split["queries"]["id"], split["queries"]["text"], strict=True))
    groups: dict[str, int] = {}
    for query_id, relevant in sorted(split["relevant_docs"].items()):
        group = len(groups)
        groups[queries[query_id].strip()] = group
        for doc_id in relevant:
            groups[docs[doc_id].strip()] = group
    for text in docs.values():
        groups.setdefault(text.strip(), len(groups))
    return groups


def test_offline_names_resolve_lazily() -> None:
    code = (
        "import sys; from embharness.tasks.registry import task_exists, list_offline_tasks; "
        "assert all(task_exists(n) for n in list_offline_tasks()); "
        "print('mteb' in sys.modules, 'datasets' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
    assert list_offline_tasks() == sorted(OFFLINE_TASKS)
    for name, target in OFFLINE_TASKS.items():
        assert target.endswith(f":{name}")
        assert get_task(name).metadata.name == name


def test_mteb_tasks_come_from_mteb() -> None:
    assert task_exists("HumanEvalRetrieval")
    task = get_task("HumanEvalRetrieval")
    assert type(task) is type(mteb.get_task("HumanEvalRetrieval"))
    assert not task_exists("NoSuchTaskAnywhere")


def test_unknown_name_is_a_one_line_error_with_a_suggestion() -> None:
    with pytest.raises(HarnessError) as info:
        get_task("HumanEvalRetrievalOfline")
    message = info.value.one_line()
    assert "\n" not in message
    assert "unknown task 'HumanEvalRetrievalOfline'" in message
    assert "did you mean 'HumanEvalRetrievalOffline'?" in message
    assert "embharness tasks" in message
    with pytest.raises(HarnessError) as info:
        get_task("scifact")
    assert "did you mean 'SciFact'?" in info.value.fix


def test_language_and_subset_filters() -> None:
    task = get_task("ManpagesBitextMining", languages=["fra"])
    assert task.hf_subsets == ["fra-eng"]
    task = get_task("ManpagesCrossLingualRetrieval", hf_subsets=["deu-eng", "rus-eng"])
    assert task.hf_subsets == ["deu-eng", "rus-eng"]
    with pytest.raises(HarnessError, match="no subset"):
        get_task("ManpagesCrossLingualRetrieval", hf_subsets=["xxx-eng"])
    with pytest.raises(HarnessError, match="no subsets for languages"):
        get_task("ManpagesBitextMining", languages=["jpn"])
    assert get_task("HumanEvalRetrievalOffline", eval_splits=["test"]).eval_splits == ["test"]


def test_retrieval_cap_keeps_qrels_consistent() -> None:
    task = get_task("PythonStdlibDocstringRetrieval")
    task.load_data()
    full = task.dataset["default"]["test"]
    apply_sample_cap(task, 25)
    split = task.dataset["default"]["test"]
    query_ids = split["queries"]["id"]
    assert query_ids == sorted(full["queries"]["id"])[:25]
    corpus_ids = set(split["corpus"]["id"])
    relevant = {d for docs in split["relevant_docs"].values() for d in docs}
    assert set(split["relevant_docs"]) == set(query_ids)
    assert relevant <= corpus_ids
    others = sorted(set(full["corpus"]["id"]) - relevant)[:25]
    assert corpus_ids == relevant | set(others)
    assert len(corpus_ids) == 50
    assert task.data_loaded


def test_capped_task_runs_through_mteb_without_reloading() -> None:
    task = get_task("HumanEvalRetrievalOffline")
    task.load_data()
    apply_sample_cap(task, 10)
    split = task.dataset["default"]["test"]
    encoder = OracleEncoder(_retrieval_groups(split))
    result = mteb.evaluate(encoder, task, cache=None, show_progress_bar=False)
    (scores,) = result.task_results[0].scores["test"]
    assert scores["ndcg_at_10"] == pytest.approx(1.0)
    assert len(encoder.seen) == 10 + 20  # 10 queries + their 10 solutions + 10 other documents
    assert task.data_loaded and len(task.dataset["default"]["test"]["queries"]) == 10


def test_bitext_cap_keeps_the_first_rows_per_subset() -> None:
    task = get_task("ManpagesBitextMining", hf_subsets=["deu-eng", "spa-eng"])
    task.load_data()
    before = {s: task.dataset[s]["test"][:7] for s in task.hf_subsets}
    apply_sample_cap(task, 7)
    groups: dict[str, int] = {}
    for subset in task.hf_subsets:
        rows = task.dataset[subset]["test"]
        assert rows[:] == before[subset]
        for first, second in zip(rows["sentence1"], rows["sentence2"], strict=True):
            group = groups.setdefault(second.strip(), len(groups))
            groups[first.strip()] = group
    encoder = OracleEncoder(groups)
    result = mteb.evaluate(encoder, task, cache=None, show_progress_bar=False)
    scores = result.task_results[0].scores["test"]
    assert sorted(s["hf_subset"] for s in scores) == ["deu-eng", "spa-eng"]
    assert all(s["f1"] == pytest.approx(1.0) for s in scores)
    assert len(encoder.seen) == 2 * 2 * 7


def test_classification_cap_is_stratified_over_test_and_train() -> None:
    from mteb.mocks.mock_tasks.classification import MockClassificationTask

    task = MockClassificationTask()
    labels = [0] * 30 + [1] * 30
    texts = [f"text {i}" for i in range(60)]
    split = Dataset.from_dict({"text": texts, "label": labels})
    task.dataset = {"default": DatasetDict({"train": split, "test": split})}
    task.data_loaded = True
    apply_sample_cap(task, 10)
    for name in ("train", "test"):
        capped = task.dataset["default"][name]
        assert len(capped) == 10
        assert sorted(capped["label"]) == [0] * 5 + [1] * 5
        assert set(capped["text"]) <= set(texts)


def test_bad_caps_and_unsupported_types_are_harness_errors() -> None:
    from mteb.mocks.mock_tasks.zeroshot_classification import MockZeroShotClassificationTask

    with pytest.raises(HarnessError, match="at least 1"):
        apply_sample_cap(get_task("HumanEvalRetrievalOffline"), 0)
    task = MockZeroShotClassificationTask()
    task.dataset = {"default": {"test": Dataset.from_dict({"text": ["a"], "label": [0]})}}
    task.data_loaded = True
    with pytest.raises(HarnessError, match="not supported"):
        apply_sample_cap(task, 5)
