"""Per-item scores of one cell, kept beside mteb's aggregate (one parquet file per cell).

How a caller uses it (the runner, after ``mteb.evaluate``)::

    result = mteb.evaluate(model, task, prediction_folder=folder, ...)   # a fresh folder per cell
    items = per_item_scores(task, folder)        # the same task object, its data still loaded
    check_matches_aggregate(items, result.task_results[0])   # HarnessError when they disagree
    items.save(path)                              # atomic, e.g. beside the cell's run record
    later = PerItemScores.load(path); later.aggregate()      # = mteb's main score

``embharness.results.stats`` turns a ``PerItemScores`` into bootstrap intervals and paired tests.

Task types (``per_item_scores`` dispatches on the task's mteb class):

* Retrieval and reranking (``AbsTaskRetrieval``): one row per judged query of every
  split/subset, columns for the main score and ``ndcg_at_10``, ``recall_at_10``, ``mrr_at_10``.
  The saved run gets mteb's own pre-processing (``ignore_identical_ids``, ``skip_first_result``,
  queries without judgements dropped), then the per-query pytrec_eval values are those mteb's
  ``calculate_retrieval_scores`` computed (kept by the runner, or computed again for a saved
  file), and MRR is the rank of the first relevant hit in the order mteb's ``mrr`` sorts by.
  A judged query missing from the run scores 0 with ``in_run=False``: pytrec_eval would
  silently drop it from mteb's mean, and ``check_matches_aggregate`` then fails loudly.
* STS: one row per pair (normalised gold, the model's similarity and mteb's three distances);
  the statistic is the Spearman/Pearson correlation over pairs, not a mean.
* Pair classification: one row per pair (label and the five scores mteb saved); statistics are
  mteb's own AP / best-threshold accuracy-F1 code, ``max_*`` the maximum over the five.
* Bitext mining: one row per source sentence (gold and predicted match); ``accuracy`` is the
  mean of ``correct``, ``f1``/``precision``/``recall`` mteb's weighted sklearn scores.
* Everything else: ``PerItemScores.unavailable(reason)``. Classification, multilabel and
  regression fit a model on the train split (mteb averages several refits), so resampling test
  items without refitting misstates the uncertainty; clustering's v-measure is a property of a
  whole partition; zero-shot classification and summarization are not implemented yet.

The cell statistic is mteb's: the statistic per (split, subset) group, then the plain mean over
groups (``TaskResult.get_score``). ``aggregate(metric, mteb_rounding=True)`` also rounds each
group as mteb does (5 decimals for the pytrec_eval metrics) so it equals mteb's number exactly.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from embharness.atomic import atomic_write_file
from embharness.errors import HarnessError
from embharness.results import item_builders as builders
from embharness.results.item_metrics import MetricSpec, evaluate, statistic_name

SCHEMA_VERSION = 1
METADATA_KEY = b"embharness.per_item"
KEY_COLUMNS = ("split", "subset", "item_id")
Group = tuple[str, str]
NO_FIT = "scores come from a model fitted on the train split (mteb averages refits); "
NO_FIT += "resampling test items without refitting would misstate the uncertainty"
UNSUPPORTED = {
    "AbsTaskClassification": NO_FIT,  # also multilabel classification and regression
    "AbsTaskClustering": "v-measure scores a whole partition (mteb averages clustering runs)",
    "AbsTaskClusteringLegacy": "v-measure scores a whole partition, not single items",
    "AbsTaskZeroShotClassification": "per-item zero-shot scores are not implemented",
    "AbsTaskSummarization": "per-summary correlations are not implemented",
}


def _empty_frame() -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=str) for name in KEY_COLUMNS})


@dataclass(frozen=True, eq=False)
class PerItemScores:
    """Per-item values of one cell and how each metric's cell statistic is computed.

    ``frame`` has ``split``, ``subset``, ``item_id`` and the value columns; ``metrics`` maps
    mteb's metric names to their ``MetricSpec``; ``reason`` is set (and the frame empty) when
    the task type has no per-item scores.
    """

    task_name: str
    task_type: str
    main_metric: str
    unit: str = ""
    metrics: Mapping[str, MetricSpec] = field(default_factory=dict)
    frame: pd.DataFrame = field(default_factory=_empty_frame)
    method: str = ""
    reason: str = ""

    @classmethod
    def unavailable(
        cls, reason: str, *, task_name: str = "", task_type: str = "", main_metric: str = ""
    ) -> PerItemScores:
        """A cell without per-item scores, and why."""
        return cls(task_name, task_type, main_metric, reason=reason)

    @classmethod
    def from_values(
        cls, values: ArrayLike, *, ids: Sequence[str] | None = None, metric: str = "score"
    ) -> PerItemScores:
        """One group of per-item values whose cell statistic is their mean (synthetic cells)."""
        array = np.asarray(values, dtype=np.float64)
        names = [str(i) for i in ids] if ids is not None else [str(i) for i in range(len(array))]
        frame = pd.DataFrame(
            {"split": "test", "subset": "default", "item_id": names, metric: array}
        )
        spec = {metric: MetricSpec("mean", (metric,))}
        return cls("", "", metric, "item", spec, frame, "synthetic per-item values")

    @property
    def available(self) -> bool:
        """True when the cell has per-item scores."""
        return not self.reason

    @property
    def n_items(self) -> int:
        """Number of items (rows) over all splits and subsets."""
        return len(self.frame)

    @property
    def missing_from_run(self) -> int:
        """Judged queries with no ranking in the predictions (0 for other task types)."""
        return int((~self.frame["in_run"].astype(bool)).sum()) if "in_run" in self.frame else 0

    def require(self, metric: str | None = None) -> str:
        """The metric's name (the main score by default); HarnessError when it has no items."""
        name = metric or self.main_metric
        if not self.available:
            raise HarnessError(f"{self.task_name}: no per-item scores ({self.reason})")
        if name not in self.metrics:
            raise HarnessError(
                f"{self.task_name}: no per-item metric {name!r}",
                f"use one of {', '.join(self.metrics)}",
            )
        return name

    def statistic(self, metric: str | None = None) -> str:
        """How the cell statistic of ``metric`` is computed: ``mean``, ``spearman``, ``pair:ap``…"""
        return statistic_name(self.metrics, self.require(metric))

    def groups(self) -> dict[Group, NDArray[np.intp]]:
        """Row positions of every (split, subset) group, in order of appearance."""
        found = self.frame.groupby(["split", "subset"], sort=False).indices
        ordered = sorted(found.items(), key=lambda pair: int(pair[1][0]))
        return {(str(split), str(sub)): np.asarray(rows, np.intp) for (split, sub), rows in ordered}

    def columns(self) -> dict[str, NDArray[Any]]:
        """Every frame column as a numpy array (what ``MetricSpec`` statistics read)."""
        return {name: self.frame[name].to_numpy() for name in self.frame.columns}

    def group_values(
        self, metric: str | None = None, *, mteb_rounding: bool = False
    ) -> dict[Group, float]:
        """The statistic of ``metric`` in every (split, subset) group."""
        name = self.require(metric)
        columns, decimals = self.columns(), self.metrics[name].decimals
        values = {
            g: float(evaluate(self.metrics, name, columns, idx)) for g, idx in self.groups().items()
        }
        if mteb_rounding and decimals is not None:
            values = {g: round(v, decimals) for g, v in values.items()}
        return values

    def aggregate(self, metric: str | None = None, *, mteb_rounding: bool = False) -> float:
        """The cell statistic: mean over (split, subset) groups of the group statistic."""
        return float(np.mean(list(self.group_values(metric, mteb_rounding=mteb_rounding).values())))

    def header(self) -> dict[str, Any]:
        """Everything but the frame, JSON-able (stored in the parquet metadata)."""
        return {
            "schema": SCHEMA_VERSION,
            **{k: getattr(self, k) for k in ("task_name", "task_type", "main_metric", "unit")},
            "metrics": {name: spec.to_json() for name, spec in self.metrics.items()},
            "method": self.method,
            "reason": self.reason,
        }

    def save(self, path: Path) -> None:
        """Write the cell as one zstd parquet file, atomically (schema version in metadata)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(self.frame, preserve_index=False)
        meta = {**(table.schema.metadata or {}), METADATA_KEY: json.dumps(self.header()).encode()}
        table = table.replace_schema_metadata(meta)
        atomic_write_file(Path(path), lambda tmp: pq.write_table(table, tmp, compression="zstd"))

    @classmethod
    def load(cls, path: Path) -> PerItemScores:
        """Read a file written by ``save``; HarnessError for other files or schema versions."""
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except (OSError, ValueError) as exc:
            raise HarnessError(f"cannot read per-item scores {path}: {exc}") from exc
        raw = (table.schema.metadata or {}).get(METADATA_KEY)
        header = json.loads(raw) if raw else {}
        if header.get("schema") != SCHEMA_VERSION:
            raise HarnessError(
                f"{path} is not an embharness per-item file of schema {SCHEMA_VERSION}",
                "re-create it with this version of embharness",
            )
        metrics = {n: MetricSpec.from_json(s) for n, s in header.pop("metrics").items()}
        fields = {k: v for k, v in header.items() if k != "schema"}
        return cls(**fields, metrics=metrics, frame=table.to_pandas())


def predictions_file(task: Any, folder: Path) -> Path:
    """The file ``mteb.evaluate(..., prediction_folder=folder)`` writes for ``task``."""
    return Path(folder) / str(task.prediction_file_name)


def _read_predictions(task: Any, predictions: Mapping[str, Any] | Path) -> Mapping[str, Any]:
    if isinstance(predictions, Mapping):
        return predictions
    path = Path(predictions)
    path = predictions_file(task, path) if path.is_dir() else path
    if not path.is_file():
        raise HarnessError(
            f"no mteb predictions at {path}", "pass prediction_folder= to mteb.evaluate"
        )
    with path.open(encoding="utf-8") as handle:
        loaded: dict[str, Any] = json.load(handle)
    return loaded


def _builder(task: Any) -> Any:
    from mteb.abstasks.pair_classification import AbsTaskPairClassification
    from mteb.abstasks.retrieval import AbsTaskRetrieval
    from mteb.abstasks.sts import AbsTaskSTS
    from mteb.abstasks.text.bitext_mining import AbsTaskBitextMining

    for base, build in (
        (AbsTaskRetrieval, builders.retrieval_items),
        (AbsTaskSTS, builders.sts_items),
        (AbsTaskPairClassification, builders.pair_items),
        (AbsTaskBitextMining, builders.bitext_items),
    ):
        if isinstance(task, base):
            return build
    return None


def _unsupported_reason(task: Any) -> str:
    for klass in type(task).__mro__:
        if klass.__name__ in UNSUPPORTED:
            return UNSUPPORTED[klass.__name__]
    return f"task type {task.metadata.type} has no per-item scores in embharness"


def per_item_scores(
    task: Any,
    predictions: Mapping[str, Any] | Path,
    query_scores: Mapping[str, Any] | None = None,
) -> PerItemScores:
    """Per-item scores of ``task`` from mteb's saved predictions (a mapping, file or folder).

    ``query_scores``: for retrieval, the per-query pytrec_eval scores mteb computed while
    scoring the same predictions (``run.predictions.captured_query_scores``), reused as they are.

    ``task`` is the (loaded) task object that was evaluated, so qrels and gold labels are the
    ones mteb scored against; unloaded tasks are loaded again (sample caps are then lost and
    ``check_matches_aggregate`` fails).
    """
    meta = task.metadata
    ident = {"task_name": meta.name, "task_type": meta.type, "main_metric": meta.main_score}
    build = _builder(task)
    if build is None:
        return PerItemScores.unavailable(_unsupported_reason(task), **ident)
    if not task.data_loaded:
        task.load_data()
    if hasattr(task, "convert_v1_dataset_format_to_v2"):
        task.convert_v1_dataset_format_to_v2(num_proc=None)
    extra = {"query_scores": query_scores} if build is builders.retrieval_items else {}
    items = build(task, _read_predictions(task, predictions), **extra)
    if meta.main_score not in items.metrics:
        reason = f"main score {meta.main_score} is not a per-item statistic of {meta.type}"
        return PerItemScores.unavailable(reason, **ident)
    frame = items.frame.astype({name: str for name in KEY_COLUMNS})
    frame = frame[[*KEY_COLUMNS, *(c for c in frame.columns if c not in KEY_COLUMNS)]]
    return PerItemScores(
        **ident, unit=items.unit, metrics=items.metrics, frame=frame, method=items.method
    )


def _scores_by_group(mteb_scores: Any) -> dict[Group, Mapping[str, Any]]:
    scores = getattr(mteb_scores, "scores", mteb_scores)
    return {(split, row["hf_subset"]): row for split, rows in scores.items() for row in rows}


def _same(ours: float, theirs: float, tol: float) -> bool:
    if math.isnan(ours) or math.isnan(theirs):
        return math.isnan(ours) and math.isnan(theirs)
    return abs(ours - theirs) <= tol


def _mismatch(items: PerItemScores, where: str, metric: str, ours: float, theirs: float) -> None:
    missing = items.missing_from_run
    note = f"; {missing} judged queries have no ranking in the predictions" if missing else ""
    raise HarnessError(
        f"{items.task_name} {where}: {metric} from the {items.n_items} per-{items.unit} rows is "
        f"{ours:.6f} but mteb reports {theirs:.6f}{note}",
        "re-run the cell with a fresh prediction folder; do not use these per-item scores",
    )


def check_matches_aggregate(items: PerItemScores, mteb_scores: Any, tol: float = 1e-6) -> None:
    """Raise HarnessError unless every per-item statistic equals mteb's (within ``tol``).

    ``mteb_scores`` is the cell's ``TaskResult`` or its ``scores`` mapping. Checked: the same
    (split, subset) groups, every metric of ``items`` that mteb reports in each group, and the
    cell's main score (mean over groups).
    """
    main = items.require()
    theirs = _scores_by_group(mteb_scores)
    ours = items.groups()
    if set(theirs) != set(ours):
        raise HarnessError(
            f"{items.task_name}: per-item groups {sorted(ours)} differ from mteb's "
            f"{sorted(theirs)}",
            "build per-item scores from the predictions of this very evaluation",
        )
    for metric in items.metrics:
        for group, value in items.group_values(metric, mteb_rounding=True).items():
            if metric in theirs[group] and not _same(value, float(theirs[group][metric]), tol):
                _mismatch(items, "/".join(group), metric, value, float(theirs[group][metric]))
    cell = float(np.mean([float(row["main_score"]) for row in theirs.values()]))
    if not _same(items.aggregate(main, mteb_rounding=True), cell, tol):
        _mismatch(items, "cell", main, items.aggregate(main, mteb_rounding=True), cell)
