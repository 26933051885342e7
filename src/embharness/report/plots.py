"""Report figures (matplotlib, no GUI backend): one figure per PNG + SVG file pair."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator, ScalarFormatter

from embharness.atomic import atomic_write
from embharness.report.dims import DimTable
from embharness.report.intervals import Intervals
from embharness.report.published import Published

MATRYOSHKA_SOURCE = "paper Table 7"


@dataclass(frozen=True)
class Plot:
    """A saved figure: its title and the PNG and SVG files."""

    title: str
    png: Path
    svg: Path


def slug(text: str) -> str:
    """A file-name-safe version of ``text``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")


def _save(fig: Figure, folder: Path, stem: str, title: str) -> Plot:
    png, svg = folder / f"{stem}.png", folder / f"{stem}.svg"
    atomic_write(
        png,
        lambda h: fig.savefig(h, format="png", dpi=110, bbox_inches="tight", pad_inches=0.2),
        mode="wb",
    )
    atomic_write(
        svg, lambda h: fig.savefig(h, format="svg", bbox_inches="tight", pad_inches=0.2), mode="wb"
    )
    return Plot(title, png, svg)


def _dim_axes(fig: Figure, dims: Iterable[int], title: str, ylabel: str) -> Axes:
    ax = fig.add_subplot()
    ticks = sorted(set(dims))
    ax.set_xscale("log", base=2)
    ax.set_xticks(ticks)
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_locator(NullLocator())
    ax.tick_params(axis="x", labelrotation=45 if len(ticks) > 5 else 0)
    ax.set_xlabel("embedding dimension (log2 scale)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    return ax


def _legend(ax: Axes) -> None:
    ax.legend(
        loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize="small", frameon=False
    )


def _short(table: DimTable) -> str:
    cap = f", capped {table.max_samples}" if table.max_samples else ""
    dtype = f", {table.precision.split(',')[0]}" if table.precision else ""
    return f"{table.model.split('/')[-1]} @{table.revision[:7]}{cap}{dtype}"


def _band(
    ax: Axes, table: DimTable, task: str, dims: list[int], intervals: Intervals, colour: str
) -> str:
    """Shade the CI of ``task`` at each of ``dims`` (where it has one); the legend's words."""
    found = [intervals.task(table.key(task, dim)).interval for dim in dims]
    if not any(found):
        return ""
    lows = [math.nan if i is None else i.low * 100 for i in found]
    highs = [math.nan if i is None else i.high * 100 for i in found]
    ax.fill_between(dims, lows, highs, color=colour, alpha=0.2, linewidth=0)
    confidence = next(i.confidence for i in found if i is not None)
    return f" (band: {confidence:.0%} CI)"


def dims_per_task(
    tables: list[DimTable],
    comparison: pd.DataFrame,
    folder: Path,
    intervals: Intervals | None = None,
) -> list[Plot]:
    """Score vs dimension for each task (one line per model variant), published overlaid.

    With ``intervals``, each line gets a shaded band of its scores' bootstrap CIs.
    """
    compared = comparison[comparison["published"].notna() & comparison["dim"].notna()]
    compared = compared[compared["max_samples"].isna()]
    plots = []
    for task in sorted({t for table in tables for t in table.scores.index}):
        fig = Figure(figsize=(8, 4.5))
        dims = [d for table in tables if task in table.scores.index for d in table.scores.columns]
        ax = _dim_axes(fig, dims, f"{task}: score vs Matryoshka dimension", "main score (points)")
        for i, table in enumerate(t for t in tables if task in t.scores.index):
            series = table.scores.loc[task].dropna()
            style = "--" if table.max_samples else "-"
            dims = [int(dim) for dim in series.index]
            band = _band(ax, table, task, dims, intervals, f"C{i}") if intervals else ""
            ax.plot(
                dims, series.values, style, marker="o", color=f"C{i}", label=_short(table) + band
            )
            pub = compared[(compared["task"] == task) & (compared["model"] == table.model)]
            pub = pub[pub["revision"] == table.revision]
            if not table.max_samples and not pub.empty:
                label = f"{table.model.split('/')[-1]} published ({pub.iloc[0]['reference']})"
                ax.scatter(
                    pub["dim"],
                    pub["published"],
                    marker="*",
                    s=160,
                    color=f"C{i}",
                    edgecolors="black",
                    zorder=3,
                    label=label,
                )
        _legend(ax)
        plots.append(_save(fig, folder, f"dims_{slug(task)}", f"{task}: score vs dimension"))
    return plots


def _type_means(table: DimTable, types: dict[str, str]) -> dict[str, tuple[int, pd.Series]]:
    """Task type → (number of tasks, mean over the tasks scored at every dimension)."""
    full = table.scores.dropna()
    out = {}
    for kind in sorted({types.get(t, "unknown") for t in full.index}):
        tasks = [t for t in full.index if types.get(t, "unknown") == kind]
        out[kind] = (len(tasks), full.loc[tasks].mean())
    return out


def dims_average(
    tables: list[DimTable], types: dict[str, str], published: Published, folder: Path
) -> list[Plot]:
    """Model-level averages vs dimension; the model's published Matryoshka averages overlaid."""
    plots = []
    for table in tables:
        dims = list(table.scores.columns)
        matryoshka = published.matryoshka(table.model)
        dims += list(matryoshka.get("dim", []))
        if not dims:
            continue
        fig = Figure(figsize=(8, 4.5))
        title = f"{_short(table)}: averages vs dimension"
        ax = _dim_axes(fig, dims, title, "mean score (points)")
        means = _type_means(table, types)
        kinds = sorted(
            {k.lower() for k in means} | set(matryoshka.get("kind", pd.Series()).str.lower())
        )
        colour = {kind: f"C{i}" for i, kind in enumerate(kinds)}
        for kind, (count, series) in means.items():
            label = f"ours: {kind} (mean of {count} task{'s' if count != 1 else ''})"
            ax.plot(
                series.index,
                series.values,
                "-",
                marker="o",
                color=colour[kind.lower()],
                label=label,
            )
        for kind, rows in matryoshka.groupby("kind") if len(matryoshka) else []:
            label = f"published: MTEB {kind} avg ({MATRYOSHKA_SOURCE})"
            ax.plot(
                rows["dim"], rows["value"], ":", marker="x", color=colour[kind.lower()], label=label
            )
        _legend(ax)
        stem = f"dims_average_{slug(table.model)}_{table.revision[:7]}"
        stem += f"_capped{table.max_samples}" if table.max_samples else ""
        stem += f"_{slug(table.precision.split(',')[0])}" if table.precision else ""
        plots.append(_save(fig, folder, stem, f"{table.title}: averages vs dimension"))
    return plots


def scatter(comparison: pd.DataFrame, folder: Path) -> Plot | None:
    """Our score vs the published one for every compared task, with the y = x line."""
    compared = comparison[comparison["delta"].notna()]
    if compared.empty:
        return None
    fig = Figure(figsize=(6.5, 6))
    ax = fig.add_subplot()
    for i, (model, rows) in enumerate(compared.groupby("model")):
        ax.scatter(rows["published"], rows["ours"], color=f"C{i}", label=model, alpha=0.8)
    low = min(compared["published"].min(), compared["ours"].min()) - 2
    high = max(compared["published"].max(), compared["ours"].max()) + 2
    ax.plot([low, high], [low, high], "k--", linewidth=1, label="y = x")
    ax.set_xlim(low, high)
    ax.set_ylim(low, high)
    ax.set_xlabel("published score (points)")
    ax.set_ylabel("our score (points)")
    ax.set_title(f"Ours vs published ({len(compared)} compared tasks)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize="small")
    return _save(fig, folder, "ours_vs_published", "Our scores vs published")
