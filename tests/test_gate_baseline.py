"""`embharness gate`: tolerance edges, missing cells, per-task tolerances, the version-3 baseline
(per-item files beside the JSON, each cell's dataset revision), cells scored on other task data,
significance mode on synthetic per-item scores, version-1 and -2 back-compat and one-line
errors. Real model runs are in test_gate_broken_wrapper.py and test_gate_significance.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
import mteb
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from test_report_fixtures import CODE_05B, REV, run_record, write_result

from embharness.commands.gate import gate
from embharness.errors import HarnessError
from embharness.gate import baseline as baseline_module
from embharness.gate.baseline import (
    FORMAT,
    Cell,
    current_cells,
    load_baseline,
    read_baseline,
    write_baseline,
)
from embharness.gate.gate import (
    IMPROVED,
    MISSING,
    NEW,
    REGRESSED,
    SIGNIFICANCE,
    WITHIN_NOISE,
    WITHIN_TOLERANCE,
    compare_cells,
    run_gate,
)
from embharness.results.paired import OLD_RUN, file_sha256
from embharness.results.per_query import PerItemScores
from embharness.results.store import items_path

BASE = 0.61  # CosQA baseline main score (61.00 points)
COLUMNS = ("verdict", "model", "experiment", "task", "split", "subset", "baseline", "now", "Δ")
COLUMNS += ("ci", "p", "p_holm", "tol", "note")
QUERIES = np.random.default_rng(3).beta(2, 1, 200)  # per-query nDCG-like values


def _results(
    tmp_path: Path, cosqa: float | None = BASE, apps: float = 0.8, items: np.ndarray | None = None
) -> Path:
    """CosQA (with per-query scores when ``items`` is given, its score their mean) + Apps×2."""
    results = tmp_path / "results"
    if items is not None:
        cosqa = float(items.mean())
    if cosqa is not None:
        path = write_result(
            results, CODE_05B, "CosQA", {"test": {"default": cosqa}}, record=run_record()
        )
        if items is not None:
            PerItemScores.from_values(items, metric="ndcg_at_10").save(items_path(path))
    write_result(results, CODE_05B, "AppsRetrieval", {"test": {"default": apps}})
    write_result(
        results,
        CODE_05B,
        "AppsRetrieval",
        {"test": {"default": apps - 0.1}},
        kwargs={"embed_dim": 256},
    )
    return results


@pytest.fixture
def baseline(tmp_path: Path) -> Path:
    path = tmp_path / "baselines" / "base.json"
    assert write_baseline(_results(tmp_path / "before"), path) == 3
    return path


@pytest.fixture
def item_baseline(tmp_path: Path) -> Path:
    path = tmp_path / "item-baselines" / "base.json"
    write_baseline(_results(tmp_path / "items-before", items=QUERIES), path)
    return path


def _gate(tmp_path: Path, baseline: Path, cosqa: float | None, **kwargs: object) -> tuple[int, str]:
    lines: list[str] = []
    items = kwargs.pop("items", None)
    results = _results(tmp_path / "now", cosqa, items=items)  # type: ignore[arg-type]
    code = run_gate(results, baseline, echo=lines.append, **kwargs)  # type: ignore[arg-type]
    return code, "\n".join(lines)


def _row(text: str, task: str = "CosQA") -> dict[str, str]:
    line = next(line for line in text.splitlines() if f"  {task}  " in line)
    return dict(zip(COLUMNS, re.split(r"\s{2,}", line), strict=False))


@pytest.mark.parametrize(
    ("now", "code", "verdict"),
    [
        (0.605, 0, WITHIN_TOLERANCE),  # Δ = −0.50: exactly the tolerance passes
        (0.6049, 1, REGRESSED),  # Δ = −0.51
        (0.615, 0, WITHIN_TOLERANCE),  # Δ = +0.50
        (0.6151, 0, IMPROVED),  # Δ = +0.51 passes but is flagged
    ],
)
def test_tolerance_edge(
    tmp_path: Path, baseline: Path, now: float, code: int, verdict: str
) -> None:
    result, text = _gate(tmp_path, baseline, now, tolerance=0.5)
    assert result == code
    row = _row(text)
    assert row["verdict"] == verdict
    assert (row["baseline"], row["now"]) == ("61.00", f"{now * 100:.2f}")
    assert row["Δ"] == f"{(now - BASE) * 100:+.2f}"
    assert (row["ci"], row["p"], row["p_holm"]) == ("—", "—", "—")  # no per-item scores
    assert row["note"] == f"no per-item scores in baseline: {OLD_RUN}"
    assert text.splitlines()[-1].startswith("gate: FAIL" if code else "gate: PASS")


def test_missing_cell_fails_unless_allowed(tmp_path: Path, baseline: Path) -> None:
    code, text = _gate(tmp_path, baseline, None)
    assert code == 1
    assert _row(text)["verdict"] == MISSING
    assert "1 missing" in text.splitlines()[-1]
    code, _ = _gate(tmp_path / "again", baseline, None, allow_missing=True)
    assert code == 0


def test_per_task_tolerances_yaml_and_json(tmp_path: Path, baseline: Path) -> None:
    yaml_file = tmp_path / "tol.yaml"
    yaml_file.write_text("CosQA: 1.0\n")
    assert _gate(tmp_path / "a", baseline, 0.6001, tolerances_path=yaml_file)[0] == 0  # Δ −0.99
    assert _gate(tmp_path / "b", baseline, 0.5999, tolerances_path=yaml_file)[0] == 1  # Δ −1.01
    json_file = tmp_path / "tol.json"
    json_file.write_text(json.dumps({"tasks": {"CosQA": 0.1}}))
    assert _gate(tmp_path / "c", baseline, 0.6085, tolerances_path=json_file)[0] == 1  # Δ −0.15
    json_file.write_text(json.dumps({"CosQA": "lots"}))
    with pytest.raises(HarnessError, match="non-numeric"):
        _gate(tmp_path / "d", baseline, BASE, tolerances_path=json_file)


def test_cells_scored_on_other_task_data_say_so(tmp_path: Path, baseline: Path) -> None:
    """A CosQA result on other data (say, the stdlib task under another Python) is still
    judged; its note names both revisions, and a failure's summary names the fix."""
    before = mteb.get_task("CosQA").metadata.revision
    results = tmp_path / "now"
    for name, now, code in (("drop", 0.59, 1), ("same", BASE, 0)):
        write_result(
            results / name, CODE_05B, "CosQA", {"test": {"default": now}},
            dataset_revision="python-3.12.1",
        )  # fmt: skip
        write_result(results / name, CODE_05B, "AppsRetrieval", {"test": {"default": 0.8}})
        lines: list[str] = []
        assert run_gate(results / name, baseline, echo=lines.append, allow_missing=True) == code
        note = _row("\n".join(lines))["note"]
        assert note.startswith(f"task data differs (dataset revision {before} → python-3.12.1); ")
        assert _row("\n".join(lines), "AppsRetrieval")["note"].startswith("no per-item")
        summary = lines[-1]
        assert ("scored on other task data" in summary) == bool(code), summary
        assert ("fix: gate against a baseline written from the same data" in summary) == bool(code)


def test_version_2_baselines_have_no_dataset_revision(tmp_path: Path, baseline: Path) -> None:
    """A version-2 baseline (before dataset revisions) loads and gates; no data note."""
    data = json.loads(baseline.read_text())
    for cell in data["cells"]:
        del cell["dataset_revision"]
    baseline.write_text(json.dumps(data | {"version": 2}))
    assert {c.dataset_revision for c in load_baseline(baseline).cells} == {None}
    code, text = _gate(tmp_path, baseline, 0.59, allow_missing=True)
    assert code == 1 and "task data differs" not in text and "other task data" not in text


def test_new_cells_are_reported_and_pass() -> None:
    old = Cell(CODE_05B, REV, None, "CosQA", "test", "default", "ndcg_at_10", 0.5)
    new = Cell(CODE_05B, REV, None, "AppsRetrieval", "test", "default", "ndcg_at_10", 0.7)
    rows = compare_cells([old], [old, new], 0.5, {})
    assert [(r.cell.task, r.verdict) for r in rows] == [
        ("CosQA", WITHIN_TOLERANCE),
        ("AppsRetrieval", NEW),
    ]


def test_write_baseline_round_trip(tmp_path: Path, baseline: Path) -> None:
    data = json.loads(baseline.read_text())
    assert data["format"] == FORMAT and data["version"] == 3
    assert data["provenance"]["git_shas"] == ["abc1234"]
    assert data["provenance"]["python_versions"] == ["3.11.7"]  # the one run with a record
    revisions = {c["task"]: c["dataset_revision"] for c in data["cells"]}
    assert revisions == {t: mteb.get_task(t).metadata.revision for t in ("CosQA", "AppsRetrieval")}
    assert {c["per_item"]["reason"] for c in data["cells"]} == {OLD_RUN}
    assert {c["per_item"]["file"] for c in data["cells"]} == {None}
    cells, provenance = read_baseline(baseline)
    assert cells == current_cells(_results(tmp_path / "same"))
    assert {(c.experiment, c.task, c.score) for c in cells} == {
        (None, "CosQA", 0.61),
        (None, "AppsRetrieval", 0.8),
        ("embed_dim_256", "AppsRetrieval", 0.7),
    }
    assert {c.metric for c in cells} == {"ndcg_at_10"}
    assert provenance["created_by"] == "embharness gate --write-baseline"
    # refreshing replaces the file with the new scores
    write_baseline(_results(tmp_path / "newer", 0.5), baseline)
    assert {c.score for c in read_baseline(baseline)[0] if c.task == "CosQA"} == {0.5}
    assert sorted(p.name for p in baseline.parent.iterdir()) == ["base.items", "base.json"]
    assert list((baseline.parent / "base.items").iterdir()) == []  # no temp files left


def test_baseline_stores_each_cells_items_and_prunes_old_files(
    tmp_path: Path, item_baseline: Path
) -> None:
    data = json.loads(item_baseline.read_text())
    (cosqa,) = [c for c in data["cells"] if c["task"] == "CosQA"]
    stored = item_baseline.parent / cosqa["per_item"]["file"]
    assert stored.parent.name == "base.items" and stored.is_file()
    assert cosqa["per_item"]["sha256"] == file_sha256(stored)
    assert cosqa["per_item"] | {"file": None, "sha256": None} == {
        "file": None, "sha256": None, "n_items": 200, "unit": "item", "statistic": "mean",
        "reason": None,
    }  # fmt: skip
    frame = pd.read_parquet(stored)
    np.testing.assert_array_equal(frame["ndcg_at_10"].to_numpy(), QUERIES)
    loaded = next(c for c in load_baseline(item_baseline).cells if c.task == "CosQA")
    assert loaded.items is not None and loaded.items.load().aggregate() == pytest.approx(
        QUERIES.mean()
    )
    write_baseline(_results(tmp_path / "rewrite", items=QUERIES[::-1].copy()), item_baseline)
    left = sorted(p.name for p in (item_baseline.parent / "base.items").iterdir())
    assert not stored.exists() and len(left) == 1 and left[0].endswith(".parquet")
    assert left[0].startswith("jinaai__jina-code-embeddings-0.5b@rev000000000__default__CosQA")


def test_a_failed_rewrite_keeps_the_old_baseline_usable(
    tmp_path: Path, item_baseline: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = item_baseline.read_bytes()

    def disk_full(path: Path, payload: object) -> None:
        raise HarnessError(f"could not write {path}: No space left on device")

    monkeypatch.setattr(baseline_module, "atomic_write_json", disk_full)
    with pytest.raises(HarnessError, match="No space left"):
        write_baseline(_results(tmp_path / "other", items=QUERIES - 0.1), item_baseline)
    assert item_baseline.read_bytes() == before
    loaded = next(c for c in load_baseline(item_baseline).cells if c.task == "CosQA")
    assert loaded.items is not None and loaded.items.load().n_items == 200  # checksum holds


def _shifted_few(values: np.ndarray, count: int) -> np.ndarray:
    """``values`` with ``count`` queries set to 0: a small, real-looking drop."""
    out = values.copy()
    out[np.argsort(values)[:count]] = 0.0
    return out


def test_significance_mode_passes_noise_and_fails_real_drops(
    tmp_path: Path, item_baseline: Path
) -> None:
    small = _shifted_few(QUERIES, 1)
    drop = (QUERIES.mean() - small.mean()) * 100
    assert 0.01 < drop < 0.5
    args = {"tolerance": 0.01, "n_resamples": 2000, "allow_missing": False}
    code, text = _gate(tmp_path / "t", item_baseline, None, items=small, **args)
    assert code == 1 and _row(text)["verdict"] == REGRESSED
    assert _row(text)["note"] == "beyond tolerance, not significant at 0.05"
    code, text = _gate(tmp_path / "s", item_baseline, None, items=small, mode=SIGNIFICANCE, **args)
    assert code == 0, text
    row = _row(text)
    assert row["verdict"] == WITHIN_NOISE and float(row["p_holm"]) > 0.05
    assert row["Δ"] == f"{-drop:+.2f}"
    assert "significance mode" in text.splitlines()[-1]
    big = np.clip(QUERIES - 0.05 + np.random.default_rng(4).normal(0, 0.05, len(QUERIES)), 0, 1)
    for mode in ("tolerance", SIGNIFICANCE):
        code, text = _gate(tmp_path / f"b{mode}", item_baseline, None, items=big, mode=mode, **args)
        row = _row(text)
        assert code == 1 and row["verdict"] == REGRESSED, text
        assert float(row["p_holm"]) <= 0.05
        low, high = (float(x) for x in row["ci"].strip("[]").split(", "))
        assert low < (big.mean() - QUERIES.mean()) * 100 < high < 0


def _v1(tmp_path: Path, score: float = BASE) -> Path:
    """A version-1 baseline as the previous embharness wrote it (scores only)."""
    path = tmp_path / "v1.json"
    cell = {
        "model": CODE_05B, "revision": REV, "experiment": None, "task": "CosQA",
        "split": "test", "subset": "default", "metric": "ndcg_at_10", "score": score,
    }  # fmt: skip
    path.write_text(json.dumps({"format": FORMAT, "version": 1, "provenance": {}, "cells": [cell]}))
    return path


def test_version_1_baselines_gate_in_tolerance_mode_only(tmp_path: Path) -> None:
    v1 = _v1(tmp_path)
    assert load_baseline(v1).version == 1
    assert _gate(tmp_path / "ok", v1, 0.606, allow_missing=True)[0] == 0
    code, text = _gate(tmp_path / "bad", v1, 0.60, allow_missing=True)
    assert code == 1 and _row(text)["note"] == "no per-item scores in baseline: version-1 baseline"
    with pytest.raises(HarnessError, match="version 1, without per-item scores") as info:
        _gate(tmp_path / "sig", v1, BASE, mode=SIGNIFICANCE)
    assert "--write-baseline" in info.value.fix


def test_bad_baselines_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="does not exist"):
        read_baseline(tmp_path / "none.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": FORMAT, "version": 1, "cells": [{"task": "CosQA"}]}))
    with pytest.raises(HarnessError, match="malformed"):
        read_baseline(bad)
    v2_without_items = json.loads(_v1(tmp_path).read_text()) | {"version": 2}
    bad.write_text(json.dumps(v2_without_items))
    with pytest.raises(HarnessError, match="cell 0 is malformed"):
        read_baseline(bad)
    bad.write_text(json.dumps(v2_without_items | {"version": 4}))
    with pytest.raises(HarnessError, match="version 4; this embharness reads versions 1, 2, 3"):
        read_baseline(bad)


def test_tampered_item_files_are_caught(tmp_path: Path, item_baseline: Path) -> None:
    data = json.loads(item_baseline.read_text())
    stored = next(
        item_baseline.parent / c["per_item"]["file"] for c in data["cells"] if c["task"] == "CosQA"
    )
    PerItemScores.from_values(QUERIES * 0.5, metric="ndcg_at_10").save(stored)
    with pytest.raises(HarnessError, match="do not match the checksum"):
        _gate(tmp_path, item_baseline, None, items=QUERIES, mode=SIGNIFICANCE, n_resamples=10)


def test_cli_exit_codes(tmp_path: Path) -> None:
    results = _results(tmp_path / "cli", items=QUERIES)
    base = tmp_path / "b.json"
    runner = CliRunner()
    out = runner.invoke(
        gate, ["--baseline", str(base), "--results", str(results), "--write-baseline"]
    )
    assert out.exit_code == 0 and "3 cells" in out.output
    out = runner.invoke(gate, ["--baseline", str(base), "--results", str(results)])
    assert out.exit_code == 0 and "gate: PASS" in out.output
    sig = ["--baseline", str(base), "--results", str(results), "--mode", "significance"]
    out = runner.invoke(gate, [*sig, "--resamples", "500"])
    assert out.exit_code == 0 and "1 within noise, 2 within tolerance" in out.output
    write_result(results, CODE_05B, "CosQA", {"test": {"default": 0.55}})
    out = runner.invoke(
        gate, ["--baseline", str(base), "--results", str(results), "--tolerance", "5"]
    )
    assert out.exit_code == 1 and "regressed" in out.output  # Δ −6 > 5


def test_commands_are_registered_and_errors_exit_2(tmp_path: Path) -> None:
    from embharness.cli import main

    assert {"report", "gate", "diff", "submit"} <= set(main.list_commands(click.Context(main)))
    out = CliRunner().invoke(main, ["gate", "--baseline", str(tmp_path / "none.json")])
    assert out.exit_code == 2
    assert out.output.startswith("error: ") and "does not exist" in out.output
    v1 = _v1(tmp_path)
    results = _results(tmp_path / "r")
    args = ["gate", "--baseline", str(v1), "--results", str(results)]
    for extra, message in [
        (["--mode", "significance"], "is version 1, without per-item scores"),
        (["--alpha", "1.5"], "alpha 1.5 is invalid"),
        (["--tolerance", "-1"], "tolerance -1.0 is invalid"),
    ]:
        out = CliRunner().invoke(main, [*args, *extra])
        assert out.exit_code == 2, out.output
        assert out.output.startswith("error: ") and message in out.output
        assert len(out.output.strip().splitlines()) == 1
    out = CliRunner().invoke(main, [*args, "--mode", "bogus"])
    assert out.exit_code == 2 and "'bogus' is not one of" in out.output
