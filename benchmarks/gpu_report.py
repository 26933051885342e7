"""The output of ``bench_gpu.py``: its Markdown table, ratios and checks, and the vector check
that fails the run."""

from __future__ import annotations

from typing import Any

from gpu_configs import ROW_CAP, TOKEN_BUDGET

MIN_COSINE = {"float16": 0.999, "float32": 0.99999}


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
    match = "are" if defaults["sweep_on_cuda"] == expected else "ARE NOT"
    print(
        f"the 'defaults' rows run {ROW_CAP} rows / {TOKEN_BUDGET} tokens, which {match} what a "
        f"sweep that sets no batching runs on CUDA in this checkout ({defaults['sweep_on_cuda']}; "
        f"the bare EncodingEngine's own defaults are {defaults['engine']})"
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


def check_vectors(summary: dict[str, Any]) -> None:
    """Print the correctness verdict; exit non-zero when a checked configuration's vectors
    disagree with the reference loop or the out-of-memory case gave non-finite vectors."""
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
