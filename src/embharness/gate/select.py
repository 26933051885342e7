"""Selectors for ``embharness diff``: which runs form side A and side B, and how cells pair up.

Syntax of a selector::

    DIR                      every run in the results folder DIR
    [DIR:]MODEL[@VARIANT]    the runs of one model variant in DIR (default: --results)

``MODEL`` is the model's full name (``org/name``) or the part after the slash when only one
model in DIR has it. ``VARIANT`` is ``default`` (the default run; also what a missing
``@VARIANT`` means), an experiment folder name (``embed_dim_256``, ``max_samples_300``,
``embed_dim_64__max_samples_300``), or ``dim=N``: every run of the model at embedding dimension
N whose experiment changes nothing but the dimension and the sample cap (the default run too,
when N is the full dimension) — so in the CI's results ``@dim=64`` gathers ``embed_dim_64``
and ``embed_dim_64__max_samples_300``.

Pairing: when both sides name a model variant, cells pair by task, split, subset and sample
cap (``max_samples``); otherwise (a whole folder on either side) by model, experiment, task,
split and subset, so two results folders compare variant by variant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from embharness.errors import HarnessError
from embharness.results.paired import Key, Pair, ScoredCell, cells_of_runs
from embharness.results.runs import DEFAULT_EXPERIMENT, Run, load_runs

DIM_ONLY_KWARGS = frozenset({"embed_dim", "max_samples"})
DIM_VARIANT = re.compile(r"^dim=(\d+)$")
SYNTAX = "DIR, or [DIR:]MODEL[@VARIANT] with VARIANT default, an experiment name or dim=N"


@dataclass(frozen=True)
class Selector:
    """A parsed selector: a folder, and optionally one model and variant in it."""

    text: str
    folder: Path
    model: str | None = None
    variant: str = DEFAULT_EXPERIMENT


@dataclass(frozen=True)
class Side:
    """The runs a selector picked."""

    selector: Selector
    runs: list[Run]

    @property
    def pinned(self) -> bool:
        """True when the side is one model variant (not a whole folder)."""
        return self.selector.model is not None

    @property
    def label(self) -> str:
        """How the side is named in headings: the selector as resolved."""
        sel = self.selector
        if sel.model is None:
            return str(sel.folder)
        return f"{sel.folder}:{self.runs[0].model}@{sel.variant}"


def parse_selector(text: str, default_folder: Path) -> Selector:
    """Parse one selector (see the module docstring); HarnessError when it is empty."""
    if Path(text).is_dir():
        return Selector(text, Path(text))
    folder, rest = default_folder, text
    if ":" in text:
        head, rest = text.rsplit(":", 1)
        folder = Path(head) if head else default_folder
    model, _, variant = rest.partition("@")
    if not model.strip():
        raise HarnessError(f"selector {text!r} names no model", f"write {SYNTAX}")
    return Selector(text, folder, model.strip(), variant.strip() or DEFAULT_EXPERIMENT)


def _folder_runs(folder: Path) -> list[Run]:
    runs = load_runs(folder)
    if not runs:
        raise HarnessError(f"no results in {folder}", "run an evaluation into it first")
    return runs


def _model(selector: Selector, runs: list[Run]) -> str:
    models = sorted({run.model for run in runs})
    wanted = str(selector.model)
    if wanted in models:
        return wanted
    short = [m for m in models if m.rsplit("/", 1)[-1] == wanted]
    if len(short) == 1:
        return short[0]
    problem = f"several models named {wanted!r}" if short else f"no model {wanted!r}"
    nor = "" if short or ":" in selector.text else " (nor is it a results folder)"
    raise HarnessError(
        f"{problem} in {selector.folder}{nor}",
        f"available models: {', '.join(short or models)}; selectors are {SYNTAX}",
    )


def _variants(runs: list[Run]) -> str:
    experiments = sorted({run.label for run in runs}, key=lambda e: (e != DEFAULT_EXPERIMENT, e))
    dims = sorted({run.dim for run in runs if run.dim})
    return f"{', '.join(experiments)}, or dim=N for N in {', '.join(map(str, dims)) or '—'}"


def _pick(variant: str, runs: list[Run]) -> list[Run]:
    dim = DIM_VARIANT.match(variant)
    if dim:
        return [r for r in runs if r.dim == int(dim.group(1)) and set(r.kwargs) <= DIM_ONLY_KWARGS]
    return [r for r in runs if r.label == variant]


def resolve(selector: Selector) -> Side:
    """The runs of a selector; HarnessError naming the available models or experiments."""
    runs = _folder_runs(selector.folder)
    if selector.model is None:
        return Side(selector, runs)
    model = _model(selector, runs)
    of_model = [run for run in runs if run.model == model]
    picked = _pick(selector.variant, of_model)
    if not picked:
        raise HarnessError(
            f"{model} has no runs for variant {selector.variant!r} in {selector.folder}",
            f"available variants: {_variants(of_model)}",
        )
    return Side(selector, picked)


def _key(cell: ScoredCell, pinned: bool) -> Key:
    if pinned:
        return (cell.task, cell.split, cell.subset, cell.max_samples)
    return (cell.model, cell.experiment, cell.task, cell.split, cell.subset)


def _variant(cell: ScoredCell) -> str:
    return f"{cell.model}@{cell.experiment or DEFAULT_EXPERIMENT} rev {cell.revision[:12]}"


def _keyed(side: Side, pinned: bool) -> dict[Key, ScoredCell]:
    keyed: dict[Key, ScoredCell] = {}
    for cell in cells_of_runs(side.runs):
        key = _key(cell, pinned)
        if key in keyed:
            raise HarnessError(
                f"{side.selector.text!r} selects {cell.task} {cell.split}/{cell.subset} twice "
                f"({_variant(keyed[key])} and {_variant(cell)})",
                "name one experiment: MODEL@EXPERIMENT",
            )
        keyed[key] = cell
    return keyed


def pair_sides(a: Side, b: Side) -> tuple[list[Pair], int, int]:
    """The common cells of two sides as (key, a, b), sorted; and the counts only in A / B."""
    pinned = a.pinned and b.pinned
    cells_a, cells_b = _keyed(a, pinned), _keyed(b, pinned)
    common = sorted(set(cells_a) & set(cells_b), key=lambda k: tuple(str(v) for v in k))
    pairs: list[Pair] = [(key, cells_a[key], cells_b[key]) for key in common]
    return pairs, len(set(cells_a) - set(cells_b)), len(set(cells_b) - set(cells_a))
