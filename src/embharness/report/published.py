"""Published reference figures: locate them, load and validate their files.

They ship inside the package (``embharness/data/published/``, package data), so an installed,
non-editable package finds them too; ``$EMBHARNESS_PUBLISHED`` points at another folder.
"""

from __future__ import annotations

import functools
import importlib.resources
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from embharness.errors import HarnessError
from embharness.tasks.mteb_facts import known_task_names

PUBLISHED_ENV = "EMBHARNESS_PUBLISHED"
TABLE2_FILE = "jina_code_embeddings_table2.csv"
V3_SUMMARY_FILE = "jina_embeddings_v3_summary.csv"
V3_RESULTS_FILE = "jina_embeddings_v3_mteb_results.csv"

PAPER = "paper"
MTEB_RESULTS = "mteb-results"
OVERALL_AVG = "Overall AVG"
CODE_AVG = "MTEB Code AVG"
V3_MODEL = "jinaai/jina-embeddings-v3"
V3_REVISION = "215a6e121fa0183376388ac6b1ae230326bfeaed"

_TABLE2_FIXED = ["benchmark", "paper_label", "mteb_task", "task_type", "in_mteb_code_v1"]
_V3_RESULTS_COLUMNS = ["task", "split", "hf_subset", "value", "in_mteb_eng_v1"]
_MATRYOSHKA = re.compile(r"^Matryoshka dim=(\d+): (retrieval|STS) avg$")
# Rows and averages are both printed to 2 decimals, so a recomputed average may differ from the
# printed one by up to 0.005 (row rounding) + 0.005 (average rounding).
_AVERAGE_SLACK = 0.01 + 1e-9


def packaged_dir() -> Path:
    """The published figures shipped with the package."""
    return Path(str(importlib.resources.files("embharness") / "data" / "published"))


def published_dir() -> Path:
    """The folder holding the published figures (see the module docstring)."""
    env = os.environ.get(PUBLISHED_ENV)
    if env:
        path = Path(env).expanduser().resolve()
        if not (path / TABLE2_FILE).is_file():
            raise HarnessError(
                f"${PUBLISHED_ENV}={env} has no {TABLE2_FILE}",
                f"point ${PUBLISHED_ENV} at a folder laid out like embharness/data/published "
                "or unset it",
            )
        return path
    path = packaged_dir()
    if not (path / TABLE2_FILE).is_file():
        raise HarnessError(
            f"the installed package lacks its published figures ({path})",
            "reinstall embharness (its package data holds them) or set $EMBHARNESS_PUBLISHED",
        )
    return path


def _read_csv(path: Path, required: list[str]) -> pd.DataFrame:
    if not path.is_file():
        raise HarnessError(f"published file {path} is missing", "restore it from git")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    absent = [column for column in required if column not in frame.columns]
    if absent:
        raise HarnessError(f"{path.name} lacks columns {absent}", "restore the file from git")
    return frame


def _check_no_duplicates(frame: pd.DataFrame, keys: list[str], name: str) -> None:
    duplicated = frame[frame.duplicated(keys, keep=False)]
    if not duplicated.empty:
        first = ", ".join(duplicated.iloc[0][keys].astype(str))
        raise HarnessError(
            f"{name} has {len(duplicated)} duplicate rows on {keys} (first: {first})",
            "keep one row per key in the published file",
        )


def _check_task_names(names: pd.Series, name: str) -> None:
    unknown = sorted(set(names[names != ""]) - known_task_names())
    if unknown:
        raise HarnessError(
            f"{name} names tasks mteb does not know: {', '.join(unknown[:5])}",
            "fix the mteb task names in the published file (or leave the cell empty)",
        )


def _to_float(frame: pd.DataFrame, columns: list[str], name: str) -> pd.DataFrame:
    frame = frame.copy()
    for column in columns:
        try:
            frame[column] = frame[column].astype(float)
        except ValueError as exc:
            raise HarnessError(f"{name}: non-numeric value in column {column}: {exc}") from exc
    return frame


@dataclass(frozen=True)
class Published:
    """The validated published figures; every score in points (percent)."""

    directory: Path
    table2: pd.DataFrame
    table2_averages: pd.DataFrame
    v3_summary: pd.DataFrame
    v3_results: pd.DataFrame

    @property
    def paper_models(self) -> list[str]:
        """Model columns of Table 2."""
        return [c for c in self.table2.columns if c not in _TABLE2_FIXED]

    def paper_column(self, model_name: str) -> str | None:
        """Table 2's column for ``model_name`` (matched on the part after ``org/``)."""
        base = model_name.split("/")[-1].lower()
        return next((c for c in self.paper_models if c.lower() == base), None)

    def paper_score(self, model_name: str, task: str) -> float | None:
        """Table 2's figure for an mteb task, or None."""
        column = self.paper_column(model_name)
        rows = self.table2[self.table2["mteb_task"] == task]
        if column is None or rows.empty:
            return None
        return float(rows.iloc[0][column])

    def paper_average(self, model_name: str, average: str) -> float | None:
        """Table 2's printed ``Overall AVG`` or ``MTEB Code AVG`` for a model, or None."""
        column = self.paper_column(model_name)
        return None if column is None else float(self.table2_averages.loc[average, column])

    def overall_cells(self) -> list[tuple[str, str | None]]:
        """The 25 benchmarks of ``Overall AVG``: (paper benchmark, mteb task or None)."""
        return [(r.benchmark, r.mteb_task or None) for r in self.table2.itertuples()]

    def code_tasks(self) -> list[str]:
        """The 12 mteb tasks of ``MTEB Code AVG`` (= mteb's ``MTEB(Code, v1)``)."""
        return list(self.table2.loc[self.table2["in_mteb_code_v1"], "mteb_task"])

    def v3_matryoshka(self) -> pd.DataFrame:
        """v3's Matryoshka table: columns ``dim``, ``kind`` (retrieval/STS), ``value``."""
        rows = []
        for figure, value in zip(self.v3_summary["figure"], self.v3_summary["value"], strict=True):
            match = _MATRYOSHKA.match(figure)
            if match:
                rows.append({"dim": int(match[1]), "kind": match[2], "value": float(value)})
        return pd.DataFrame(rows, columns=["dim", "kind", "value"])

    def v3_figures(self, prefix: str) -> pd.DataFrame:
        """Summary rows whose figure starts with ``prefix`` (figure, value, source)."""
        rows = self.v3_summary[self.v3_summary["figure"].str.startswith(prefix)]
        return rows[["figure", "value", "source"]].reset_index(drop=True)


def _load_table2(directory: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    raw = _read_csv(directory / TABLE2_FILE, _TABLE2_FIXED)
    _check_no_duplicates(raw, ["benchmark"], TABLE2_FILE)
    averages = raw[raw["benchmark"].isin([OVERALL_AVG, CODE_AVG])].set_index("benchmark")
    rows = raw[~raw["benchmark"].isin([OVERALL_AVG, CODE_AVG])].reset_index(drop=True)
    tasks = rows["mteb_task"]
    _check_no_duplicates(rows[tasks != ""], ["mteb_task"], TABLE2_FILE)
    _check_task_names(tasks, TABLE2_FILE)
    models = [c for c in raw.columns if c not in _TABLE2_FIXED]
    rows = _to_float(rows, models, TABLE2_FILE)
    rows["in_mteb_code_v1"] = rows["in_mteb_code_v1"].eq("yes")
    averages = _to_float(averages, models, TABLE2_FILE)
    _check_averages(rows, averages, models)
    return rows, averages[models]


def _check_averages(rows: pd.DataFrame, averages: pd.DataFrame, models: list[str]) -> None:
    if set(averages.index) != {OVERALL_AVG, CODE_AVG}:
        raise HarnessError(f"{TABLE2_FILE} lacks the {OVERALL_AVG}/{CODE_AVG} rows")
    subsets = {OVERALL_AVG: rows, CODE_AVG: rows[rows["in_mteb_code_v1"]]}
    for name, subset in subsets.items():
        for model in models:
            recomputed, printed = subset[model].mean(), averages.loc[name, model]
            if abs(recomputed - printed) > _AVERAGE_SLACK:
                raise HarnessError(
                    f"{TABLE2_FILE}: {name} of {model} is {printed} but its rows average "
                    f"{recomputed:.3f}",
                    "fix the rows or the printed average",
                )


def _load_v3_results(directory: Path) -> pd.DataFrame:
    raw = _read_csv(directory / V3_RESULTS_FILE, _V3_RESULTS_COLUMNS)
    _check_no_duplicates(raw, ["task", "split", "hf_subset"], V3_RESULTS_FILE)
    _check_task_names(raw["task"], V3_RESULTS_FILE)
    frame = _to_float(raw, ["value"], V3_RESULTS_FILE)
    if not frame["value"].between(-1, 1).all():  # p-MRR (instruction retrieval) can be < 0
        raise HarnessError(f"{V3_RESULTS_FILE} holds values outside ±1", "restore it from git")
    return pd.DataFrame(
        {
            "task": frame["task"],
            "split": frame["split"],
            "subset": frame["hf_subset"],
            "score": frame["value"] * 100,
            "in_mteb_eng_v1": frame["in_mteb_eng_v1"].eq("yes"),
        }
    )


def _load_v3_summary(directory: Path) -> pd.DataFrame:
    raw = _read_csv(directory / V3_SUMMARY_FILE, ["figure", "metric", "value", "source"])
    _check_no_duplicates(raw, ["figure", "source"], V3_SUMMARY_FILE)
    lemb = raw.loc[raw["figure"].str.startswith("LEMB"), "figure"]
    _check_task_names(lemb, V3_SUMMARY_FILE)
    return raw


@functools.cache
def _load_cached(directory: Path) -> Published:
    table2, averages = _load_table2(directory)
    return Published(
        directory=directory,
        table2=table2,
        table2_averages=averages,
        v3_summary=_load_v3_summary(directory),
        v3_results=_load_v3_results(directory),
    )


def load_published(directory: Path | None = None) -> Published:
    """Load and validate the published figures (raises ``HarnessError`` on bad files)."""
    return _load_cached((directory or published_dir()).resolve())
