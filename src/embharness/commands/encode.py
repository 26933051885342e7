"""``embharness encode``: embed texts exactly as the harness would for a task and side."""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np

from embharness.errors import HarnessError


def read_texts(path: Path) -> list[str]:
    """Texts from a JSONL file with one ``{"text": ...}`` object per line."""
    texts = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise HarnessError(f"cannot read {path}: {exc.strerror}", "check --input") from exc
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            texts.append(str(json.loads(line)["text"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise HarnessError(
                f"{path}:{number} is not a JSON object with a `text` field",
                'write one {"text": "..."} object per line',
            ) from exc
    return texts


@click.command()
@click.option("--model", "model_name", required=True, help="Registered name, st:NAME or hf:NAME.")
@click.option("--from", "from_path", help="Load weights and tokenizer from this local folder.")
@click.option("--revision", help="Model revision (hub commit) to load.")
@click.option("--code-revision", help="Commit of remote modeling code kept in another repo.")
@click.option("--adapter", help="A peft LoRA adapter folder.")
@click.option("--merge-adapter", is_flag=True, help="Merge the LoRA into the weights.")
@click.option("--task", "task_name", required=True, help="mteb task name (selects prompt/adapter).")
@click.option("--side", type=click.Choice(["query", "document"]), required=True)
@click.option("--dim", type=int, help="Matryoshka dim (default: full).")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    help="Rows per batch (default: the device's: on CUDA 128 rows of at most 32,768 tokens, "
    "on CPU 32 rows).",
)
@click.option("--max-length", type=int, help="Token limit (default: the model's).")
@click.option("--device", help="cpu, cuda, cuda:1 … (default: cuda if available).")
@click.option("--input", "input_path", type=click.Path(path_type=Path), required=True)
@click.option("--output", "output_path", type=click.Path(path_type=Path))
@click.option(
    "--print-prompt", is_flag=True, help="Show the exact first string the tokenizer gets."
)
def encode(
    model_name: str,
    from_path: str | None,
    revision: str | None,
    code_revision: str | None,
    adapter: str | None,
    merge_adapter: bool,
    task_name: str,
    side: str,
    dim: int | None,
    batch_size: int | None,
    max_length: int | None,
    device: str | None,
    input_path: Path,
    output_path: Path | None,
    print_prompt: bool,
) -> None:
    """Embed --input texts as the harness would for --task and --side; write a float32 .npy."""
    from embharness.encoding.bridge import build_encoder, lazy_backend, project
    from embharness.encoding.plans import resolve_plan
    from embharness.run.cells import prepare_model
    from embharness.run.sweep import ModelEntry, Settings
    from embharness.tasks.registry import get_task

    texts = read_texts(input_path)
    settings = Settings(batch_size=batch_size, max_length=max_length, device=device)
    entry = ModelEntry(
        name=model_name,
        dims=(dim,) if dim else (),
        revision=revision,
        code_revision=code_revision,
        path=from_path,
        adapter=adapter,
        merge_adapter=merge_adapter,
        settings=settings,
    )
    model = prepare_model(entry)
    plan = resolve_plan(model.spec, get_task(task_name).metadata, side)  # type: ignore[arg-type]
    if print_prompt:
        click.echo(json.dumps(plan.model_input(texts[0] if texts else "")))
    if output_path is None:
        return
    backend = lazy_backend(model.spec, model.load, model.info)
    rows, budget = model.batching
    encoder = build_encoder(
        model.spec, backend, model.dims[0], batch_size=rows, max_batch_tokens=budget
    )
    vectors = project(encoder.full_vectors(texts, plan), model.dims[0])
    output_path.parent.mkdir(parents=True, exist_ok=True)
    np.save(output_path, vectors.astype(np.float32))
    click.echo(f"{len(texts)} × {vectors.shape[1]} → {output_path} ({plan.source})", err=True)
