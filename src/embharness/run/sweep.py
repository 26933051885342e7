"""Declarative sweep files (evals/*.yaml): models × tasks × Matryoshka dims, validated on load."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from embharness.errors import HarnessError
from embharness.models.attention import check_attn_implementation
from embharness.run.ann import check_search_params
from embharness.run.late_chunk_search import check_chunking, check_combination
from embharness.run.search import EXACT_SEARCHES

SETTING_KEYS = {
    "batch_size",
    "max_batch_tokens",
    "dtype",
    "max_length",
    "max_samples",
    "device",
    "search",
    "search_params",
    "attn_implementation",
    "precisions",
    "rescore_top_k",
    "chunking",
    "chunking_params",
}
SEARCH_BACKENDS = (*EXACT_SEARCHES, "faiss-hnsw", "faiss-ivfpq")
MODEL_KEYS = SETTING_KEYS | {
    "name",
    "dims",
    "revision",
    "path",
    "adapter",
    "merge_adapter",
    "embed_dim",
    "trust_remote_code",
    "task_max_length",
    "code_revision",
    "task_adapters",
    "strip_whitespace",
}
TASK_KEYS = {"name", "splits", "subsets", "languages", "max_length", "max_samples"}
TOP_KEYS = {"name", "description", "settings", "models", "tasks", "groups", "launcher"}


@dataclass(frozen=True)
class Settings:
    """Run settings; model entries may override them.

    ``max_batch_tokens`` caps each batch's padded tokens (longest text × rows), with
    ``batch_size`` still the row cap; None: every batch has ``batch_size`` rows. Both None
    (the default): the device's batching, ``models.device.DEVICE_BATCHING`` (128 rows and
    32,768 tokens on CUDA, 32 rows on CPU); a ``batch_size`` alone keeps count-based batches.

    ``search`` picks how Retrieval tasks rank the corpus: ``torch`` (default), an exact
    ``torch.topk`` index on the encoder's device given to mteb as its index backend; ``mteb``,
    mteb's own chunked search with a Python heap merge; ``faiss``, an exact ``IndexFlatIP``;
    or an ANN index (``faiss-hnsw``, ``faiss-ivfpq``). The exact three score the same, so they
    name no experiment folder; torch is the fastest measured (benchmarks/bench_search.py).

    ``attn_implementation``: ``auto`` (flash-attention 2 where it can run, else sdpa), ``sdpa``,
    ``eager`` or ``flash_attention_2`` (``embharness.models.attention``).
    """

    batch_size: int | None = None
    max_batch_tokens: int | None = None
    dtype: str = "auto"
    max_length: int | None = None
    max_samples: int | None = None
    device: str | None = None
    search: str = "torch"
    # ANN backends' parameters, defaults filled (run/ann.py); None for exact search.
    search_params: dict[str, int] | None = None
    attn_implementation: str = "auto"
    # Precision grid (run/grid.py): extra points from the cached float32 vectors.
    precisions: tuple[str, ...] = ("float32",)
    rescore_top_k: int = 40
    # Long documents (run/late_chunk_search.py): truncate, chunk_then_embed or late; params
    # (chunk_tokens, overlap, max_length) with defaults filled, None for truncate.
    chunking: str = "truncate"
    chunking_params: dict[str, int] | None = None

    def merged(self, overrides: dict[str, Any]) -> Settings:
        """These settings with the non-null overrides applied."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update({k: v for k, v in overrides.items() if k in SETTING_KEYS and v is not None})
        for key in ("batch_size", "max_batch_tokens"):
            _check_positive(key, values[key])
        if values["search"] not in SEARCH_BACKENDS:
            raise HarnessError(
                f"search must be one of {', '.join(SEARCH_BACKENDS)}, got {values['search']!r}",
                "e.g. search: torch (exact torch top-k), mteb (mteb's own search) or faiss",
            )
        if "search" in overrides and "search_params" not in overrides:
            values["search_params"] = None  # another backend: its own defaults
        values["search_params"] = check_search_params(values["search"], values["search_params"])
        check_attn_implementation(values["attn_implementation"])
        values["precisions"] = _check_precisions(values["precisions"])
        _check_positive("rescore_top_k", values["rescore_top_k"])
        if "chunking" in overrides and "chunking_params" not in overrides:
            values["chunking_params"] = None  # another mode: its own defaults
        values["chunking_params"] = check_chunking(values["chunking"], values["chunking_params"])
        check_combination(values["chunking"], values["search"], values["precisions"])
        return Settings(**values)


def _check_precisions(raw: Any) -> tuple[str, ...]:
    """The grid's precisions as a tuple, each one known (one-line error otherwise)."""
    from embharness.encoding.quantize import check_precision

    if isinstance(raw, str) or not isinstance(raw, list | tuple) or not raw:
        raise HarnessError(
            f"precisions must be a non-empty list, got {raw!r}",
            "e.g. precisions: [float32, int8, ubinary, binary-rescore]",
        )
    for precision in raw:
        check_precision(str(precision))
    return tuple(dict.fromkeys(str(p) for p in raw))


def _check_positive(key: str, value: Any) -> None:
    """``value`` is None (allowed for the batching keys: the device's default) or a positive
    integer."""
    if value is None and key in ("batch_size", "max_batch_tokens"):
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise HarnessError(
            f"{key} must be a positive integer, got {value!r}",
            f"e.g. {key}: {32 if key == 'batch_size' else 16384}",
        )


@dataclass(frozen=True)
class ModelEntry:
    """One model of a sweep."""

    name: str
    dims: tuple[int, ...] = ()
    revision: str | None = None
    path: str | None = None
    adapter: str | None = None
    merge_adapter: bool = False
    embed_dim: int | None = None
    trust_remote_code: bool = False
    task_max_length: dict[str, int] = field(default_factory=dict)
    code_revision: str | None = None
    task_adapters: dict[str, dict[str, str]] = field(default_factory=dict)
    strip_whitespace: bool | None = None
    settings: Settings = Settings()


@dataclass(frozen=True)
class TaskEntry:
    """One task of a sweep."""

    name: str
    splits: tuple[str, ...] | None = None
    subsets: tuple[str, ...] | None = None
    languages: tuple[str, ...] | None = None
    max_length: int | None = None
    max_samples: int | None = None


@dataclass(frozen=True)
class Sweep:
    """A validated sweep file."""

    name: str
    models: tuple[ModelEntry, ...]
    tasks: tuple[TaskEntry, ...]
    settings: Settings
    source: Path | None = None
    description: str = ""
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    launcher: dict[str, Any] = field(default_factory=dict)  # launchers/settings.py checks it


def _fail(where: str, problem: str, fix: str) -> HarnessError:
    return HarnessError(f"{where}: {problem}", fix)


def _check_keys(where: str, entry: dict, allowed: set[str]) -> None:
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise _fail(
            where,
            f"unknown key(s) {', '.join(unknown)}",
            f"allowed keys are {', '.join(sorted(allowed))}",
        )


def _as_entry(where: str, raw: Any) -> dict:
    if isinstance(raw, str):
        return {"name": raw}
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise _fail(
            where,
            "each entry must be a name or a mapping with a `name`",
            "write `- name: ...` entries",
        )
    return raw


def _tuple(value: Any) -> tuple | None:
    return None if value is None else tuple(value if isinstance(value, list) else [value])


def _parse_settings(where: str, raw: Any) -> Settings:
    raw = raw or {}
    _check_keys(where, raw, SETTING_KEYS)
    try:
        return Settings().merged(raw)
    except TypeError as exc:
        raise _fail(where, str(exc), "fix the settings block") from exc


def _parse_dims(where: str, raw: Any) -> tuple[int, ...]:
    dims = _tuple(raw) or ()
    if not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in dims):
        raise _fail(where, f"dims must be positive integers, got {raw!r}", "e.g. dims: [64, 128]")
    return tuple(dims)


def _parse_task_adapters(where: str, raw: Any) -> dict[str, dict[str, str]]:
    """``{Task: adapter}`` (both sides) or ``{Task: {query: a, document: b}}``."""
    example = "e.g. task_adapters: {Core17InstructionRetrieval: {query: retrieval.query}}"
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _fail(where, "must map task names to adapters", example)
    parsed = {}
    for task, choice in raw.items():
        sides = {"query": choice, "document": choice} if isinstance(choice, str) else choice
        if not isinstance(sides, dict) or not sides or set(sides) - {"query", "document"}:
            raise _fail(
                f"{where}.{task}", "give an adapter or {query: ..., document: ...}", example
            )
        parsed[str(task)] = {str(side): str(adapter) for side, adapter in sides.items()}
    return parsed


def _parse_optional_bool(where: str, raw: Any) -> bool | None:
    if raw is None or isinstance(raw, bool):
        return raw
    raise _fail(where, f"must be true or false, got {raw!r}", "write true or false")


def _parse_model(index: int, raw: Any, base: Settings) -> ModelEntry:
    where = f"models[{index}]"
    entry = _as_entry(where, raw)
    _check_keys(where, entry, MODEL_KEYS)
    return ModelEntry(
        name=entry["name"],
        dims=_parse_dims(f"{where}.dims", entry.get("dims")),
        revision=entry.get("revision"),
        path=entry.get("path"),
        adapter=entry.get("adapter"),
        merge_adapter=bool(entry.get("merge_adapter", False)),
        embed_dim=entry.get("embed_dim"),
        trust_remote_code=bool(entry.get("trust_remote_code", False)),
        task_max_length=dict(entry.get("task_max_length") or {}),
        code_revision=entry.get("code_revision"),
        task_adapters=_parse_task_adapters(f"{where}.task_adapters", entry.get("task_adapters")),
        strip_whitespace=_parse_optional_bool(
            f"{where}.strip_whitespace", entry.get("strip_whitespace")
        ),
        settings=base.merged(entry),
    )


def _parse_task(index: int, raw: Any) -> TaskEntry:
    where = f"tasks[{index}]"
    entry = _as_entry(where, raw)
    _check_keys(where, entry, TASK_KEYS)
    return TaskEntry(
        name=entry["name"],
        splits=_tuple(entry.get("splits")),
        subsets=_tuple(entry.get("subsets")),
        languages=_tuple(entry.get("languages")),
        max_length=entry.get("max_length"),
        max_samples=entry.get("max_samples"),
    )


def _expand_groups(raw_tasks: list, groups: dict[str, list]) -> list:
    expanded = []
    for item in raw_tasks:
        if isinstance(item, str) and item.startswith("@"):
            if item[1:] not in groups:
                raise _fail(
                    "tasks", f"unknown group {item}", f"define it under `groups: {item[1:]}:`"
                )
            expanded.extend(groups[item[1:]])
        else:
            expanded.append(item)
    return expanded


def parse_sweep(data: Any, source: Path | None = None) -> Sweep:
    """Validate a parsed YAML document into a ``Sweep`` (names are checked by the runner)."""
    from embharness.run.launchers.settings import check_block

    where = str(source or "sweep")
    if not isinstance(data, dict):
        raise _fail(
            where, "a sweep file must be a mapping", "see evals/offline.yaml for the format"
        )
    _check_keys(where, data, TOP_KEYS)
    for key in ("models", "tasks"):
        if not isinstance(data.get(key), list) or not data[key]:
            raise _fail(where, f"`{key}` must be a non-empty list", f"add a `{key}:` list")
    settings = _parse_settings(f"{where}: settings", data.get("settings"))
    groups = data.get("groups") or {}
    raw_tasks = _expand_groups(data["tasks"], groups)
    return Sweep(
        name=str(data.get("name") or (source.stem if source else "sweep")),
        models=tuple(_parse_model(i, m, settings) for i, m in enumerate(data["models"])),
        tasks=tuple(_parse_task(i, t) for i, t in enumerate(raw_tasks)),
        settings=settings,
        source=source,
        description=str(data.get("description", "")),
        groups={
            name: tuple(_as_entry(f"groups.{name}", t)["name"] for t in items)
            for name, items in groups.items()
        },
        launcher=check_block(where, data.get("launcher")),
    )


def load_sweep(path: Path) -> Sweep:
    """Read and validate a sweep file."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise HarnessError(
            f"cannot read sweep file {path}: {exc.strerror}",
            "check the path (sweeps live in evals/)",
        ) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark else ""
        raise HarnessError(
            f"{path} is not valid YAML{line}: {getattr(exc, 'problem', exc)}", "fix the YAML syntax"
        ) from exc
    return parse_sweep(data, path)
