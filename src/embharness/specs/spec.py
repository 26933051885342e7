"""A model spec: everything needed to run a model exactly as its authors do, as data."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from mteb.models import ModelMeta

Side = Literal["query", "document"]
SIDES: tuple[Side, Side] = ("query", "document")


@dataclass(frozen=True)
class PromptPair:
    """The instruction prefixes for one task type: query side and document side."""

    query: str
    document: str

    def for_side(self, side: Side) -> str:
        """The prefix used on ``side``."""
        return self.query if side == "query" else self.document


@dataclass(frozen=True)
class ModelSpec:
    """A model, compatible with mteb's ``ModelMeta``, plus the rules that shape its inputs.

    ``prompt_types`` maps a prompt type (e.g. ``nl2code``) to its prefix pair;
    ``task_prompt_types`` maps an mteb task name to a prompt type (the paper's table);
    ``adapters`` maps (mteb task type, side) to a LoRA task adapter (jina-embeddings-v3);
    ``adapter_instructions`` maps an adapter to the instruction prepended to its inputs;
    ``task_adapters`` maps (mteb task name, side) to an adapter the user opted into, looked up
    before ``adapters`` (mteb's order: task name before task type).
    ``dtype`` is the dtype the published figures were made in (``dtype_source`` says why);
    ``strip_whitespace`` strips the prompted text as sentence-transformers does
    (``strip_source`` gives the evidence). ``code_repo``/``code_revision`` pin remote modeling
    code that lives outside the model's own repository.
    """

    name: str
    revision: str | None
    loader: str
    embed_dim: int
    matryoshka_dims: tuple[int, ...]
    max_tokens: int
    default_max_length: int
    pooling: str
    license: str
    n_parameters: int | None = None
    similarity: str = "cosine"
    languages: tuple[str, ...] = ()
    reference: str | None = None
    trust_remote_code: bool = False
    padding_side: str = "right"
    prompt_types: dict[str, PromptPair] = field(default_factory=dict)
    task_prompt_types: dict[str, str] = field(default_factory=dict)
    adapters: dict[tuple[str, Side], str] = field(default_factory=dict)
    adapter_instructions: dict[str, str] = field(default_factory=dict)
    adapter_names: tuple[str, ...] = ()
    task_adapters: dict[tuple[str, Side], str] = field(default_factory=dict)
    dtype: str = "float32"
    dtype_source: str = "sentence-transformers and transformers load float32 by default"
    strip_whitespace: bool = False
    strip_source: str = "transformers tokenizers take the text as given"
    code_repo: str | None = None
    code_revision: str | None = None
    local_path: str | None = None
    sources: tuple[str, ...] = ()
    # Leaderboard metadata for models mteb's registry lacks (registered ones use mteb's entry).
    release_date: str | None = None
    adapted_from: str | None = None
    training_datasets: frozenset[str] | None = None

    @property
    def dims(self) -> tuple[int, ...]:
        """Every dim the model can produce: its Matryoshka dims, always including the full dim."""
        return tuple(sorted({*self.matryoshka_dims, self.embed_dim}))

    def with_local_path(self, path: str) -> ModelSpec:
        """The same spec, loading weights and tokenizer from a local folder."""
        return replace(self, local_path=path)

    def to_model_meta(self, dim: int | None = None, **experiment: object) -> ModelMeta:
        """An mteb ``ModelMeta`` for this spec at ``dim`` (an experiment when not full dim)."""
        from embharness.specs.meta import build_model_meta

        return build_model_meta(self, dim, dict(experiment))
