"""What reaches the model for a task and side: prompt type, prefix and adapter, from tables."""

from __future__ import annotations

from dataclasses import asdict, dataclass
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
    """How one side of one task is encoded; recorded with every result and part of the cache key."""

    side: Side
    prompt_type: str | None
    prefix: str
    adapter: str | None
    source: str

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return asdict(self)


def side_for(prompt_type: object) -> Side:
    """Map mteb's ``PromptType`` (query, document or None for symmetric tasks) to a side."""
    value = getattr(prompt_type, "value", prompt_type)
    return "document" if value == "document" else "query"


def _is_code_task(metadata: TaskMetadata) -> bool:
    languages = metadata.languages if hasattr(metadata, "languages") else []
    return "Programming" in (metadata.domains or []) or any(
        lang.endswith("-Code") for lang in languages
    )


def _prompt_type_for(spec: ModelSpec, metadata: TaskMetadata) -> tuple[str, str]:
    if metadata.name in spec.task_prompt_types:
        return spec.task_prompt_types[metadata.name], "task table"
    if metadata.type in FALLBACK_PROMPT_TYPES:
        return FALLBACK_PROMPT_TYPES[metadata.type], f"fallback for task type {metadata.type}"
    if _is_code_task(metadata):
        return SYMMETRIC_CODE_PROMPT_TYPE, f"fallback for code task type {metadata.type}"
    return SYMMETRIC_TEXT_PROMPT_TYPE, f"fallback for text task type {metadata.type}"


def _adapter_for(spec: ModelSpec, metadata: TaskMetadata, side: Side) -> tuple[str | None, str]:
    adapter = spec.adapters.get((metadata.type, side))
    if adapter is not None:
        return adapter, f"adapter table ({metadata.type}, {side})"
    return spec.default_adapter, f"default adapter for task type {metadata.type}"


def resolve_plan(spec: ModelSpec, metadata: TaskMetadata, side: Side) -> EncodingPlan:
    """Resolve the prefix and adapter for ``side`` of the task described by ``metadata``."""
    if spec.prompt_types:
        prompt_type, source = _prompt_type_for(spec, metadata)
        prefix = spec.prompt_types[prompt_type].for_side(side)
        return EncodingPlan(side, prompt_type, prefix, None, source)
    if spec.adapters:
        adapter, source = _adapter_for(spec, metadata, side)
        prefix = spec.adapter_instructions.get(adapter or "", "")
        return EncodingPlan(side, None, prefix, adapter, source)
    return EncodingPlan(side, None, "", None, "model takes no prompt")
