"""``embharness submit``: export a model's results in the public MTEB results repository layout.

Only default runs (full dimension, uncapped) are exported — the results repository takes no
experiment folders. Tasks mteb does not know (the harness's offline tasks) are skipped.
Results made from uncommitted code, capped results, incomplete tasks and partially exported
benchmarks are refused (see ``coverage_gaps``) unless ``allow_partial``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import mteb
from mteb.models.model_meta import ModelMeta
from mteb.results import TaskResult

from embharness.atomic import atomic_write, atomic_write_json, atomic_write_text
from embharness.errors import HarnessError
from embharness.results.runs import Run, load_runs, read_json_or_none, record_value
from embharness.specs.meta import in_mteb_registry, mteb_registry_meta
from embharness.specs.registry import model_meta_for
from embharness.tasks.mteb_facts import benchmark_task_sets, task_or_none

SNIPPET_FILE = "model_meta_snippet.py"
DEFAULT_ONLY_NOTE = (
    "only default runs (full dimension, uncapped) are exported: the public results repository "
    "takes no experiment folders (Matryoshka dims, capped runs)"
)


@dataclass
class Submission:
    """What ``export_submission`` wrote and what it noticed."""

    out_dir: Path
    model: str
    files: list[Path] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)
    touched: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    snippet: Path | None = None


def _default_runs(model: str, results_dir: Path) -> list[Run]:
    runs = load_runs(results_dir)
    chosen = [run for run in runs if run.model == model and run.experiment is None]
    if not chosen:
        have = sorted({run.model for run in runs}) or ["none"]
        raise HarnessError(
            f"no full-dimension default results for {model} in {results_dir}",
            f"evaluate it first; models with results: {', '.join(have)}",
        )
    return chosen


def _refuse_unfit(runs: list[Run]) -> None:
    dirty = [r for r in runs if record_value(r.record, "git", "dirty") is True]
    if dirty:
        sha = record_value(dirty[0].record, "git", "sha") or "unknown sha"
        raise HarnessError(
            f"{len(dirty)} result(s) were produced with uncommitted local changes "
            f"(e.g. {dirty[0].task} at {sha[:12]}, dirty)",
            "commit your changes and re-run those tasks before submitting",
        )
    capped = [r for r in runs if r.capped]
    if capped:
        raise HarnessError(
            f"{capped[0].task} was run with max_samples={capped[0].max_samples}",
            "re-run it without a sample cap before submitting",
        )


def _bench_line(bench: str, tasks: frozenset[str], exported: set[str], revision: str) -> str:
    absent = sorted(tasks - exported)
    shown = ", ".join(absent[:5]) + (", …" if len(absent) > 5 else "")
    return (
        f"{bench} @ {revision[:12]}: {len(tasks & exported)}/{len(tasks)} tasks (missing {shown})"
    )


def _benchmark_gaps(exported: set[str], revision: str) -> tuple[list[str], list[str]]:
    """(blocking, informational) lines for the benchmarks ``exported`` touches partially.

    A partial benchmark blocks when one of its exported tasks is in no fully exported
    benchmark; e.g. 11 of MTEB(Code, v1)'s 12 tasks block, while the full MTEB(Code, v1) only
    notes that it also touches MTEB(Multilingual, v2) through StackOverflowQA.
    """
    touched = {b: tasks for b, tasks in benchmark_task_sets().items() if tasks & exported}
    complete = {b for b, tasks in touched.items() if tasks <= exported}
    orphans = {t for t in exported if not any(t in touched[b] for b in complete)}
    blocking: list[str] = []
    info: list[str] = []
    for bench, tasks in sorted(touched.items()):
        if bench in complete:
            continue
        line = _bench_line(bench, tasks, exported, revision)
        (blocking if tasks & orphans else info).append(line)
    return blocking, info


def coverage_gaps(runs: list[Run]) -> tuple[list[str], list[str]]:
    """(blocking, informational) coverage problems: incomplete tasks and partial benchmarks."""
    blocking, info = [], []
    for run in runs:
        missing = run.missing_evaluations()
        if missing:
            parts = "; ".join(f"{split}: {', '.join(sorted(s))}" for split, s in missing.items())
            blocking.append(f"{run.task} @ {run.revision[:12]} lacks {parts}")
    for revision in sorted({run.revision for run in runs}):
        exported = {run.task for run in runs if run.revision == revision}
        more_blocking, more_info = _benchmark_gaps(exported, revision)
        blocking += more_blocking
        info += more_info
    return blocking, info


def _registry_meta(model: str) -> ModelMeta | None:
    return model_meta_for(model)


def _model_meta(model: str, revision: str, folder: Path) -> ModelMeta:
    meta = _registry_meta(model)
    if meta is not None:
        return meta.model_copy(update={"revision": revision})
    saved = read_json_or_none(folder / "model_meta.json")
    if saved is not None:
        if saved.get("is_cross_encoder") is False:  # legacy key that to_dict() still writes
            saved.pop("is_cross_encoder")
        return ModelMeta.model_validate_json_resolved(json.dumps(saved))
    raise HarnessError(
        f"no ModelMeta for {model}: not registered and {folder / 'model_meta.json'} is missing",
        "register the model in embharness.specs.registry or re-run it with the harness",
    )


def _export_meta(model: str, revision: str, source: Path) -> dict:
    """The model_meta.json to export: mteb's own entry when mteb knows the model.

    Results written before the harness took mteb's entry carry the spec's metadata, which
    differs from what the leaderboard shows; the registry entry replaces it.
    """
    registered = mteb_registry_meta(model)
    if registered is not None:
        return registered.model_copy(update={"revision": revision}).to_dict()
    saved = read_json_or_none(source / "model_meta.json")
    return saved if saved is not None else _model_meta(model, revision, source).to_dict()


def _writer(data: bytes) -> Callable[[BinaryIO], None]:
    def write(handle: BinaryIO) -> None:
        handle.write(data)

    return write


def _write_revision(runs: list[Run], target: Path, submission: Submission) -> None:
    source = runs[0].path.parent
    meta_json = _export_meta(runs[0].model, runs[0].revision, source)
    atomic_write_json(target / "model_meta.json", meta_json)
    submission.files.append(target / "model_meta.json")
    for run in runs:
        atomic_write(target / run.path.name, _writer(run.path.read_bytes()), mode="wb")
        submission.files.append(target / run.path.name)


def _validate(runs: list[Run], out_dir: Path, model: str) -> None:
    """Load the export back with mteb and check every task and score survived."""
    for run in runs:
        TaskResult.from_disk(out_dir / "results" / run.path.relative_to(run.path.parents[2]))
    loaded = mteb.ResultCache(out_dir).load_results(models=[model], include_remote=False)
    found = {
        (m.model_name, m.model_revision, t.task_name): t.get_score()
        for m in loaded.model_results
        for t in m.task_results
    }
    for run in runs:
        key = (run.model, run.revision, run.task)
        if key not in found or abs(found[key] - run.result.get_score()) > 1e-12:
            raise HarnessError(
                f"mteb could not load {run.task} of {model}@{run.revision[:12]} back from "
                f"{out_dir} (its model_meta.json name/revision may not match the folder)",
                "re-run the model with the harness so model_meta.json matches",
            )


def _variable_name(model: str) -> str:
    """A Python identifier for ``model``: ``org/jina-code-0.5b`` -> ``jina_code_0_5b``."""
    name = re.sub(r"\W", "_", model.split("/")[-1])
    return f"model_{name}" if name[:1].isdigit() or not name else name


def _write_snippet(model: str, revision: str, source: Path, out_dir: Path) -> Path:
    meta = _model_meta(model, revision, source)
    variable = _variable_name(model)
    text = (
        f'"""mteb ModelMeta for {model}, generated by `embharness submit`.\n\n'
        "mteb has no entry for this model; its PR checklist asks for one. Paste this into\n"
        "mteb/models/model_implementations/ and set `loader` to the model's wrapper.\n"
        '"""\n\nfrom mteb.models.model_meta import ModelMeta, ScoringFunction\n\n'
        f"{variable} = {meta.to_python()}\n"
    )
    compile(text, SNIPPET_FILE, "exec")
    path = out_dir / SNIPPET_FILE
    atomic_write_text(path, text)
    return path


def unregistered_note(model: str, snippet: Path) -> str:
    """One line: the leaderboard cannot show ``model`` until mteb has a ModelMeta for it."""
    return (
        f"{model} is not in mteb's model registry, so the leaderboard cannot show it until a "
        f"ModelMeta is added to mteb; wrote {snippet} for that PR"
    )


def export_submission(
    model: str, out_dir: Path, results_dir: Path, allow_partial: bool = False
) -> Submission:
    """Export, validate and, for a model mteb's registry lacks, write the ModelMeta snippet."""
    out_dir = Path(out_dir)
    submission = Submission(out_dir=out_dir, model=model, notes=[DEFAULT_ONLY_NOTE])
    runs = _default_runs(model, Path(results_dir))
    submission.skipped = sorted({r.task for r in runs if task_or_none(r.task) is None})
    runs = [r for r in runs if task_or_none(r.task) is not None]
    if not runs:
        raise HarnessError(
            f"{model} has results only for tasks mteb does not know",
            "evaluate it on mteb tasks to submit",
        )
    _refuse_unfit(runs)
    submission.gaps, submission.touched = coverage_gaps(runs)
    if submission.gaps and not allow_partial:
        raise HarnessError(
            f"incomplete coverage: {submission.gaps[0]}"
            + (f" (and {len(submission.gaps) - 1} more)" if len(submission.gaps) > 1 else ""),
            "evaluate the missing tasks/subsets, or pass --allow-partial to export anyway",
        )
    unknown = sorted({r.task for r in runs if record_value(r.record, "git", "dirty") is None})
    if unknown:
        submission.notes.append(f"git state unknown (no run record) for: {', '.join(unknown)}")
    for revision in sorted({r.revision for r in runs}):
        group = [r for r in runs if r.revision == revision]
        target = out_dir / "results" / model.replace("/", "__") / revision
        _write_revision(group, target, submission)
        if not in_mteb_registry(model):
            submission.snippet = _write_snippet(model, revision, group[0].path.parent, out_dir)
    if submission.snippet is not None:
        submission.notes.append(unregistered_note(model, submission.snippet))
    submission.tasks = sorted({r.task for r in runs})
    _validate(runs, out_dir, model)
    return submission


def format_submission(submission: Submission) -> str:
    """A short human summary of an export."""
    lines = [
        f"exported {len(submission.tasks)} task result(s) of {submission.model} to "
        f"{submission.out_dir / 'results'} (validated with mteb's ResultCache)",
        *(f"note: {note}" for note in submission.notes),
    ]
    if submission.skipped:
        lines.append("skipped (not mteb tasks): " + ", ".join(submission.skipped))
    lines += [f"partial (allowed): {gap}" for gap in submission.gaps]
    lines += [f"also touches (covered elsewhere): {line}" for line in submission.touched]
    lines.append(
        "next: copy the results/ folder into a clone of github.com/embeddings-benchmark/results "
        "and open a pull request"
    )
    return "\n".join(lines)
