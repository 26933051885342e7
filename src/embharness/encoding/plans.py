"""What reaches the model for a task and side (prefix, adapter, prompt type): the prompt table."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from embharness.specs.spec import ModelSpec, Prompt, PromptTable, Side, lookup_keys

if TYPE_CHECKING:
    from mteb import TaskMetadata


@dataclass(frozen=True)
class EncodingPlan:
    """How one side of one task is encoded; recorded with every result and part of the cache key.

    ``harness_chosen`` is True where no author's table covers the task and the harness picked
    the prompt (``source`` says which rule and why). ``strip`` strips each prompted text, as
    sentence-transformers does (``prefix + text``, then ``str.strip``).
    """

    side: Side
    prompt_type: str | None
    prefix: str
    adapter: str | None
    source: str
    harness_chosen: bool = False
    strip: bool = False

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return asdict(self)

    def model_input(self, text: str) -> str:
        """The exact string the tokenizer sees for ``text``."""
        prompted = self.prefix + text
        return prompted.strip() if self.strip else prompted


def side_for(prompt_type: object) -> Side:
    """Map mteb's ``PromptType`` (query, document or None for symmetric tasks) to a side."""
    value = getattr(prompt_type, "value", prompt_type)
    return "document" if value == "document" else "query"


def is_code_task(metadata: TaskMetadata) -> bool:
    """True for a code task: ``Programming`` among its domains or a ``-Code`` language."""
    languages = metadata.languages if hasattr(metadata, "languages") else []
    return "Programming" in (metadata.domains or []) or any(
        lang.endswith("-Code") for lang in languages
    )


def lookup(table: PromptTable, metadata: TaskMetadata, side: Side) -> tuple[Prompt, str]:
    """The row for ``side`` of the task and where it was found, in the table's lookup order."""
    code = is_code_task(metadata) if table.code_rows else False
    for key in lookup_keys(metadata.name, metadata.type, side):
        if code and key in table.code_rows:
            return table.code_rows[key], f"prompt table (code tasks): {key}"
        if key in table.rows:
            return table.rows[key], f"prompt table: {key}"
    return table.default, "prompt table: default"


def resolve_plan(spec: ModelSpec, metadata: TaskMetadata, side: Side) -> EncodingPlan:
    """Resolve the prefix, adapter and whitespace rule for ``side`` of the task ``metadata``."""
    return replace(_prompt_plan(spec.prompts, metadata, side), strip=spec.strip_whitespace)


def _prompt_plan(table: PromptTable, metadata: TaskMetadata, side: Side) -> EncodingPlan:
    if table.is_empty:
        return EncodingPlan(side, None, "", None, "model takes no prompt")
    prompt, source = lookup(table, metadata, side)
    reason = prompt.harness_reason
    if reason is not None:
        source = f"{source}; {reason.format(task=metadata.name, type=metadata.type)}"
    chosen = reason is not None
    return EncodingPlan(side, prompt.prompt_type, prompt.prefix, prompt.adapter, source, chosen)
