"""Specs for models the registry doesn't know: any sentence-transformers or Hugging Face model."""

from __future__ import annotations

import json
from pathlib import Path

from embharness.errors import HarnessError
from embharness.specs.spec import ModelSpec

GENERIC_PREFIXES = {"st:": "sentence_transformers", "hf:": "hf_auto"}
GENERIC_STRIP_SOURCES = {
    True: "sentence-transformers' Transformer module strips every text before tokenizing",
    False: "a plain transformers tokenizer takes the text as given",
}


def _read_json(path: Path) -> dict:
    try:
        data: dict = json.loads(path.read_text())
        return data
    except (OSError, ValueError):
        return {}


def local_embed_dim(folder: Path) -> int | None:
    """The output size of a local checkpoint, from its config files."""
    for dense in sorted(folder.glob("*_Dense/config.json")):
        out = _read_json(dense).get("out_features")
        if out:
            return int(out)
    return _read_json(folder / "config.json").get("hidden_size")


def _loader_for(folder: Path | None, explicit: str | None) -> str:
    if explicit:
        return explicit
    if folder is not None and (folder / "modules.json").exists():
        return "sentence_transformers"
    return "sentence_transformers" if folder is None else "hf_auto"


def generic_spec(
    ref: str, revision: str | None = None, embed_dim: int | None = None, pooling: str = "mean"
) -> ModelSpec:
    """A spec for ``st:NAME``, ``hf:NAME``, a bare hub name, or a local folder path."""
    explicit = next((loader for p, loader in GENERIC_PREFIXES.items() if ref.startswith(p)), None)
    name = ref.split(":", 1)[1] if explicit else ref
    folder = Path(name) if Path(name).is_dir() else None
    dim = embed_dim or (local_embed_dim(folder) if folder else None)
    if dim is None:
        raise HarnessError(
            f"cannot tell the output size of generic model {ref!r}",
            "give `embed_dim:` in the sweep file, or point at a local folder with a config.json",
        )
    loader = _loader_for(folder, explicit)
    strip = loader == "sentence_transformers"
    return ModelSpec(
        # mteb names models organization/name: a local folder is local/<folder name>.
        name=f"local/{folder.resolve().name}" if folder else name,
        revision="local" if folder and revision is None else revision,
        loader=loader,
        embed_dim=int(dim),
        matryoshka_dims=(),
        max_tokens=512,
        default_max_length=512,
        pooling=pooling,
        license="not specified",  # mteb's word for it
        local_path=str(folder.resolve()) if folder else None,
        strip_whitespace=strip,
        strip_source=GENERIC_STRIP_SOURCES[strip],
    )
