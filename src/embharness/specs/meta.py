"""Translate a ``ModelSpec`` into mteb's ``ModelMeta``.

A model mteb's registry knows starts from mteb's own entry (the one the leaderboard reads), with
only the run's identity overridden: ``embed_dim`` (Matryoshka dims), ``experiment_kwargs`` and
``revision`` when the run pinned another one. Other models are described from the spec.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mteb.models import ModelMeta

    from embharness.specs.spec import ModelSpec

_LANGUAGE_CODES = {"python": "python-Code", "eng": "eng-Latn"}


@lru_cache(maxsize=1)
def _mteb_names() -> frozenset[str]:
    import mteb

    return frozenset(meta.name for meta in mteb.get_model_metas() if meta.name)


def in_mteb_registry(name: str) -> bool:
    """Whether mteb's model registry has an entry named exactly ``name`` (no hub lookup)."""
    return name in _mteb_names()


def mteb_registry_meta(name: str) -> ModelMeta | None:
    """mteb's registered ``ModelMeta`` for ``name``, or None; never fetches from the hub."""
    if not in_mteb_registry(name):
        return None
    import mteb

    return mteb.get_model_meta(name, fetch_from_hf=False)


def _experiment_kwargs(spec: ModelSpec, dim: int | None, extra: dict[str, Any]) -> dict | None:
    kwargs = {k: v for k, v in extra.items() if v is not None}
    if dim is not None and dim != spec.embed_dim:
        kwargs = {"embed_dim": dim, **kwargs}
    return kwargs or None


def _full_dim(meta: ModelMeta) -> int | None:
    dim = meta.embed_dim
    return max(dim) if isinstance(dim, Sequence) else dim


def _from_registry(
    registered: ModelMeta, spec: ModelSpec, dim: int | None, extra: dict[str, Any]
) -> ModelMeta:
    update: dict[str, Any] = {"experiment_kwargs": _experiment_kwargs(spec, dim, extra)}
    wanted = dim or spec.embed_dim
    if wanted != _full_dim(registered):
        update["embed_dim"] = wanted
    if spec.revision != registered.revision:
        update["revision"] = spec.revision
    return registered.model_copy(update=update)


def _from_spec(spec: ModelSpec, dim: int | None, extra: dict[str, Any]) -> ModelMeta:
    from mteb.models import ModelMeta
    from mteb.models.model_meta import ScoringFunction

    return ModelMeta(
        loader=None,
        name=spec.name,
        revision=spec.revision,
        release_date=spec.release_date,
        languages=[_LANGUAGE_CODES.get(lang, lang) for lang in spec.languages] or None,
        n_parameters=spec.n_parameters,
        memory_usage_mb=None,
        max_tokens=spec.max_tokens,
        embed_dim=dim or spec.embed_dim,
        license=spec.license,
        open_weights=True,
        public_training_code=None,
        public_training_data=None,
        framework=["PyTorch"],
        reference=spec.reference,
        similarity_fn_name=ScoringFunction(spec.similarity),
        use_instructions=spec.prompts.has_instructions,
        training_datasets=set(spec.training_datasets) if spec.training_datasets else None,
        adapted_from=spec.adapted_from,
        experiment_kwargs=_experiment_kwargs(spec, dim, extra),
    )


def build_model_meta(spec: ModelSpec, dim: int | None, extra: dict[str, Any]) -> ModelMeta:
    """Build the mteb ``ModelMeta``; ``dim`` other than the full dim becomes an experiment.

    Starts from mteb's registry entry when mteb knows ``spec.name``, else from the spec.
    """
    registered = mteb_registry_meta(spec.name)
    if registered is not None:
        return _from_registry(registered, spec, dim, extra)
    return _from_spec(spec, dim, extra)
