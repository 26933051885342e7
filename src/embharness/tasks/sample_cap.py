"""Shrink a loaded mteb task to at most N samples per split and subset, for quick runs.

Applied after ``task.load_data()``; ``data_loaded`` stays True, so ``mteb.evaluate`` neither
reloads nor unloads the capped data.

* Retrieval and reranking: the first N queries (by sorted id) that have a positive judgement;
  the corpus becomes the documents judged or pre-ranked for them plus the first N other documents
  (by sorted id); qrels and ``top_ranked`` keep only kept queries.
* Classification (and multilabel): mteb's own ``stratified_subsampling`` (seeded by the task
  seed) on the evaluation splits and the train split, so every class keeps its share; when a
  class is too rare to stratify, the first N rows.
* Regression, bitext mining, clustering, pair classification, STS, summarization: the first N rows.
* Anything else (legacy clustering sets, aggregate, zero-shot, image-pair tasks): HarnessError.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from datasets import Dataset, DatasetDict

from embharness.errors import HarnessError


def _first_rows(data: Any, n: int) -> Any:
    """The first ``n`` rows of a Dataset, or of a dict of equal-length columns."""
    if isinstance(data, Dataset):
        return data.select(range(min(n, len(data))))
    if isinstance(data, dict) and data and all(isinstance(v, list) for v in data.values()):
        return {key: values[:n] for key, values in data.items()}
    raise HarnessError(
        f"cannot cap a dataset split of type {type(data).__name__}",
        "run this task without a sample cap",
    )


def _split_containers(task: Any) -> list[MutableMapping[str, Any]]:
    """Each ``{split: data}`` mapping of the task: the dataset itself when it is keyed by split,
    else one per subset."""
    dataset = task.dataset or {}
    if any(split in dataset for split in task.eval_splits):
        return [dataset]
    return [value for value in dataset.values() if isinstance(value, MutableMapping)]


def _positive_queries(relevant: dict[str, dict[str, int]]) -> list[str]:
    return sorted(q for q, docs in relevant.items() if any(s > 0 for s in docs.values()))


def cap_retrieval_split(split: dict[str, Any], n: int) -> dict[str, Any]:
    """A capped copy of one retrieval split (``RetrievalSplitData``-shaped mapping)."""
    relevant = split["relevant_docs"]
    query_ids = set(split["queries"]["id"])
    kept = set([q for q in _positive_queries(relevant) if q in query_ids][:n])
    top_ranked = split.get("top_ranked")
    needed = {d for q in kept for d in relevant.get(q, {})}
    if top_ranked:
        needed |= {d for q in kept for d in top_ranked.get(q, [])}
    corpus_ids = split["corpus"]["id"]
    others = sorted(set(corpus_ids) - needed)[:n]
    keep_docs = needed | set(others)
    capped = dict(split)
    capped["queries"] = split["queries"].select(
        [i for i, q in enumerate(split["queries"]["id"]) if q in kept]
    )
    capped["corpus"] = split["corpus"].select(
        [i for i, d in enumerate(corpus_ids) if d in keep_docs]
    )
    capped["relevant_docs"] = {
        q: {d: s for d, s in docs.items() if d in keep_docs}
        for q, docs in relevant.items()
        if q in kept
    }
    if top_ranked:
        capped["top_ranked"] = {
            q: [d for d in docs if d in keep_docs] for q, docs in top_ranked.items() if q in kept
        }
    return capped


def _cap_retrieval(task: Any, n: int) -> None:
    task.convert_v1_dataset_format_to_v2(num_proc=None)
    for container in _split_containers(task):
        for split in task.eval_splits:
            if split in container:
                container[split] = cap_retrieval_split(container[split], n)


def _cap_classification(task: Any, n: int) -> None:
    splits = [*task.eval_splits, task.train_split]
    for container in _split_containers(task):
        present = [s for s in dict.fromkeys(splits) if s in container]
        try:
            capped = task.stratified_subsampling(
                DatasetDict({s: container[s] for s in present}),
                seed=task.seed,
                splits=present,
                label=task.label_column_name,
                n_samples=n,
            )
        except ValueError:  # a class with a single member cannot be stratified
            capped = {s: _first_rows(container[s], n) for s in present}
        for split in present:
            container[split] = capped[split]


def _cap_rows(task: Any, n: int, extra_splits: tuple[str, ...] = ()) -> None:
    for container in _split_containers(task):
        for split in dict.fromkeys([*task.eval_splits, *extra_splits]):
            if split in container:
                container[split] = _first_rows(container[split], n)


def _abstask_name(task: Any) -> str:
    return next(
        (c.__name__ for c in type(task).__mro__ if c.__module__.startswith("mteb.abstasks")),
        type(task).__name__,
    )


def apply_sample_cap(task: Any, max_samples: int) -> None:
    """Cap ``task``'s loaded data in place to about ``max_samples`` per split and subset."""
    from mteb.abstasks.classification import AbsTaskClassification
    from mteb.abstasks.clustering import AbsTaskClustering
    from mteb.abstasks.pair_classification import AbsTaskPairClassification
    from mteb.abstasks.regression import AbsTaskRegression
    from mteb.abstasks.retrieval import AbsTaskRetrieval
    from mteb.abstasks.sts import AbsTaskSTS
    from mteb.abstasks.text.bitext_mining import AbsTaskBitextMining
    from mteb.abstasks.text.summarization import AbsTaskSummarization

    if max_samples < 1:
        raise HarnessError(f"sample cap must be at least 1, got {max_samples}", "pass a cap >= 1")
    if not task.data_loaded:
        task.load_data()
    if isinstance(task, AbsTaskRetrieval):
        _cap_retrieval(task, max_samples)
    elif isinstance(task, AbsTaskRegression):
        _cap_rows(task, max_samples, (task.train_split,))
    elif isinstance(task, AbsTaskClassification):
        _cap_classification(task, max_samples)
    elif isinstance(
        task,
        AbsTaskBitextMining
        | AbsTaskClustering
        | AbsTaskPairClassification
        | AbsTaskSTS
        | AbsTaskSummarization,
    ):
        _cap_rows(task, max_samples)
    else:
        raise HarnessError(
            f"sample caps are not supported for {_abstask_name(task)} tasks ({task.metadata.name})",
            "run this task without a sample cap (drop --max-samples / the sweep's cap)",
        )
    task.data_loaded = True
