"""Published reference figures: locate them, load and validate them.

They ship inside the package (``embharness/data/published/``, package data), so an installed,
non-editable package finds them too; ``$EMBHARNESS_PUBLISHED`` points at another folder. The
report reads three files there (the source files beside them are the record of what was copied;
``scripts/build_published_long.py`` derives the long table from them):

- ``published.csv``, one figure a row: ``model`` (``org/name``, or a bare name that matches any
  org, case-insensitively), ``revision`` (empty: any), ``task`` (an mteb task, a benchmark mteb
  lacks with note ``not in mteb``, a category ``<benchmark>: <category>``, a paper average
  named in ``categories.yaml``, or another figure whose name holds ``:``), ``split`` and
  ``subset`` (empty for a task-level figure), ``value`` (points), ``source``, ``note``;
- ``categories.yaml``: the averages the report computes (see that file);
- ``references.yaml``: what each ``source`` is, for the report's References section.

Adding a model's figures is a data change: rows in ``published.csv``.
"""

from __future__ import annotations

import functools
import importlib.resources
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from embharness.errors import HarnessError
from embharness.tasks.mteb_facts import known_task_names

PUBLISHED_ENV = "EMBHARNESS_PUBLISHED"
LONG_FILE = "published.csv"
CATEGORIES_FILE = "categories.yaml"
REFERENCES_FILE = "references.yaml"
LONG_COLUMNS = ["model", "revision", "task", "split", "subset", "value", "source", "note"]
KEY_COLUMNS = ["model", "revision", "task", "split", "subset", "source"]
PAPER = "paper"
MTEB_RESULTS = "mteb-results"
NOT_IN_MTEB = "not in mteb"
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
        if not (path / LONG_FILE).is_file():
            raise HarnessError(
                f"${PUBLISHED_ENV}={env} has no {LONG_FILE}",
                f"point ${PUBLISHED_ENV} at a folder laid out like embharness/data/published "
                "or unset it",
            )
        return path
    path = packaged_dir()
    if not (path / LONG_FILE).is_file():
        raise HarnessError(
            f"the installed package lacks its published figures ({path})",
            "reinstall embharness (its package data holds them) or set $EMBHARNESS_PUBLISHED",
        )
    return path


def read_csv(path: Path, required: list[str]) -> pd.DataFrame:
    """A CSV of strings (empty cells as ``""``) that must have the ``required`` columns."""
    if not path.is_file():
        raise HarnessError(f"published file {path} is missing", "restore it from git")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    absent = [column for column in required if column not in frame.columns]
    if absent:
        raise HarnessError(f"{path.name} lacks columns {absent}", "restore the file from git")
    return frame


def check_no_duplicates(frame: pd.DataFrame, keys: list[str], name: str) -> None:
    """Raise when two rows of ``frame`` share ``keys``."""
    duplicated = frame[frame.duplicated(keys, keep=False)]
    if not duplicated.empty:
        first = ", ".join(duplicated.iloc[0][keys].astype(str))
        raise HarnessError(
            f"{name} has {len(duplicated)} duplicate rows on {keys} (first: {first})",
            "keep one row per key in the published file",
        )


def check_task_names(names: pd.Series, name: str) -> None:
    """Raise when a non-empty name is not an mteb task."""
    unknown = sorted(set(names[names != ""]) - known_task_names())
    if unknown:
        raise HarnessError(
            f"{name} names tasks mteb does not know: {', '.join(unknown[:5])}",
            "fix the mteb task names in the published file (or leave the cell empty)",
        )


def to_float(frame: pd.DataFrame, columns: list[str], name: str) -> pd.DataFrame:
    """``frame`` with ``columns`` as floats (raises on a non-numeric cell)."""
    frame = frame.copy()
    for column in columns:
        try:
            frame[column] = frame[column].astype(float)
        except ValueError as exc:
            raise HarnessError(f"{name}: non-numeric value in column {column}: {exc}") from exc
    return frame


@dataclass(frozen=True)
class Published:
    """The validated published figures (every value in points) and the category definitions."""

    directory: Path
    figures: pd.DataFrame  # LONG_COLUMNS
    averages: dict[str, list[str]]  # paper-style average -> its tasks
    list_missing: list[str]  # averages whose tasks a model lacks are listed as missing
    benchmarks: dict[str, dict[str, Any]]  # benchmark -> how its categories are computed
    references: dict[str, str]  # source -> description

    def for_model(self, model: str, revision: str | None = None) -> pd.DataFrame:
        """The rows for ``model`` (a bare published name matches any org, any case)."""
        names = self.figures["model"]
        bare = ~names.str.contains("/") & names.str.lower().eq(model.split("/")[-1].lower())
        rows = self.figures[names.eq(model) | bare]
        if revision is not None:
            rows = rows[rows["revision"].isin(["", revision])]
        return rows

    def task_figures(self, model: str) -> pd.DataFrame:
        """Task-level figures (no split/subset) of ``model``."""
        rows = self.for_model(model)
        return rows[rows["split"] == ""]

    def cell_figures(self, model: str) -> pd.DataFrame:
        """Per split × subset figures of ``model``."""
        rows = self.for_model(model)
        return rows[rows["split"] != ""]

    def value(self, model: str, task: str, source: str | None = None) -> float | None:
        """The first task-level figure of ``model`` named ``task`` (from ``source``), or None."""
        rows = self.task_figures(model)
        rows = rows[(rows["task"] == task) & (rows["source"] == source if source else True)]
        return None if rows.empty else float(rows.iloc[0]["value"])

    def matryoshka(self, model: str) -> pd.DataFrame:
        """Published Matryoshka averages of ``model``: columns ``dim``, ``kind``, ``value``."""
        rows = []
        for row in self.task_figures(model).itertuples():
            match = _MATRYOSHKA.match(str(row.task))
            if match:
                rows.append({"dim": int(match[1]), "kind": match[2], "value": float(row.value)})
        return pd.DataFrame(rows, columns=["dim", "kind", "value"])


def _check_names(figures: pd.DataFrame, averages: dict[str, list[str]]) -> None:
    tasks = figures["task"]
    named = (
        ~tasks.str.contains(":") & ~tasks.isin(list(averages)) & (figures["note"] != NOT_IN_MTEB)
    )
    check_task_names(tasks[named], LONG_FILE)


def _check_averages(published: Published) -> None:
    figures = published.figures
    for name, tasks in published.averages.items():
        for (model, source), printed in figures[figures["task"] == name].groupby(
            ["model", "source"]
        )["value"]:
            rows = figures[(figures["model"] == model) & (figures["source"] == source)]
            values = rows[rows["task"].isin(tasks) & (rows["split"] == "")]["value"]
            gap = abs(values.mean() - printed.iloc[0]) if len(values) == len(tasks) else None
            if gap is None or gap > _AVERAGE_SLACK:
                raise HarnessError(
                    f"{LONG_FILE}: {name} of {model} is {printed.iloc[0]} but its rows average "
                    f"{values.mean():.3f} over {len(values)}/{len(tasks)} tasks",
                    "fix the rows or the printed average",
                )


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise HarnessError(f"published file {path} is missing", "restore it from git")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise HarnessError(f"{path.name} is not a mapping", "restore it from git")
    return data


@functools.cache
def _load_cached(directory: Path) -> Published:
    figures = to_float(read_csv(directory / LONG_FILE, LONG_COLUMNS), ["value"], LONG_FILE)
    check_no_duplicates(figures, KEY_COLUMNS, LONG_FILE)
    categories = _read_yaml(directory / CATEGORIES_FILE)
    averages = {str(k): [str(t) for t in v] for k, v in categories["averages"].items()}
    _check_names(figures, averages)
    published = Published(
        directory=directory,
        figures=figures[LONG_COLUMNS],
        averages=averages,
        list_missing=list(categories.get("list_missing") or []),
        benchmarks=dict(categories.get("benchmarks") or {}),
        references={str(k): str(v) for k, v in _read_yaml(directory / REFERENCES_FILE).items()},
    )
    _check_averages(published)
    return published


def load_published(directory: Path | None = None) -> Published:
    """Load and validate the published figures (raises ``HarnessError`` on bad files)."""
    return _load_cached((directory or published_dir()).resolve())
