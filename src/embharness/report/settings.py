"""The run settings behind the numbers, summarised from the harness's run records."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from embharness.results.runs import Run, record_value

UNKNOWN = "unknown"
# column label -> path inside a run record
FIELDS: dict[str, tuple[str, ...]] = {
    "git sha": ("git", "sha"),
    "dirty": ("git", "dirty"),
    "embharness": ("embharness_version",),
    "dtype": ("settings", "dtype"),
    "max length": ("settings", "max_length"),
    "batch size": ("settings", "batch_size"),
    "device": ("settings", "device"),
    "loader": ("model", "loader"),
    "pooling": ("model", "pooling"),
    "weights hash": ("model", "weights_hash"),
    "peft adapter": ("model", "peft_adapter"),
    "python": ("versions", "python"),
    "mteb": ("versions", "mteb"),
    "torch": ("versions", "torch"),
    "transformers": ("versions", "transformers"),
    "sentence-transformers": ("versions", "sentence-transformers"),
    "peft": ("versions", "peft"),
}


def summarise(values: Iterable[object]) -> str:
    """Distinct values joined by ``, `` (``unknown`` for none); ``mixed:`` when several."""
    distinct = sorted({str(v) for v in values if v is not None})
    if not distinct:
        return UNKNOWN
    return distinct[0] if len(distinct) == 1 else "mixed: " + ", ".join(distinct)


def settings_frame(runs: Iterable[Run]) -> pd.DataFrame:
    """One row per model and revision: record coverage and each setting's values."""
    groups: dict[tuple[str, str], list[Run]] = {}
    for run in runs:
        groups.setdefault((run.model, run.revision), []).append(run)
    rows = []
    for (model, revision), group in sorted(groups.items()):
        records = [run.record for run in group if run.record is not None]
        row = {
            "model": model,
            "revision": revision,
            "results": len(group),
            "run records": f"{len(records)}/{len(group)}",
            "dims": ", ".join(str(d) for d in sorted({r.dim for r in group if r.dim})) or UNKNOWN,
        }
        for label, keys in FIELDS.items():
            row[label] = summarise(record_value(record, *keys) for record in records)
        rows.append(row)
    return pd.DataFrame(rows)


def settings_table(runs: Iterable[Run]) -> pd.DataFrame:
    """``settings_frame`` transposed for reading: one row per setting, one column per model."""
    frame = settings_frame(runs).astype(str)
    frame.index = [
        f"{m} @ {r[:12]}" for m, r in zip(frame["model"], frame["revision"], strict=True)
    ]
    return frame.T.rename_axis("setting").reset_index()
