"""User LoRA adapters (peft) on top of any supported base model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from embharness.errors import HarnessError
from embharness.hashing import folder_digest


def adapter_identity(path: str) -> dict[str, str]:
    """The adapter's identity: resolved path and content hash."""
    folder = Path(path)
    if not (folder / "adapter_config.json").is_file():
        raise HarnessError(
            f"{path} is not a peft adapter folder (no adapter_config.json)",
            "pass the folder that `PeftModel.save_pretrained` wrote",
        )
    return {"path": str(folder.resolve()), "sha256": folder_digest(folder)}


def apply_lora(model: Any, path: str, merge: bool) -> Any:
    """Wrap ``model`` with the LoRA at ``path``; merge it into the weights when ``merge``."""
    from peft import PeftModel

    try:
        wrapped = PeftModel.from_pretrained(model, path)
    except (OSError, ValueError, KeyError) as exc:
        raise HarnessError(
            f"cannot load peft adapter {path}: {exc}",
            "check that the adapter was trained on this base model",
        ) from exc
    wrapped.eval()
    return wrapped.merge_and_unload() if merge else wrapped
