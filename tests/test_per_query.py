"""Per-item scores reproduce mteb's aggregate, on real ``mteb.evaluate`` runs with MiniLM.

mteb's mock tasks cover every supported type and the multi-subset / multi-split layouts; small
subclasses widen STS and pair classification to 36 pairs and exercise ``ignore_identical_ids``
and ``skip_first_result``; HumanEvalRetrievalOffline (164 queries) and a capped
ManpagesBitextMining are the project's offline tasks. Per-query retrieval values are checked
against a from-scratch rank computation, and a query dropped from the run must be caught.
"""

from __future__ import annotations

import importlib
import json
import math
import pkgutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mteb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from datasets import Dataset, DatasetDict
from mteb.abstasks.retrieval_dataset_loaders import RetrievalSplitData
from mteb.mocks.mock_tasks.pair_classification import MockPairClassificationTask
from mteb.mocks.mock_tasks.retrieval import MockRetrievalTask
from mteb.mocks.mock_tasks.sts import MockSTSTask

from embharness.encoding.bridge import HarnessEncoder, build_encoder, lazy_backend
from embharness.errors import HarnessError
from embharness.models.loading import LoadSettings
from embharness.results.per_query import (
    METADATA_KEY,
    PerItemScores,
    check_matches_aggregate,
    per_item_scores,
    predictions_file,
)
from embharness.specs.registry import get_spec
from embharness.tasks.registry import apply_sample_cap, get_task

pytestmark = pytest.mark.slow_file  # whole sweeps, some in subprocesses: scheduled first (conftest)

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
SUPPORTED_MOCKS = [
    "MockRetrievalTask",  # two splits
    "MockMultilingualRetrievalTask",  # two subsets
    "MockRerankingTask",  # main score map_at_1000
    "MockMultilingualRerankingTask",
    "MockInstructionRetrieval",
    "MockSTSTask",
    "MockMultilingualSTSTask",
    "MockPairClassificationTask",
    "MockMultilingualPairClassificationTask",
    "MockBitextMiningTask",
    "MockMultilingualBitextMiningTask",
    "MockMultilingualParallelBitextMiningTask",
]
WORDS = ("red", "blue", "green", "quick", "slow", "tall", "small", "cold", "warm", "bright")
WORDS += ("dark", "loud")
THINGS = ("cat", "dog", "river", "house", "tree", "car", "bird", "song", "road", "city", "lamp")
THINGS += ("book",)


def mock_task(name: str) -> Any:
    """Instantiate an mteb mock task by class name."""
    import mteb.mocks.mock_tasks as package

    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        if hasattr(module, name):
            return getattr(module, name)()
    raise LookupError(name)


@pytest.fixture(scope="module")
def encoder(minilm_path: Path) -> Iterator[HarnessEncoder]:
    """One cache-less MiniLM encoder for the module, built like ``make_encoder`` builds it.

    Torch runs on one thread meanwhile: tiny batches on a shared 2-core box are many times
    faster without inter-thread spinning (the vectors are the same).
    """
    spec = get_spec(MINILM, local_path=str(minilm_path))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield build_encoder(spec, lazy_backend(spec, LoadSettings(device="cpu")), 384, batch_size=32)
    torch.set_num_threads(threads)


def run(encoder: HarnessEncoder, task: Any, folder: Path) -> Any:
    """``mteb.evaluate`` one task, saving predictions; returns its TaskResult."""
    result = mteb.evaluate(
        encoder, task, cache=None, show_progress_bar=False, prediction_folder=folder
    )
    return result.task_results[0]


def mteb_groups(result: Any) -> dict[tuple[str, str], dict[str, Any]]:
    return {(split, row["hf_subset"]): row for split, rows in result.scores.items() for row in rows}


def assert_reproduces(items: PerItemScores, result: Any) -> None:
    """Every per-item metric equals mteb's value in every group, and the cell score."""
    groups = mteb_groups(result)
    assert set(items.groups()) == set(groups)
    compared = 0
    for metric in items.metrics:
        for group, value in items.group_values(metric, mteb_rounding=True).items():
            if metric in groups[group]:
                assert value == pytest.approx(groups[group][metric], abs=1e-6, nan_ok=True)
                compared += 1
    assert compared >= len(groups)
    assert items.aggregate(mteb_rounding=True) == pytest.approx(result.get_score(), abs=1e-6)
    check_matches_aggregate(items, result)


@pytest.mark.parametrize("name", SUPPORTED_MOCKS)
def test_mock_tasks_reproduce_mteb(name: str, encoder: HarnessEncoder, tmp_path: Path) -> None:
    task = mock_task(name)
    result = run(encoder, task, tmp_path)
    items = per_item_scores(task, tmp_path)
    assert items.available and items.main_metric == task.metadata.main_score
    assert_reproduces(items, result)
    assert items.frame.groupby(["split", "subset"]).size().min() >= 2


def _sentences(n: int, shift: int) -> list[str]:
    return [f"the {WORDS[(i + shift) % 12]} {THINGS[i % 12]} number {i // 12}" for i in range(n)]


class WideSTS(MockSTSTask):
    """MockSTSTask with 36 pairs and tied 0–5 gold scores (Spearman over pairs matters)."""

    min_score, max_score = 0, 5

    def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
        gold = [float(i % 6) for i in range(36)]
        data = {"sentence1": _sentences(36, 0), "sentence2": _sentences(36, 1), "score": gold}
        self.dataset = DatasetDict({"test": Dataset.from_dict(data)})
        self.data_loaded = True


class WidePairs(MockPairClassificationTask):
    """MockPairClassificationTask with 36 pairs and mixed labels."""

    def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
        labels = [int(i % 3 == 0) for i in range(36)]
        data = {"sentence1": _sentences(36, 0), "sentence2": _sentences(36, 2), "labels": labels}
        self.dataset = DatasetDict({"test": Dataset.from_dict(data)})
        self.data_loaded = True


def test_sts_items_are_pairs_and_the_statistic_is_spearman(
    encoder: HarnessEncoder, tmp_path: Path
) -> None:
    task = WideSTS()
    result = run(encoder, task, tmp_path)
    items = per_item_scores(task, tmp_path)
    assert (items.unit, items.n_items, items.statistic()) == ("pair", 36, "spearman")
    gold = np.array(task.dataset["test"]["score"]) / 5  # (score - min) / (max - min)
    np.testing.assert_allclose(items.frame["gold"], gold)
    saved = json.loads(predictions_file(task, tmp_path).read_text())["default"]["test"]
    np.testing.assert_allclose(items.frame["cosine"], saved["cosine_scores"])
    mean_cosine = float(np.mean(items.frame["cosine"]))
    assert abs(result.get_score() - mean_cosine) > 1e-3  # a mean would not be the statistic
    assert_reproduces(items, result)


def test_pair_classification_uses_mtebs_metrics(encoder: HarnessEncoder, tmp_path: Path) -> None:
    from sklearn.metrics import average_precision_score

    task = WidePairs()
    result = run(encoder, task, tmp_path)
    items = per_item_scores(task, tmp_path)
    assert (items.unit, items.n_items, items.statistic()) == ("pair", 36, "pair:ap")
    frame = items.frame
    assert items.aggregate() == pytest.approx(
        average_precision_score(frame["label"], frame["similarity"]), abs=1e-12
    )
    assert len(items.metrics) == 30  # 5 scores x 5 metrics, plus max_* of each metric
    assert_reproduces(items, result)


def test_capped_manpages_bitext_f1(encoder: HarnessEncoder, tmp_path: Path) -> None:
    task = get_task("ManpagesBitextMining")
    task.load_data()
    apply_sample_cap(task, 40)
    result = run(encoder, task, tmp_path)
    items = per_item_scores(task, tmp_path)
    assert (items.unit, items.main_metric, items.statistic()) == ("sentence", "f1", "bitext:f1")
    assert items.aggregate("accuracy") == pytest.approx(items.frame["correct"].mean())
    assert_reproduces(items, result)


class IdenticalIds(MockRetrievalTask):
    """Each query's id is also a document (its own text): mteb must drop it when told to."""

    def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
        queries = [{"id": f"q{i}", "text": s} for i, s in enumerate(_sentences(8, 0))]
        twins = [{"id": q["id"], "text": q["text"], "title": ""} for q in queries]
        docs = [{"id": f"d{i}", "text": s, "title": ""} for i, s in enumerate(_sentences(8, 3))]
        split = RetrievalSplitData(
            queries=Dataset.from_list(queries),
            corpus=Dataset.from_list(twins + docs),
            relevant_docs={f"q{i}": {f"d{i}": 1} for i in range(8)},
            top_ranked=None,
        )
        self.dataset = {"default": {"test": split, "val": split}}
        self.data_loaded = True


@pytest.mark.parametrize("flag", ["ignore_identical_ids", "skip_first_result", None])
def test_retrieval_preprocessing_is_mtebs(
    flag: str | None, encoder: HarnessEncoder, tmp_path: Path
) -> None:
    task = IdenticalIds()
    if flag:
        setattr(task, flag, True)
    result = run(encoder, task, tmp_path)
    items = per_item_scores(task, tmp_path)
    assert_reproduces(items, result)
    assert (items.aggregate("recall_at_10") == 1.0) and items.missing_from_run == 0
    twin_first = items.aggregate("mrr_at_10") < 0.75  # the query's twin outranks its document
    assert twin_first is (flag is None)


@pytest.fixture(scope="module")
def humaneval(encoder: HarnessEncoder, tmp_path_factory: pytest.TempPathFactory) -> tuple:
    folder = tmp_path_factory.mktemp("humaneval")
    task = get_task("HumanEvalRetrievalOffline")
    task.load_data()  # preloaded, as the runner does, so mteb keeps the data after evaluating
    result = run(encoder, task, folder)
    return task, result, folder


@pytest.fixture(scope="module")
def captured_humaneval(encoder: HarnessEncoder, humaneval: tuple) -> tuple:
    """One more mteb run of the HumanEval task with both of the runner's hooks on:
    (captured predictions, captured per-query scores, mteb's result)."""
    from embharness.run.predictions import (
        UNUSED_FOLDER,
        captured_predictions,
        captured_query_scores,
    )

    task = humaneval[0]
    with captured_predictions(task) as captured, captured_query_scores(task) as scores:
        result = mteb.evaluate(
            encoder, task, cache=None, show_progress_bar=False, prediction_folder=UNUSED_FOLDER
        )
    return captured, scores, result


def _rank_metrics(run: dict[str, dict[str, float]], relevant: str) -> tuple[float, float, float]:
    """nDCG@10, recall@10, MRR@10 of one query with one relevant document, from its rank."""
    ranked = sorted(run.items(), key=lambda item: (item[1], item[0]), reverse=True)
    rank = 1 + [doc for doc, _ in ranked].index(relevant) if relevant in run else math.inf
    hit = rank <= 10
    return (1 / math.log2(rank + 1) if hit else 0.0, float(hit), 1 / rank if hit else 0.0)


def test_humaneval_per_query_values_from_ranks(humaneval: tuple) -> None:
    task, result, folder = humaneval
    items = per_item_scores(task, folder)
    assert (items.unit, items.n_items, items.missing_from_run) == ("query", 164, 0)
    runs = json.loads(predictions_file(task, folder).read_text())["default"]["test"]
    qrels = task.dataset["default"]["test"]["relevant_docs"]
    frame = items.frame.set_index("item_id")
    for qid, docs in qrels.items():
        (relevant,) = docs
        want = _rank_metrics(runs[qid], relevant)
        got = tuple(frame.loc[qid, ["ndcg_at_10", "recall_at_10", "mrr_at_10"]])
        assert got == pytest.approx(want, abs=1e-12)
    assert_reproduces(items, result)


def test_humaneval_round_trips_through_parquet(humaneval: tuple, tmp_path: Path) -> None:
    task, result, folder = humaneval
    items = per_item_scores(task, folder)
    path = tmp_path / "cell" / "HumanEvalRetrievalOffline.parquet"
    items.save(path)
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left
    back = PerItemScores.load(path)
    assert back.header() == items.header()
    np.testing.assert_array_equal(back.frame.to_numpy(), items.frame.to_numpy())
    assert back.aggregate() == items.aggregate()
    check_matches_aggregate(back, result)


def test_a_query_missing_from_the_run_is_caught(humaneval: tuple) -> None:
    from mteb._evaluators.retrieval_metrics import calculate_retrieval_scores

    task, result, folder = humaneval
    predictions = json.loads(predictions_file(task, folder).read_text())
    runs = predictions["default"]["test"]
    full = per_item_scores(task, folder).frame.set_index("item_id")["ndcg_at_10"]
    dropped = str(full.idxmax())  # a query that counts: its nDCG@10 is 1
    del runs[dropped]
    items = per_item_scores(task, predictions)
    assert items.missing_from_run == 1
    assert not items.frame.set_index("item_id").loc[dropped, "in_run"]
    with pytest.raises(HarnessError, match=r"ndcg_at_10 .* is 0\.\d{6} but mteb reports 0\.\d{6}"):
        check_matches_aggregate(items, result)
    # What mteb itself reports for that run: pytrec_eval averages over the 163 it was given.
    qrels = task.dataset["default"]["test"]["relevant_docs"]
    scores = calculate_retrieval_scores(runs, qrels, [10])
    kept = items.frame[items.frame["in_run"]]
    assert scores.ndcg["NDCG@10"] == pytest.approx(kept["ndcg_at_10"].mean(), abs=1e-5)
    row = dict(mteb_groups(result)[("test", "default")])
    row["ndcg_at_10"] = row["main_score"] = scores.ndcg["NDCG@10"]
    silent = {"test": [row]}
    with pytest.raises(HarnessError, match="1 judged queries have no ranking"):
        check_matches_aggregate(items, silent)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("MockClassificationTask", "fitted on the train split"),
        ("MockMultilabelClassification", "fitted on the train split"),
        ("MockRegressionTask", "fitted on the train split"),
        ("MockClusteringTask", "partition"),
        ("MockMultilingualClusteringFastTask", "partition"),
        ("MockSummarizationTask", "not implemented"),
    ],
)
def test_other_types_say_why_they_have_no_items(name: str, reason: str, tmp_path: Path) -> None:
    items = per_item_scores(mock_task(name), tmp_path)  # needs no predictions at all
    assert not items.available and reason in items.reason
    with pytest.raises(HarnessError, match="no per-item scores"):
        check_matches_aggregate(items, {})
    items.save(tmp_path / "cell.parquet")
    back = PerItemScores.load(tmp_path / "cell.parquet")
    assert (back.reason, back.n_items, back.task_name) == (items.reason, 0, name)


def test_load_rejects_other_schema_versions(tmp_path: Path) -> None:
    PerItemScores.from_values([0.1, 0.2]).save(tmp_path / "ok.parquet")
    table = pq.read_table(tmp_path / "ok.parquet")
    header = json.loads(table.schema.metadata[METADATA_KEY])
    bumped = table.replace_schema_metadata({METADATA_KEY: json.dumps({**header, "schema": 99})})
    pq.write_table(bumped, tmp_path / "new.parquet")
    pq.write_table(pa.table({"x": [1]}), tmp_path / "plain.parquet")
    for name in ("new.parquet", "plain.parquet"):
        with pytest.raises(HarnessError, match="not an embharness per-item file of schema 1"):
            PerItemScores.load(tmp_path / name)
    with pytest.raises(HarnessError, match="no mteb predictions"):
        per_item_scores(mock_task("MockSTSTask"), tmp_path / "nothing-here")


def test_captured_predictions_equal_the_file_mteb_writes(
    humaneval: tuple, captured_humaneval: tuple
) -> None:
    """The runner keeps mteb's predictions in memory (``run.predictions``): the same mapping
    mteb writes to its prediction file, no file written, and mteb's hook restored after."""
    from embharness.run.predictions import HOOK, UNUSED_FOLDER

    task, result, folder = humaneval
    written = json.loads(predictions_file(task, folder).read_text(encoding="utf-8"))
    captured, _, again = captured_humaneval
    assert HOOK not in vars(task) and not UNUSED_FOLDER.exists()
    assert set(captured) == set(written) - {"mteb_model_meta"}
    for subset, by_split in captured.items():
        assert json.loads(json.dumps(by_split)) == written[subset]
    items = per_item_scores(task, captured)
    check_matches_aggregate(items, again.task_results[0])
    assert items.aggregate(mteb_rounding=True) == pytest.approx(result.get_score(), abs=1e-6)


def test_captured_query_scores_are_what_pytrec_eval_gives_again(
    humaneval: tuple, captured_humaneval: tuple
) -> None:
    """The per-query scores mteb hands ``task_specific_scores`` equal a fresh pytrec_eval run
    on the captured predictions; the rows built from them equal the recomputed rows."""
    from mteb._evaluators.retrieval_metrics import calculate_retrieval_scores

    from embharness.run.predictions import SCORES_HOOK

    task = humaneval[0]
    captured, scores, result = captured_humaneval
    assert SCORES_HOOK not in vars(task)
    assert set(scores) == set(captured) and scores["default"].keys() == {"test"}
    qrels = task.dataset["default"]["test"]["relevant_docs"]
    again = calculate_retrieval_scores(captured["default"]["test"], qrels, task.k_values)
    assert scores["default"]["test"] == again.all_scores
    reused, fresh = per_item_scores(task, captured, scores), per_item_scores(task, captured)
    assert reused.frame.equals(fresh.frame) and len(reused.frame) == len(qrels)
    check_matches_aggregate(reused, result.task_results[0])
