"""Translate a ``ModelSpec`` into mteb's ``ModelMeta``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mteb.models import ModelMeta

    from embharness.specs.spec import ModelSpec

_LANGUAGE_CODES = {"python": "python-Code", "eng": "eng-Latn"}


def _experiment_kwargs(spec: ModelSpec, dim: int | None, extra: dict[str, Any]) -> dict | None:
    kwargs = {k: v for k, v in extra.items() if v is not None}
    if dim is not None and dim != spec.embed_dim:
        kwargs = {"embed_dim": dim, **kwargs}
    return kwargs or None


def build_model_meta(spec: ModelSpec, dim: int | None, extra: dict[str, Any]) -> ModelMeta:
    """Build the mteb ``ModelMeta``; ``dim`` other than the full dim becomes an experiment."""
    from mteb.models import ModelMeta

    return ModelMeta(
        loader=None,
        name=spec.name,
        revision=spec.revision,
        release_date=None,
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
        similarity_fn_name=spec.similarity,
        use_instructions=bool(spec.prompt_types or spec.adapter_instructions),
        training_datasets=None,
        experiment_kwargs=_experiment_kwargs(spec, dim, extra),
    )
