"""A lazy registry of model specs: names map to ``module:attribute`` strings, imported on use."""

from __future__ import annotations

import difflib
import importlib
from dataclasses import replace
from typing import TYPE_CHECKING

from embharness.errors import HarnessError
from embharness.specs.generic import GENERIC_PREFIXES, generic_spec
from embharness.specs.spec import ModelSpec

if TYPE_CHECKING:
    from mteb.models import ModelMeta

_REGISTRY: dict[str, str] = {
    "jinaai/jina-code-embeddings-0.5b": "embharness.specs.jina_code:JINA_CODE_05B",
    "jinaai/jina-code-embeddings-1.5b": "embharness.specs.jina_code:JINA_CODE_15B",
    "jinaai/jina-embeddings-v3": "embharness.specs.jina_v3:JINA_V3",
    "sentence-transformers/all-MiniLM-L6-v2": "embharness.specs.minilm:MINILM",
}


def registered_names() -> list[str]:
    """Names of every registered model."""
    return sorted(_REGISTRY)


def _load(target: str) -> ModelSpec:
    module_name, attr = target.split(":")
    spec: ModelSpec = getattr(importlib.import_module(module_name), attr)
    return spec


def get_spec(
    ref: str,
    *,
    revision: str | None = None,
    local_path: str | None = None,
    embed_dim: int | None = None,
    code_revision: str | None = None,
) -> ModelSpec:
    """Resolve a model reference to its spec.

    Registered names give their spec (with ``revision``/``local_path`` overrides); ``st:NAME``
    and ``hf:NAME`` give a generic spec. Anything else is an error with a suggestion.
    """
    if ref in _REGISTRY:
        spec = _load(_REGISTRY[ref])
        if revision:
            spec = replace(spec, revision=revision)
        if code_revision:
            spec = replace(spec, code_revision=code_revision)
        return spec.with_local_path(local_path) if local_path else spec
    if any(ref.startswith(p) for p in GENERIC_PREFIXES):
        return generic_spec(ref, revision=revision, embed_dim=embed_dim)
    close = difflib.get_close_matches(ref, list(_REGISTRY), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise HarnessError(
        f"unknown model {ref!r}",
        f"{hint}run `embharness models` for registered names, or use st:NAME / hf:NAME "
        "for any sentence-transformers or Hugging Face model",
    )


def model_meta_for(name: str) -> ModelMeta | None:
    """The mteb ``ModelMeta`` of a registered model at full dim, or None if unregistered."""
    return get_spec(name).to_model_meta() if name in _REGISTRY else None


def registered_spec(name: str) -> ModelSpec | None:
    """The registry's own spec for ``name`` (no overrides), or None when unregistered."""
    return _load(_REGISTRY[name]) if name in _REGISTRY else None
