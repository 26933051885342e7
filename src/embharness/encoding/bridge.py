"""The bridge mteb calls: resolves the plan, serves vectors from the cache, encodes the misses."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from mteb.models.abs_encoder import AbsEncoder

from embharness.encoding.plans import EncodingPlan, resolve_plan, side_for
from embharness.hashing import text_digest
from embharness.models.backend import Backend, BackendInfo
from embharness.models.engine import EncodingEngine, EngineStats
from embharness.models.loading import LoadSettings, describe_backend, load_backend
from embharness.specs.spec import ModelSpec

if TYPE_CHECKING:
    from mteb import TaskMetadata
    from mteb.models import ModelMeta

    from embharness.encoding.cache import EmbeddingCache, Namespace

CACHE_FORMAT = 2  # 2: the whitespace rule joined the key
FLUSH_ROWS = 2048


def project(vectors: np.ndarray, dim: int) -> np.ndarray:
    """Matryoshka projection: keep the first ``dim`` components, then L2-normalise."""
    cut = np.asarray(vectors[:, :dim], dtype=np.float32)
    norms = np.linalg.norm(cut, axis=1, keepdims=True)
    projected: np.ndarray = cut / np.maximum(norms, 1e-12)
    return projected


@dataclass
class EncodeStats:
    """Counters for one cell: cache hits and misses, encode time, truncations, plans used,
    out-of-memory retries, the smallest effective batch size (None: nothing encoded) and the
    smallest effective token budget (None: nothing encoded or count-based batches)."""

    hits: int = 0
    misses: int = 0
    encode_s: float = 0.0
    truncated: int = 0
    oom_retries: int = 0
    effective_batch_size: int | None = None
    effective_max_batch_tokens: int | None = None
    plans: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def summed(cls, parts: list[EncodeStats]) -> EncodeStats:
        """The counters of several runs over one cell's texts (its parts, or a pass and the
        cell): hits, misses, time, truncations and retries added up, the smallest effective
        batch, every side's plan."""
        return cls(
            hits=sum(s.hits for s in parts),
            misses=sum(s.misses for s in parts),
            encode_s=sum(s.encode_s for s in parts),
            truncated=sum(s.truncated for s in parts),
            oom_retries=sum(s.oom_retries for s in parts),
            effective_batch_size=min(
                (s.effective_batch_size for s in parts if s.effective_batch_size), default=None
            ),
            effective_max_batch_tokens=min(
                (b for s in parts if (b := s.effective_max_batch_tokens)), default=None
            ),
            plans={side: plan for s in parts for side, plan in s.plans.items()},
        )

    def add(self, engine: EngineStats) -> None:
        """Fold one engine call's stats into the cell's."""
        self.truncated += engine.truncated
        self.oom_retries += engine.oom_retries
        sizes = [s for s in (self.effective_batch_size, engine.final_batch_size) if s]
        self.effective_batch_size = min(sizes) if sizes else None
        budgets = [b for b in (self.effective_max_batch_tokens, engine.final_max_batch_tokens) if b]
        self.effective_max_batch_tokens = min(budgets) if budgets else None


class LazyBackend:
    """Loads the model on first use only, so fully cached cells never load weights."""

    def __init__(self, info: BackendInfo, load: Callable[[], Backend]) -> None:
        self.info = info
        self._load = load
        self._backend: Backend | None = None

    def get(self) -> Backend:
        """The loaded backend."""
        if self._backend is None:
            self._backend = self._load()
        return self._backend

    @property
    def loaded(self) -> bool:
        """Whether the weights have been loaded."""
        return self._backend is not None

    def loaded_dtype(self) -> str | None:
        """The loaded weights' dtype, read from the parameters (None if never loaded)."""
        return str(self._backend.dtype).removeprefix("torch.") if self._backend else None


def cache_key(info: BackendInfo, plan: EncodingPlan, max_length: int) -> dict[str, Any]:
    """Every input that changes a vector, apart from the text itself."""
    return {
        "format": CACHE_FORMAT,
        "model": info.cache_identity(),
        "max_length": max_length,
        "side": plan.side,
        "prefix": plan.prefix,
        "adapter": plan.adapter,
        "strip": plan.strip,
    }


class HarnessEncoder(AbsEncoder):
    """An mteb encoder that runs a spec's rules through the cache and the shared engine."""

    def __init__(
        self,
        spec: ModelSpec,
        backend: LazyBackend,
        meta: ModelMeta,
        dim: int,
        engine: EncodingEngine,
        cache: EmbeddingCache | None = None,
        max_length: int | None = None,
    ) -> None:
        self.spec = spec
        self.backend = backend
        self.mteb_model_meta = meta
        self.dim = dim
        self.engine = engine
        self.cache = cache
        self.max_length = max_length or backend.info.max_length
        self.stats = EncodeStats()
        self.label = "encode"

    def encode(
        self,
        inputs: Any,
        *,
        task_metadata: TaskMetadata,
        hf_split: str,
        hf_subset: str,
        prompt_type: Any = None,
        **kwargs: Any,
    ) -> np.ndarray:
        """Encode one mteb input stream at this encoder's dim."""
        start = time.perf_counter()
        texts = [text for batch in inputs for text in batch["text"]]
        plan = resolve_plan(self.spec, task_metadata, side_for(prompt_type))
        self.stats.plans[plan.side] = plan.as_dict()
        projected = project(self.full_vectors(texts, plan), self.dim)
        self.stats.encode_s += time.perf_counter() - start
        return projected

    def full_vectors(self, texts: list[str], plan: EncodingPlan) -> np.ndarray:
        """Raw full-dim vectors for ``texts`` under ``plan``, from the cache where possible."""
        unique = list(dict.fromkeys(texts))
        digests = [text_digest(t) for t in unique]
        namespace = (
            self.cache.namespace(cache_key(self.backend.info, plan, self.max_length))
            if self.cache
            else None
        )
        found, missing = namespace.lookup(digests) if namespace else ({}, list(range(len(unique))))
        self.stats.hits += len(found)
        self.stats.misses += len(missing)
        rows = np.empty((len(unique), self.backend.info.embed_dim), dtype=np.float32)
        for position, vector in found.items():
            rows[position] = vector
        if missing:
            rows[missing] = self._encode_missing(
                [unique[i] for i in missing], plan, namespace, [digests[i] for i in missing]
            )
        position_of = {text: i for i, text in enumerate(unique)}
        return rows[[position_of[t] for t in texts]]

    def _encode_missing(
        self,
        texts: list[str],
        plan: EncodingPlan,
        namespace: Namespace | None,
        digests: list[bytes],
    ) -> np.ndarray:
        pending: list[tuple[np.ndarray, np.ndarray]] = []

        def flush() -> None:
            if namespace is not None and pending:
                indices = np.concatenate([p[0] for p in pending])
                namespace.append(
                    [digests[i] for i in indices], np.concatenate([p[1] for p in pending])
                )
            pending.clear()

        def sink(indices: np.ndarray, vectors: np.ndarray) -> None:
            pending.append((indices, vectors))
            if sum(len(p[0]) for p in pending) >= FLUSH_ROWS:
                flush()

        backend = self.backend.get()
        prompted = [plan.model_input(text) for text in texts]
        encoded = self.engine.encode(
            backend, prompted, plan.adapter, self.max_length, sink, f"{self.label} {plan.side}"
        )
        flush()
        self.stats.add(encoded.stats)
        return encoded.vectors


def lazy_backend(
    spec: ModelSpec, load: LoadSettings, info: BackendInfo | None = None
) -> LazyBackend:
    """A backend that loads ``spec`` with ``load`` on first use (``info``: already described)."""
    return LazyBackend(info or describe_backend(spec, load), lambda: load_backend(spec, load))


def build_encoder(
    spec: ModelSpec,
    backend: LazyBackend,
    dim: int,
    *,
    batch_size: int,
    meta: ModelMeta | None = None,
    cache: EmbeddingCache | None = None,
    max_length: int | None = None,
    show_progress: bool = False,
    max_batch_tokens: int | None = None,
) -> HarnessEncoder:
    """The one way to assemble an encoder: runner, ``encode`` command and tests use it.

    ``max_batch_tokens`` caps each batch's padded tokens (None: ``batch_size`` rows per batch).
    """
    engine = EncodingEngine(batch_size, show_progress, max_batch_tokens)
    return HarnessEncoder(
        spec, backend, meta or spec.to_model_meta(dim), dim, engine, cache, max_length
    )
