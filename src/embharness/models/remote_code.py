"""Remote code is trusted only for allow-listed (repo, revision) pairs."""

from __future__ import annotations

from embharness.errors import HarnessError
from embharness.specs.jina_v3 import REVISION as JINA_V3_REVISION

TRUSTED_REMOTE_CODE: dict[tuple[str, str], str] = {
    ("jinaai/jina-embeddings-v3", JINA_V3_REVISION): "jina-embeddings-v3 LoRA/XLM-R modeling code",
}


def check_remote_code(name: str, revision: str | None) -> None:
    """Raise unless ``(name, revision)`` is allow-listed for ``trust_remote_code``."""
    if (name, revision or "") not in TRUSTED_REMOTE_CODE:
        raise HarnessError(
            f"model {name}@{revision} asks for trust_remote_code, which embharness allows only "
            "for reviewed (repo, revision) pairs",
            "use a model that runs without remote code, or add the pair to "
            "embharness.models.remote_code.TRUSTED_REMOTE_CODE after reviewing its code",
        )
