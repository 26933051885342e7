"""Build ``published.csv``, the long table of published figures, from the three source files.

Usage: ``python scripts/build_published_long.py [FOLDER]`` (default: the packaged
``src/embharness/data/published``); writes ``FOLDER/published.csv``. The sources stay the record
of what was copied (see SOURCES.md); the report reads only the long table. Each source is
validated here (known mteb task names, no duplicate rows, numeric values).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pandas as pd

from embharness.report.published import (
    LONG_COLUMNS,
    LONG_FILE,
    MTEB_RESULTS,
    NOT_IN_MTEB,
    PAPER,
    check_no_duplicates,
    check_task_names,
    read_csv,
    to_float,
)

TABLE2_FILE = "jina_code_embeddings_table2.csv"
V3_SUMMARY_FILE = "jina_embeddings_v3_summary.csv"
V3_RESULTS_FILE = "jina_embeddings_v3_mteb_results.csv"
V3_MODEL = "jinaai/jina-embeddings-v3"
V3_REVISION = "215a6e121fa0183376388ac6b1ae230326bfeaed"
ENG_MARK = "MTEB(eng, v1)"  # the note of the cell MTEB(eng, v1) uses for a task
TABLE2_FIXED = ["benchmark", "paper_label", "mteb_task", "task_type", "in_mteb_code_v1"]
# summary figure -> long-table task (a category is "<benchmark>: <category>")
SUMMARY_NAMES = [
    (re.compile(r"^MTEB\(eng\) average .*$"), f"{ENG_MARK}: Average"),
    (re.compile(r"^MTEB\(eng\) (\w+?)(?: avg)?$"), f"{ENG_MARK}: \\1"),
    (re.compile(r"^MTEB multilingual average$"), "MTEB multilingual: Average"),
    (re.compile(r"^MTEB multilingual (\w+) avg$"), "MTEB multilingual: \\1"),
    (re.compile(r"^LongEmbed average .*$"), "LongEmbed: Average"),
]
ROOT = Path(__file__).resolve().parents[1]


def _table2(folder: Path) -> pd.DataFrame:
    raw = read_csv(folder / TABLE2_FILE, TABLE2_FIXED)
    check_no_duplicates(raw, ["benchmark"], TABLE2_FILE)
    check_task_names(raw["mteb_task"], TABLE2_FILE)
    models = [c for c in raw.columns if c not in TABLE2_FIXED]
    raw = to_float(raw, models, TABLE2_FILE)
    long = raw.melt(id_vars=TABLE2_FIXED, value_vars=models, var_name="model")
    named = long["mteb_task"] != ""
    category = long["task_type"] == ""  # the printed averages
    return pd.DataFrame(
        {
            "model": long["model"],
            "task": long["mteb_task"].where(named, long["benchmark"]),
            "value": long["value"],
            "source": PAPER,
            "note": (~named & ~category).map({True: NOT_IN_MTEB, False: ""}),
        }
    )


def _summary_task(figure: str) -> str:
    for pattern, name in SUMMARY_NAMES:
        if pattern.match(figure):
            return pattern.sub(name, figure)
    return figure


def _v3_summary(folder: Path) -> pd.DataFrame:
    raw = read_csv(folder / V3_SUMMARY_FILE, ["figure", "metric", "value", "source", "note"])
    check_no_duplicates(raw, ["figure", "source"], V3_SUMMARY_FILE)
    check_task_names(raw.loc[raw["figure"].str.startswith("LEMB"), "figure"], V3_SUMMARY_FILE)
    raw["value"] = raw["value"].str.removesuffix("%")
    raw = to_float(raw, ["value"], V3_SUMMARY_FILE)
    paper = raw["source"].str.startswith("arXiv")
    return pd.DataFrame(
        {
            "model": V3_MODEL,
            "task": raw["figure"].map(_summary_task),
            "value": raw["value"],
            "source": paper.map({True: PAPER, False: "model card"}),
            "note": raw["metric"] + "; " + raw["source"] + "; " + raw["note"],
        }
    )


def _v3_results(folder: Path) -> pd.DataFrame:
    columns = ["task", "split", "hf_subset", "value", "in_mteb_eng_v1"]
    raw = read_csv(folder / V3_RESULTS_FILE, columns)
    check_no_duplicates(raw, ["task", "split", "hf_subset"], V3_RESULTS_FILE)
    check_task_names(raw["task"], V3_RESULTS_FILE)
    frame = to_float(raw, ["value"], V3_RESULTS_FILE)
    return pd.DataFrame(
        {
            "model": V3_MODEL,
            "revision": V3_REVISION,
            "task": frame["task"],
            "split": frame["split"],
            "subset": frame["hf_subset"],
            "value": frame["value"] * 100,
            "source": MTEB_RESULTS,
            "note": frame["in_mteb_eng_v1"].eq("yes").map({True: ENG_MARK, False: ""}),
        }
    )


def build_long(folder: Path) -> pd.DataFrame:
    """The long table of the three source files in ``folder`` (columns ``LONG_COLUMNS``)."""
    parts = [_table2(folder), _v3_summary(folder), _v3_results(folder)]
    long = pd.concat(parts, ignore_index=True)
    return long.reindex(columns=LONG_COLUMNS).fillna({"revision": "", "split": "", "subset": ""})


def main(argv: list[str]) -> int:
    """Write ``published.csv`` next to the sources."""
    folder = Path(argv[1]) if len(argv) > 1 else ROOT / "src" / "embharness" / "data" / "published"
    build_long(folder).to_csv(folder / LONG_FILE, index=False, lineterminator="\n")
    print(f"wrote {folder / LONG_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
