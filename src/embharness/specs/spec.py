"""A model spec: everything needed to run a model exactly as its authors do, as data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

from embharness.errors import HarnessError

if TYPE_CHECKING:
    from mteb.models import ModelMeta

Side = Literal["query", "document"]
SIDES: tuple[Side, Side] = ("query", "document")


@dataclass(frozen=True)
class PromptPair:
    """The instruction prefixes for one prompt type: query side and document side."""

    query: str
    document: str

    def for_side(self, side: Side) -> str:
        """The prefix used on ``side``."""
        return self.query if side == "query" else self.document


@dataclass(frozen=True)
class Prompt:
    """What one side of a task is encoded with: a text prefix, a LoRA adapter, a prompt type.

    ``harness_reason`` is set on rows no author's table gives (the harness chose them); it may
    name the task and its type as ``{task}`` and ``{type}``.
    """

    prefix: str = ""
    adapter: str | None = None
    prompt_type: str | None = None
    harness_reason: str | None = None


@dataclass(frozen=True)
class PromptTable:
    """A model's prompts: mteb's ``model_prompts`` with :class:`Prompt` values, one lookup order.

    For side S (``query`` or ``document``) of a task named N of type T, the first key present
    wins, in mteb's documented precedence (``mteb.models.abs_encoder.get_prompt_name``):

    1. ``"N-S"``  2. ``"N"``  3. ``"T-S"``  4. ``"T"``  5. ``"S"``  6. ``default``.

    ``code_rows`` hold rows for code tasks only (``Programming`` among the task's domains, or a
    language ending in ``-Code``): on a code task, at each key, a row of ``code_rows`` wins over
    a row of ``rows`` with the same key, and never over a row found at an earlier key.
    """

    rows: Mapping[str, Prompt] = field(default_factory=dict)
    code_rows: Mapping[str, Prompt] = field(default_factory=dict)
    default: Prompt = Prompt()

    @property
    def is_empty(self) -> bool:
        """True when every input is encoded as given (no rows, a default with no prompt)."""
        return not self.rows and not self.code_rows and self.default == Prompt()

    @property
    def has_instructions(self) -> bool:
        """True when some row prepends an instruction (mteb's ``use_instructions``)."""
        prompts = [*self.rows.values(), *self.code_rows.values(), self.default]
        return any(prompt.prefix for prompt in prompts)

    def with_rows(self, rows: Mapping[str, Prompt]) -> PromptTable:
        """The same table with ``rows`` added, replacing rows with the same key."""
        return replace(self, rows={**self.rows, **rows})

    def instruction_for(self, adapter: str) -> str:
        """The instruction the table's rows prepend with ``adapter`` (empty when they add none)."""
        prefixes = {p.prefix for p in self.rows.values() if p.adapter == adapter and p.prefix}
        if len(prefixes) > 1:
            raise HarnessError(
                f"adapter {adapter!r} has {len(prefixes)} different instructions in the table",
                "give every row of one adapter the same prefix",
            )
        return next(iter(prefixes), "")


def lookup_keys(task: str, task_type: str, side: Side) -> tuple[str, ...]:
    """The keys :class:`PromptTable` tries for ``side`` of a task, best first."""
    return (f"{task}-{side}", task, f"{task_type}-{side}", task_type, side)


@dataclass(frozen=True)
class ModelSpec:
    """A model, compatible with mteb's ``ModelMeta``, plus the rules that shape its inputs.

    ``prompts`` gives each task and side its prefix, adapter and prompt type (see
    :class:`PromptTable` for the lookup order); a sweep's per-task adapter opt-ins are
    ``"{task}-{side}"`` rows added on top. ``adapter_names`` lists the model's LoRA adapters.
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
    prompts: PromptTable = field(default_factory=PromptTable)
    adapter_names: tuple[str, ...] = ()
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
