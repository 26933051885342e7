"""The stages of ``embharness rerank``: first stages and rerankers, named and loaded.

A first stage is ``bm25`` (mteb's own BM25, ``specs.rerankers``) or ``MODEL[@dim][:precision]``,
a harness embedding model whose vectors come from the embedding cache (a precision other than
float32 is ranked by the precision grid's quantised index, ``run.grid``). A reranker is
``bi:MODEL[@dim]`` (the same embedding path, mteb's ``SearchEncoderWrapper`` reranks the
candidates), a cross-encoder in mteb's registry (its baselines need no weights) or any
sentence-transformers ``CrossEncoder`` name through mteb's ``CrossEncoderWrapper``. Weights that
are neither cached nor reachable on the hub fail with one line (``hub.ensure_available``).
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from embharness.encoding.bridge import HarnessEncoder, LazyBackend, build_encoder
from embharness.encoding.cache import EmbeddingCache
from embharness.encoding.quantize import PRECISIONS, check_precision
from embharness.errors import HarnessError
from embharness.hub import ensure_available
from embharness.models.backend import Backend
from embharness.models.loading import load_backend
from embharness.run.cell_identity import cell_model_meta
from embharness.run.cells import PreparedModel, prepare_model
from embharness.run.grid import grid_identity, grid_search
from embharness.run.sweep import Settings, TaskEntry, parse_sweep
from embharness.specs.rerankers import BI_ENCODER_PREFIX, FIRST_STAGE_ALIASES, RERANKER_ALIASES

if TYPE_CHECKING:
    from mteb.models import ModelMeta

FIRST_STAGE_FIX = (
    "pass --first-stage bm25 or MODEL[@dim][:precision] with MODEL from `embharness models` "
    f"(or st:NAME / hf:NAME) and precision one of {', '.join(PRECISIONS)}"
)


@dataclass
class Stage:
    """A stage ready for ``mteb.evaluate``: the model mteb scores and how it is named."""

    model: Any
    name: str
    revision: str | None
    kind: str
    dim: int | None = None
    precision: str | None = None
    identity: str = ""
    encoder: HarnessEncoder | None = None
    prepared: PreparedModel | None = None


def _dense(
    ref: str, task: TaskEntry, cache: EmbeddingCache | None, batch_size: int, precision: str
) -> Stage:
    """A harness embedding model at ``MODEL[@dim]`` as a stage (weights load on first miss)."""
    name, dim = _split_dim(ref)
    model = {"name": name, **({"dims": [dim]} if dim else {})}
    sweep = parse_sweep({"settings": {"batch_size": batch_size}, "models": [model], "tasks": ["_"]})
    prepared = prepare_model(sweep.models[0])
    dim = prepared.dims[0]  # the one dim asked for, else the full dim
    extra = grid_identity(precision, _rescore_k()) if precision != "float32" else {}
    meta = cell_model_meta(prepared, task, dim, **extra)
    backend = LazyBackend(prepared.info, functools.partial(_load, prepared))
    encoder = build_encoder(
        prepared.spec,
        backend,
        dim,
        batch_size=batch_size,
        meta=meta,
        cache=cache,
        max_length=task.max_length or prepared.info.max_length,
    )
    spec = prepared.spec
    return Stage(
        encoder, spec.name, spec.revision, "bi-encoder", dim, precision, "", encoder, prepared
    )


def _load(model: PreparedModel) -> Backend:
    if not model.info.weights_hash:
        ensure_available(model.spec.name, model.spec.revision)
    return load_backend(model.spec, model.load)


def _split_dim(ref: str) -> tuple[str, int | None]:
    name, at, dim = ref.rpartition("@")
    if at and dim.isdigit():
        return name, int(dim)
    return ref, None


def first_stage(
    ref: str, task: TaskEntry, cache: EmbeddingCache | None, batch_size: int = 32
) -> Stage:
    """The first stage ``ref`` names: ``bm25`` or ``MODEL[@dim][:precision]``."""
    name = FIRST_STAGE_ALIASES.get(ref, ref)
    if name in FIRST_STAGE_ALIASES.values():
        stage = _mteb_stage(name, None, "lexical")
        stage.identity = _sanitised(f"{stage.name}@{stage.revision}")
        return stage
    body, colon, suffix = ref.rpartition(":")
    precision = suffix if colon and suffix in PRECISIONS else "float32"
    body = body if colon and suffix in PRECISIONS else ref
    check_precision(precision)
    try:
        stage = _dense(body, task, cache, batch_size, precision)
    except HarnessError as exc:
        raise HarnessError(f"first stage {ref!r}: {exc.problem}", FIRST_STAGE_FIX) from exc
    stage.identity = _dense_identity(stage, task)
    if precision != "float32":
        from embharness.tasks.registry import get_task

        # grid_search checks the task's type only: its metadata object does.
        stage.model = grid_search(stage.encoder, get_task(task.name), precision, _rescore_k())
    return stage


def _rescore_k() -> int:
    """Hamming candidates a binary-rescore first stage rescores (the sweep default)."""
    return Settings().rescore_top_k


def _dense_identity(stage: Stage, task: TaskEntry) -> str:
    """``<org>__<model>@<rev8>-d<dim>-<precision>[-r<rescore k>][-x<hash of other settings>]``."""
    assert stage.prepared is not None and stage.dim is not None
    revision = (stage.revision or "unpinned")[:8]
    label = f"{stage.name}@{revision}-d{stage.dim}-{stage.precision}"
    if stage.precision == "binary-rescore":
        label += f"-r{_rescore_k()}"
    kwargs = cell_model_meta(stage.prepared, task, stage.dim).experiment_kwargs or {}
    other = {k: v for k, v in kwargs.items() if k not in ("embed_dim", "max_samples")}
    if other:
        digest = hashlib.sha256(json.dumps(other, sort_keys=True).encode()).hexdigest()[:8]
        label += f"-x{digest}"
    return _sanitised(label)


def _sanitised(label: str) -> str:
    """A folder-safe label: the model's ``/`` as mteb's folder rule writes it (``__``)."""
    return label.replace("/", "__")


def _mteb_stage(name: str, revision: str | None, kind: str) -> Stage:
    """A model from mteb's registry; weights are checked for unless it has none (baselines)."""
    import mteb

    meta = mteb.get_model_meta(name, revision=revision, fetch_from_hf=False)
    if meta.n_parameters != 0:
        ensure_available(name, revision or meta.revision)
    model = mteb.get_model(name, revision=revision or meta.revision)
    return Stage(model, name, revision or meta.revision, kind)


def reranker_stage(
    ref: str,
    task: TaskEntry,
    cache: EmbeddingCache | None,
    batch_size: int = 32,
    revision: str | None = None,
) -> Stage:
    """The reranker ``ref`` names: ``bi:MODEL[@dim]``, an mteb cross-encoder (``random``,
    ``no-rerank`` or a registry name) or any sentence-transformers ``CrossEncoder`` name."""
    from embharness.specs.meta import in_mteb_registry

    if ref.startswith(BI_ENCODER_PREFIX):
        return _dense(ref.removeprefix(BI_ENCODER_PREFIX), task, cache, batch_size, "float32")
    name = RERANKER_ALIASES.get(ref, ref)
    if in_mteb_registry(name):
        _check_cross_encoder(name)
        return _mteb_stage(name, revision, "cross-encoder")
    from mteb.models.sentence_transformer_wrapper import CrossEncoderWrapper

    ensure_available(name, revision)
    return Stage(CrossEncoderWrapper(name, revision=revision), name, revision, "cross-encoder")


def _check_cross_encoder(name: str) -> None:
    import mteb

    types = mteb.get_model_meta(name, fetch_from_hf=False).model_type or []
    if "cross-encoder" not in types:
        raise HarnessError(
            f"reranker {name!r} is not a cross-encoder in mteb's registry",
            f"use --reranker {BI_ENCODER_PREFIX}{name} to rerank with it as a bi-encoder",
        )


def reranker_meta(reranker: Stage, task: TaskEntry, extra: dict[str, Any]) -> ModelMeta:
    """The reranker's ``ModelMeta`` with the first stage in its experiment (the result key)."""
    if reranker.prepared is not None and reranker.dim is not None:
        return cell_model_meta(reranker.prepared, task, reranker.dim, **extra)
    meta: ModelMeta = reranker.model.mteb_model_meta
    kwargs = {**extra, "max_samples": task.max_samples}
    update = {"experiment_kwargs": {k: v for k, v in kwargs.items() if v is not None}}
    return meta.model_copy(update={**update, "revision": reranker.revision})
