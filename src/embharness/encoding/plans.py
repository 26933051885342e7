"""What reaches the model for a task and side: prompt type, prefix and adapter, from tables."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from embharness.specs.spec import ModelSpec, Side

if TYPE_CHECKING:
    from mteb import TaskMetadata

# Fallback prompt type for task-type-prompted models (jina-code) on tasks missing from the
# paper's table, by mteb task type; symmetric code tasks use code2code.
FALLBACK_PROMPT_TYPES = {
    "Retrieval": "nl2code",
    "InstructionRetrieval": "nl2code",
    "Reranking": "qa",
}
SYMMETRIC_CODE_PROMPT_TYPE = "code2code"
SYMMETRIC_TEXT_PROMPT_TYPE = "qa"


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


def _is_code_task(metadata: TaskMetadata) -> bool:
    languages = metadata.languages if hasattr(metadata, "languages") else []
    return "Programming" in (metadata.domains or []) or any(
        lang.endswith("-Code") for lang in languages
    )


def _prompt_type_for(spec: ModelSpec, metadata: TaskMetadata) -> tuple[str, str, bool]:
    """(prompt type, why, harness-chosen) for a task-type-prompted model (jina-code)."""
    if metadata.name in spec.task_prompt_types:
        return spec.task_prompt_types[metadata.name], "task table", False
    outside = f"{metadata.name} is not in the authors' task table"
    if metadata.type in FALLBACK_PROMPT_TYPES:
        reason = f"{outside}; harness fallback for task type {metadata.type}"
        return FALLBACK_PROMPT_TYPES[metadata.type], reason, True
    if _is_code_task(metadata):
        reason = f"{outside}; harness fallback for symmetric code task type {metadata.type}"
        return SYMMETRIC_CODE_PROMPT_TYPE, reason, True
    reason = f"{outside}; harness fallback for text task type {metadata.type}"
    return SYMMETRIC_TEXT_PROMPT_TYPE, reason, True


def _adapter_for(spec: ModelSpec, metadata: TaskMetadata, side: Side) -> tuple[str | None, str]:
    """The adapter, looked up by task name first (a sweep's opt-in), then by task type."""
    chosen = spec.task_adapters.get((metadata.name, side))
    if chosen is not None:
        return chosen, f"sweep task_adapters ({metadata.name}, {side})"
    adapter = spec.adapters.get((metadata.type, side))
    if adapter is not None:
        return adapter, f"adapter table ({metadata.type}, {side})"
    return None, f"no adapter for task type {metadata.type} (as mteb's wrapper)"


def resolve_plan(spec: ModelSpec, metadata: TaskMetadata, side: Side) -> EncodingPlan:
    """Resolve the prefix, adapter and whitespace rule for ``side`` of the task ``metadata``."""
    return replace(_prompt_plan(spec, metadata, side), strip=spec.strip_whitespace)


def _prompt_plan(spec: ModelSpec, metadata: TaskMetadata, side: Side) -> EncodingPlan:
    if spec.prompt_types:
        prompt_type, source, chosen = _prompt_type_for(spec, metadata)
        prefix = spec.prompt_types[prompt_type].for_side(side)
        return EncodingPlan(side, prompt_type, prefix, None, source, chosen)
    if spec.adapters:
        adapter, source = _adapter_for(spec, metadata, side)
        prefix = spec.adapter_instructions.get(adapter or "", "")
        return EncodingPlan(side, None, prefix, adapter, source)
    return EncodingPlan(side, None, "", None, "model takes no prompt")
