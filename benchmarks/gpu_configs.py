"""The configurations ``bench_gpu.py`` times: the harness engine, sentence-transformers and a
plain reference loop, each over the same saved weights."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gpu_models import Shape
from gpu_texts import Side

ROW_CAP, TOKEN_BUDGET = 128, 32768  # the token-budget defaults this table is about
REFERENCE_BUDGET = 32768  # padded tokens per batch of the reference loop

Vectors = list[np.ndarray]  # one array per side


@dataclass
class Config:
    """One row of the table: how to encode every side, and what the table calls it."""

    key: str
    label: str
    dtype: str
    encode: Callable[[list[Side]], Vectors]
    checked: bool  # compared to the reference loop (fails the run when it disagrees)
    stats: list[dict[str, Any]] = field(default_factory=list)  # the engine's, last call
    attention: dict[str, Any] | None = None  # the harness backend's kernel, as loaded


def harness_config(
    key: str,
    label: str,
    backend: Any,
    dtype: str,
    batch_size: int,
    max_batch_tokens: int | None,
    checked: bool = True,
) -> Config:
    """The harness's engine over a loaded backend; the engine's stats of the last call are kept."""
    from embharness.models.engine import EncodingEngine

    engine = EncodingEngine(
        batch_size=batch_size, max_batch_tokens=max_batch_tokens, show_progress=False
    )
    stats: list[dict[str, Any]] = []

    def encode(sides: list[Side]) -> Vectors:
        stats.clear()
        out = []
        for side in sides:
            encoded = engine.encode(backend, side.texts, adapter=side.adapter)
            out.append(encoded.vectors)
            stats.append(dataclasses.asdict(encoded.stats))
        return out

    attention = {
        "attn_implementation": getattr(backend.info, "attn_implementation", None),
        "packed": getattr(backend.info, "packed", None),
    }
    return Config(key, label, dtype, encode, checked, stats, attention)


def load_harness(spec: Any, device: torch.device, dtype: str, **extra: Any) -> Any:
    """``load_backend`` with ``LoadSettings`` as a user run builds them."""
    from embharness.models.loading import LoadSettings, load_backend

    return load_backend(spec, LoadSettings(device=str(device), dtype=dtype, **extra))


def sentence_transformer(shape: Shape, folder: Path, device: torch.device, dtype: str) -> Any:
    """``models.Transformer`` + ``models.Pooling`` over the same folder, in ``dtype``."""
    from sentence_transformers import SentenceTransformer, models

    remote = {"trust_remote_code": True} if shape.family == "v3" else {}
    transformer = models.Transformer(
        str(folder),
        max_seq_length=8192,
        model_args={"dtype": getattr(torch, dtype), **remote},
        config_args=remote,
        tokenizer_args={"padding_side": "left"} if shape.family == "qwen2" else {},
    )
    mode = "lasttoken" if shape.family == "qwen2" else "mean"
    pooling = models.Pooling(transformer.get_word_embedding_dimension(), pooling_mode=mode)
    return SentenceTransformer(modules=[transformer, pooling], device=str(device)).eval()


class ReferenceLoop:
    """A plain transformers loop: tokenise without padding, sort by length, cut batches of at
    most ``REFERENCE_BUDGET`` padded tokens, pad, forward, pool (last token or mean)."""

    def __init__(self, shape: Shape, folder: Path, device: torch.device, dtype: str) -> None:
        from transformers import AutoModel, AutoTokenizer

        self.device, self.mean = device, shape.family == "v3"
        self.tokenizer = AutoTokenizer.from_pretrained(folder, padding_side="left")
        kwargs: dict[str, Any] = (
            {"trust_remote_code": True, "use_flash_attn": False}
            if self.mean
            else {"attn_implementation": "sdpa"}
        )
        model = AutoModel.from_pretrained(folder, dtype=getattr(torch, dtype), **kwargs)
        self.model = model.to(device).eval()
        self.dim = int(self.model.config.hidden_size)

    def encode(self, texts: list[str], adapter: str | None) -> np.ndarray:
        """Raw pooled float32 vectors, in input order."""
        ids = self.tokenizer(texts, truncation=True, max_length=8192)["input_ids"]
        order = sorted(range(len(texts)), key=lambda i: -len(ids[i]))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        start = 0
        while start < len(order):
            rows = order[start : start + max(1, REFERENCE_BUDGET // len(ids[order[start]]))]
            features = [{"input_ids": ids[i], "attention_mask": [1] * len(ids[i])} for i in rows]
            batch = self.tokenizer.pad(features, return_tensors="pt").to(self.device)
            extra = {}
            if adapter is not None:
                task = self.model._adaptation_map[adapter]
                extra["adapter_mask"] = torch.full((len(rows),), task, device=self.device)
            with torch.inference_mode():
                hidden = self.model(**batch, **extra)[0].float()
            mask = batch["attention_mask"]
            if self.mean:
                weights = mask.unsqueeze(-1).float()
                pooled = (hidden * weights).sum(1) / weights.sum(1)
            else:  # the last real token, with left or right padding
                last = mask.shape[1] - 1 - mask.flip(1).argmax(1)
                pooled = hidden[torch.arange(len(rows), device=self.device), last]
            out[rows] = pooled.cpu().numpy()
            start += len(rows)
        return out


# ---------------------------------------------------------------------------------- runs


def checkout_defaults() -> dict[str, Any]:
    """The row cap and token budget a sweep on CUDA gets when it sets none (the device default,
    ``models.device.pick_batching``), and the bare engine's constructor defaults."""
    from embharness.models.engine import EncodingEngine

    params = inspect.signature(EncodingEngine.__init__).parameters
    out: dict[str, Any] = {
        "engine": [params["batch_size"].default, params["max_batch_tokens"].default]
    }
    try:
        from embharness.models.device import pick_batching

        out["sweep_on_cuda"] = list(pick_batching(None, None, "cuda"))
    except ImportError as exc:  # a checkout from before the device defaults
        out["sweep_on_cuda"] = f"unavailable: {exc}"
    return out


def has_attn_field() -> bool:
    """Whether ``LoadSettings`` takes ``attn_implementation`` (added after this script)."""
    from embharness.models.loading import LoadSettings

    return "attn_implementation" in {f.name for f in dataclasses.fields(LoadSettings)}


def build_configs(
    shape: Shape, folder: Path, device: torch.device
) -> tuple[list[Config], ReferenceLoop, Any]:
    """Every configuration of one shape (models loaded), the reference loop, and a backend."""
    from embharness.specs.registry import get_spec

    spec = get_spec(shape.spec, local_path=str(folder))
    half = "float16" if device.type == "cuda" else "float32"
    budget = f"batch_size {ROW_CAP} rows cap, max_batch_tokens {TOKEN_BUDGET}"
    backend = load_harness(spec, device, half)
    configs = [
        harness_config("batch8", "harness, batch 8 (the paper's setting)", backend, half, 8, None),
        harness_config(
            "batch32",
            "harness, batch 32 count-based (the old sweep default)",
            backend,
            half,
            32,
            None,
        ),
        harness_config(
            "defaults",
            f"harness at its defaults (token budget: {budget})",
            backend,
            half,
            ROW_CAP,
            TOKEN_BUDGET,
        ),
    ]
    if has_attn_field() and shape.family == "qwen2":  # remote code takes no sdpa request
        sdpa = load_harness(spec, device, half, attn_implementation="sdpa")
        configs.append(
            harness_config(
                "defaults_sdpa",
                'harness at its defaults, attn_implementation="sdpa" passed explicitly',
                sdpa,
                half,
                ROW_CAP,
                TOKEN_BUDGET,
            )
        )
    bf16 = load_harness(spec, device, "bfloat16")
    configs.append(
        harness_config(
            "bf16",
            "harness, bf16, at defaults (after warm-up)",
            bf16,
            "bfloat16",
            ROW_CAP,
            TOKEN_BUDGET,
            checked=False,
        )
    )
    st_model = sentence_transformer(shape, folder, device, half)
    configs.append(
        Config(
            "st",
            "sentence-transformers, batch 32, same weights",
            half,
            lambda sides: [
                st_model.encode(
                    s.texts, batch_size=32, show_progress_bar=False, convert_to_numpy=True
                )
                for s in sides
            ],
            checked=False,
        )
    )
    reference = ReferenceLoop(shape, folder, device, half)
    configs.append(
        Config(
            "reference",
            f"a plain reference loop: length-sorted batches of at most {REFERENCE_BUDGET:,} "
            f"padded tokens, {'fp16' if half == 'float16' else 'fp32'}, sdpa",
            half,
            lambda sides: [reference.encode(s.texts, s.adapter) for s in sides],
            checked=False,
        )
    )
    return configs, reference, backend
