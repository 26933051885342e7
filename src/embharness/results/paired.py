"""Paired comparison of two sets of cells: Δ, the paired CI of Δ, p, Holm-adjusted p, a verdict.

A *cell* (``ScoredCell``) is one split × subset of one task result: mteb's main score and, where
the run kept them, a reference to its per-item scores (``ItemsRef``, restricted to that split
and subset). ``compare_pairs`` takes ``(key, a, b)`` triples — the caller decides which cells
belong together: the gate pairs a baseline cell with the current cell of the same identity
(model, revision, experiment, task, split, subset); ``embharness diff`` pairs the cells of two
selected model variants by task, split, subset and sample cap — and gives one ``PairedRow`` each:

* ``delta``: (b − a) × 100 points from mteb's main scores (the numbers in the result files,
  rounded as mteb rounds them), exactly what the gate has always compared;
* ``ci``: the paired bootstrap CI of Δ (points) and ``p``: the paired randomization-test p-value,
  both from ``results.stats.paired_difference`` on the per-item scores (fixed seed);
* ``p_holm``: Holm's adjustment over the *family* of every row that has a p-value;
* ``verdict``: ``B_HIGHER``/``B_LOWER`` where ``p_holm <= alpha``, else ``WITHIN_NOISE``;
  ``NO_ITEMS`` ("no per-item scores", ``note`` says why: a task type without per-item scores,
  a run made before they were kept, a version-1 baseline) and ``NOT_PAIRED`` (both sides have
  items but not the same ones, ``note`` says how) get Δ only; ``ONLY_A``/``ONLY_B`` where one
  side lacks the cell.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from embharness.errors import HarnessError
from embharness.results.per_query import PerItemScores
from embharness.results.runs import Run, record_value
from embharness.results.scoring import delta_points, points
from embharness.results.stats import PairedDifference, holm, paired_difference
from embharness.tasks.mteb_facts import main_metric

B_HIGHER, B_LOWER, WITHIN_NOISE = "B higher", "B lower", "within noise"
NO_ITEMS, NOT_PAIRED, ONLY_A, ONLY_B = "no per-item scores", "not paired", "only in A", "only in B"
DEFAULT_ALPHA = 0.05
DEFAULT_RESAMPLES = 10_000
SEED = 0
OLD_RUN = "run made before per-item scores were kept; re-run the cell"
Key = tuple[str | int | None, ...]


def check_alpha(alpha: float) -> float:
    """Validate a significance level: 0 < alpha < 1."""
    value = float(alpha)
    if not 0 < value < 1:
        raise HarnessError(f"alpha {alpha} is invalid", "pass a significance level, e.g. 0.05")
    return value


def check_resamples(n_resamples: int) -> int:
    """Validate a resample count (at least 1)."""
    if isinstance(n_resamples, bool) or int(n_resamples) < 1:
        raise HarnessError(f"{n_resamples} resamples is invalid", "pass at least 1, e.g. 10000")
    return int(n_resamples)


def restrict(items: PerItemScores, split: str, subset: str) -> PerItemScores:
    """The rows of one (split, subset) group; HarnessError when the group has none."""
    frame = items.frame
    rows = frame[(frame["split"] == split) & (frame["subset"] == subset)]
    if rows.empty:
        raise HarnessError(f"{items.task_name}: no per-item scores for {split}/{subset}")
    return dataclasses.replace(items, frame=rows.reset_index(drop=True))


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, hex."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@dataclass(frozen=True)
class ItemsRef:
    """Where a cell's per-item scores are: a file, and the group to keep when it holds several.

    ``sha256`` (baseline files) is checked on load, so a file changed behind the baseline's back
    is an error instead of a silently different comparison.
    """

    path: Path
    split: str | None = None
    subset: str | None = None
    sha256: str | None = None

    def load(self) -> PerItemScores:
        """The cell's per-item scores (restricted to ``split``/``subset`` when they are set)."""
        if not self.path.is_file():
            raise HarnessError(f"per-item scores {self.path} are missing", "re-create them")
        if self.sha256 is not None and file_sha256(self.path) != self.sha256:
            raise HarnessError(
                f"per-item scores {self.path} do not match the checksum recorded for them",
                "rewrite the baseline with `embharness gate --write-baseline`",
            )
        items = PerItemScores.load(self.path)
        if self.split is None or self.subset is None:
            return items
        return restrict(items, self.split, self.subset)


@dataclass(frozen=True)
class ScoredCell:
    """One scored split × subset of one model variant; ``items`` None: ``reason`` says why."""

    model: str
    revision: str
    experiment: str | None
    task: str
    split: str
    subset: str
    metric: str
    score: float
    items: ItemsRef | None = field(default=None, compare=False, repr=False)
    reason: str = field(default="", compare=False)
    max_samples: int | None = field(default=None, compare=False)
    # The task data's revision as mteb records it (the stdlib task's is the Python version)
    dataset_revision: str | None = field(default=None, compare=False)

    @property
    def key(self) -> Key:
        """Identity of the cell: model, revision, experiment, task, split, subset."""
        return (self.model, self.revision, self.experiment, self.task, self.split, self.subset)


def no_items_reason(run: Run) -> str:
    """Why a run has no per-item scores file (its record's reason, or an older run)."""
    return str(record_value(run.record, "per_item", "reason") or OLD_RUN)


def run_cells(run: Run) -> list[ScoredCell]:
    """Every split × subset cell of one run, each pointing at its share of the run's items."""
    has_items = run.items_path.is_file()
    reason = "" if has_items else no_items_reason(run)
    return [
        ScoredCell(
            model=run.model,
            revision=run.revision,
            experiment=run.experiment,
            task=run.task,
            split=split,
            subset=subset,
            metric=main_metric(run.task),
            score=score,
            items=ItemsRef(run.items_path, split, subset) if has_items else None,
            reason=reason,
            max_samples=run.max_samples,
            dataset_revision=run.result.dataset_revision,
        )
        for split, subset, score in run.cells()
    ]


def cells_of_runs(runs: Iterable[Run]) -> list[ScoredCell]:
    """Every cell of ``runs``, sorted by identity."""
    cells = [cell for run in runs for cell in run_cells(run)]
    return sorted(cells, key=lambda c: tuple(v or "" for v in c.key))


@dataclass(frozen=True)
class PairedRow:
    """The comparison of one pair of cells (scores, Δ and CI in points)."""

    key: Key
    a: ScoredCell | None
    b: ScoredCell | None
    delta: float | None
    test: PairedDifference | None
    p_holm: float | None
    verdict: str
    note: str = ""
    data_change: str = ""  # "A → B" where the two cells' task data (dataset revision) differ

    @property
    def noted(self) -> str:
        """The note, after a word on changed task data where the two sides' differ."""
        return data_noted(self.data_change, self.note)

    @property
    def cell(self) -> ScoredCell:
        """Either side's cell (A's where both exist)."""
        found = self.a or self.b
        assert found is not None
        return found

    @property
    def ci(self) -> tuple[float, float] | None:
        """The paired bootstrap CI of Δ in points, or None without a test."""
        if self.test is None:
            return None
        return points(self.test.delta.low), points(self.test.delta.high)

    @property
    def p(self) -> float | None:
        """The unadjusted randomization-test p-value."""
        return None if self.test is None else self.test.p_value

    @property
    def n_items(self) -> int | None:
        """Items in the paired test."""
        return None if self.test is None else self.test.delta.n


Pair = tuple[Key, ScoredCell | None, ScoredCell | None]


class _Loader:
    """Loads each per-item file once per comparison (a run's file serves all its cells)."""

    def __init__(self) -> None:
        self.files: dict[tuple[Path, str | None], PerItemScores] = {}

    def whole(self, ref: ItemsRef) -> PerItemScores:
        """The whole file (HarnessError when it is missing, unreadable or altered)."""
        key = (ref.path, ref.sha256)
        if key not in self.files:
            self.files[key] = dataclasses.replace(ref, split=None, subset=None).load()
        return self.files[key]


def _cell_items(ref: ItemsRef, loader: _Loader) -> PerItemScores:
    items = loader.whole(ref)
    if ref.split is None or ref.subset is None:
        return items
    return restrict(items, ref.split, ref.subset)


def _test(
    a: ScoredCell, b: ScoredCell, loader: _Loader, n_resamples: int, names: tuple[str, str]
) -> tuple[PairedDifference | None, str, str]:
    """(test, verdict when there is none, note). A missing or altered file is an error; items
    that cannot be paired (other ids, a group absent or too small) are a ``NOT_PAIRED`` row."""
    for side, cell in zip(names, (a, b), strict=True):
        if cell.items is None:
            return None, NO_ITEMS, f"no per-item scores in {side}: {cell.reason}"
        loader.whole(cell.items)
    assert a.items is not None and b.items is not None
    try:
        items_a, items_b = _cell_items(a.items, loader), _cell_items(b.items, loader)
        return paired_difference(items_a, items_b, n_resamples=n_resamples, seed=SEED), "", ""
    except HarnessError as exc:
        return None, NOT_PAIRED, exc.problem


def data_change(a: ScoredCell, b: ScoredCell) -> str:
    """``"A → B"`` where both cells name their task data's revision and the two differ."""
    before, after = a.dataset_revision, b.dataset_revision
    return "" if before is None or after is None or before == after else f"{before} → {after}"


def data_noted(change: str, note: str) -> str:
    """``note`` after a word on changed task data (``change``: ``data_change``'s "A → B")."""
    changed = f"task data differs (dataset revision {change})" if change else ""
    return "; ".join(part for part in (changed, note) if part)


def _row(pair: Pair, loader: _Loader, n_resamples: int, names: tuple[str, str]) -> PairedRow:
    key, a, b = pair
    if a is None or b is None:
        return PairedRow(key, a, b, None, None, None, ONLY_B if a is None else ONLY_A)
    delta = delta_points(points(b.score), points(a.score))
    test, verdict, note = _test(a, b, loader, n_resamples, names)
    return PairedRow(key, a, b, delta, test, None, verdict, note, data_change(a, b))


def _judged(row: PairedRow, p_holm: float, alpha: float) -> PairedRow:
    assert row.test is not None
    significant = p_holm <= alpha and row.test.delta.point != 0
    verdict = WITHIN_NOISE
    if significant:
        verdict = B_HIGHER if row.test.delta.point > 0 else B_LOWER
    return dataclasses.replace(row, p_holm=p_holm, verdict=verdict)


def compare_pairs(
    pairs: Sequence[Pair],
    *,
    alpha: float = DEFAULT_ALPHA,
    n_resamples: int = DEFAULT_RESAMPLES,
    names: tuple[str, str] = ("A", "B"),
) -> list[PairedRow]:
    """One ``PairedRow`` per pair, in order; Holm over every row that has a p-value.

    ``names`` are the two sides' names in notes (the gate's are baseline and now).
    """
    alpha, n_resamples = check_alpha(alpha), check_resamples(n_resamples)
    loader = _Loader()
    rows = [_row(pair, loader, n_resamples, names) for pair in pairs]
    tested = [i for i, row in enumerate(rows) if row.test is not None]
    adjusted = holm([rows[i].p or 0.0 for i in tested]) if tested else []
    for i, p_holm in zip(tested, adjusted, strict=True):
        rows[i] = _judged(rows[i], p_holm, alpha)
    return rows


def significance_order(row: PairedRow) -> tuple[float, float, float]:
    """Sort key: Holm-adjusted p, then p, then the larger |Δ| first; untested rows last."""
    if row.test is None:
        return (2.0, 2.0, -abs(row.delta or 0.0))
    p = row.p if row.p is not None else 1.0
    return (row.p_holm if row.p_holm is not None else 1.0, p, -abs(row.delta or 0.0))


def method_phrase(used: Iterable[str]) -> str:
    """The bootstrap interval method(s) ``used`` (one per tested cell), e.g. ``BCa``, or
    ``BCa; percentile for 3 cells …`` (stats falls back where BCa is undefined or too costly)."""
    methods = list(used)
    fallback = sum(m == "percentile" for m in methods)
    if not fallback:
        return "BCa"
    if fallback == len(methods):
        return "percentile: BCa is undefined (e.g. identical scores) or too costly in every cell"
    return f"BCa; percentile for {fallback} cells where BCa is undefined or too costly"


def fmt_p(value: float | None) -> str:
    """A p-value with 4 decimals (``—`` when there is none)."""
    return "—" if value is None else f"{value:.4f}"


def fmt_ci_points(ci: tuple[float, float] | None) -> str:
    """``[-1.23, +0.45]``: a CI of Δ in points, signed (``—`` when there is none)."""
    return "—" if ci is None else f"[{ci[0]:+.2f}, {ci[1]:+.2f}]"
