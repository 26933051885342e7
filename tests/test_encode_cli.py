"""``embharness encode`` end to end on the tiny jina-code checkpoint, in-process via CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from embharness.cli import main

CODE_05B = "jinaai/jina-code-embeddings-0.5b"
NL2CODE_QUERY = "Find the most relevant code snippet given the following query:\n"
CODE2NL_DOCUMENT = "Candidate comment:\n"
TEXTS = ["merge two sorted lists", "x", "compute the n-th Fibonacci number iteratively", "x"]


def write_jsonl(path: Path, texts: list[str]) -> Path:
    """One ``{"text": ...}`` object per line."""
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    return path


def run_encode(folder: Path, *args: str):
    """Invoke ``embharness encode`` for the tiny checkpoint on CPU."""
    base = ["encode", "--model", CODE_05B, "--from", str(folder), "--device", "cpu"]
    return CliRunner().invoke(main, [*base, *args], catch_exceptions=False)


def test_encode_writes_normalised_rows_in_order(
    tiny_qwen_dir: Path, tmp_path: Path, jina_code_reference
) -> None:
    """float32 (n, dim) rows, input order, unit norm, = the card recipe truncated to 64 (1e-5)."""
    source = write_jsonl(tmp_path / "in.jsonl", TEXTS)
    out = tmp_path / "out" / "vectors.npy"
    result = run_encode(
        tiny_qwen_dir,
        *("--task", "CosQA", "--side", "query", "--dim", "64", "--batch-size", "2"),
        *("--input", str(source), "--output", str(out)),
    )
    assert result.exit_code == 0, result.output
    vectors = np.load(out)
    assert vectors.dtype == np.float32
    assert vectors.shape == (len(TEXTS), 64)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    full = jina_code_reference(tiny_qwen_dir, [NL2CODE_QUERY + t for t in TEXTS])
    cut = full[:, :64]
    np.testing.assert_allclose(vectors, cut / np.linalg.norm(cut, axis=1, keepdims=True), atol=1e-5)
    np.testing.assert_array_equal(vectors[1], vectors[3])


def test_print_prompt_shows_exact_prefixed_string(tiny_qwen_dir: Path, tmp_path: Path) -> None:
    """--print-prompt prints the first text with the task type's exact prefix, JSON-quoted."""
    source = write_jsonl(tmp_path / "in.jsonl", ["def f(): pass", "other"])
    result = run_encode(
        tiny_qwen_dir,
        *("--task", "COIRCodeSearchNetRetrieval", "--side", "document"),
        *("--input", str(source), "--print-prompt"),
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [json.dumps(CODE2NL_DOCUMENT + "def f(): pass")]


def test_bad_jsonl_exits_2_with_one_line(tiny_qwen_dir: Path, tmp_path: Path) -> None:
    """A line that is not a JSON object with `text` → exit code 2 and a single error line."""
    source = tmp_path / "bad.jsonl"
    source.write_text('{"text": "fine"}\nnot json\n', encoding="utf-8")
    result = run_encode(
        tiny_qwen_dir,
        *("--task", "CosQA", "--side", "query"),
        *("--input", str(source), "--output", str(tmp_path / "out.npy")),
    )
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ") and "bad.jsonl:2" in lines[0]
    assert not (tmp_path / "out.npy").exists()


def test_encode_without_batch_size_takes_the_device_default(
    tiny_qwen_dir: Path, tmp_path: Path
) -> None:
    """No --batch-size: the device's batching (CPU: 32 rows), the same vectors as 2-row batches."""
    source = write_jsonl(tmp_path / "in.jsonl", TEXTS)
    outputs = {}
    for label, extra in (("default", ()), ("two", ("--batch-size", "2"))):
        out = tmp_path / f"{label}.npy"
        args = ("--task", "CosQA", "--side", "query", "--input", str(source), "--output", str(out))
        result = run_encode(tiny_qwen_dir, *args, *extra)
        assert result.exit_code == 0, result.output
        outputs[label] = np.load(out)
    np.testing.assert_allclose(outputs["default"], outputs["two"], atol=1e-5)
