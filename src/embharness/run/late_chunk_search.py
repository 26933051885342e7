"""Chunked retrieval as an mteb search model: late chunking and chunk-then-embed.

A sweep's ``chunking`` setting picks how a Retrieval task's long documents are embedded:

* ``truncate`` (default): the plain cell, one vector per document cut at the max length.
* ``chunk_then_embed``: each document's text is cut at token boundaries into spans of
  ``chunk_tokens`` tokens (the fast tokenizer's offsets), and every span's text is encoded on
  its own, as a document (prefix, adapter and embedding cache as the plain cell's).
* ``late``: the document is run through the model whole, in macro windows of ``max_length``
  tokens (0: the cell's max length) overlapping by ``overlap`` (``models.late_chunking``), and
  every span's vector is the mean of its *contextual* token states. Mean pooling only: the
  sweep refuses other models on load. Special tokens and an instruction prefix join the first
  span, the closing special token the last, so a document that fits one span and one window
  gets exactly its plain vector. Vectors are cached per span, keyed by the settings.

A document's score for a query is the **maximum over its chunks** of the query–chunk similarity
(jina's late-chunking evaluation). It plugs into mteb's own extension point: mteb's
``SearchEncoderWrapper`` (the harness's ``IndexedSearch``) with ``ChunkIndex`` as its
``index_backend``; only ``index`` is replaced, to hand the index chunk vectors instead of one
vector per document. Queries are encoded by the cell's encoder as in the plain cell. The mode
and its parameters name the experiment folder (``chunking_late-c128-o32``).
"""

from __future__ import annotations

import time
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np

from embharness.errors import HarnessError
from embharness.run.search import EXACT_SEARCHES

if TYPE_CHECKING:
    from mteb import TaskMetadata
    from mteb.abstasks import AbsTask

    from embharness.encoding.bridge import HarnessEncoder
    from embharness.encoding.plans import EncodingPlan

CHUNKING_MODES = ("truncate", "chunk_then_embed", "late")
CHUNKING_DEFAULTS: dict[str, int] = {"chunk_tokens": 128, "overlap": 32, "max_length": 0}
QUERY_BLOCK = 256
CHUNK_TYPES = frozenset({"Retrieval"})


def check_chunking(mode: Any, params: Any) -> dict[str, int] | None:
    """The full parameter set of a chunking ``mode`` (defaults filled), None for ``truncate``;
    a one-line ``HarnessError`` for an unknown mode or parameter."""
    if mode not in CHUNKING_MODES:
        raise HarnessError(
            f"chunking must be one of {', '.join(CHUNKING_MODES)}, got {mode!r}",
            "e.g. chunking: late (with chunking_params: {chunk_tokens: 128, overlap: 32})",
        )
    if mode == "truncate":
        if params:
            raise HarnessError(
                "chunking_params apply to chunking: late or chunk_then_embed only",
                "drop chunking_params or set chunking: late",
            )
        return None
    params = dict(params or {})
    unknown = sorted(set(params) - set(CHUNKING_DEFAULTS))
    if unknown:
        raise HarnessError(
            f"unknown chunking_params {unknown}", f"allowed: {', '.join(CHUNKING_DEFAULTS)}"
        )
    full: dict[str, int] = CHUNKING_DEFAULTS | params
    for key, value in full.items():
        least = 0 if key != "chunk_tokens" else 1
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            raise HarnessError(
                f"chunking_params.{key} must be an integer >= {least}, got {value!r}",
                f"e.g. chunking_params: {{{key}: {CHUNKING_DEFAULTS[key] or 512}}}",
            )
    if full["max_length"] and full["overlap"] >= full["max_length"] - 2:
        raise HarnessError(
            f"chunking_params.overlap {full['overlap']} leaves no room in max_length "
            f"{full['max_length']}",
            "lower overlap well below max_length",
        )
    return full


def check_combination(mode: str, search: str, precisions: tuple[str, ...]) -> None:
    """Chunked cells rank by their own exact max-over-chunks search: no ANN, no grid."""
    if mode == "truncate":
        return
    if search not in EXACT_SEARCHES or tuple(precisions) != ("float32",):
        raise HarnessError(
            f"chunking: {mode} ranks chunks by its own exact search, so it cannot combine "
            f"with search: {search} or precisions {list(precisions)}",
            "put the chunking cells in their own sweep entry with exact search and no precisions",
        )


def chunking_label(mode: str, params: dict[str, int] | None) -> str | None:
    """The experiment label (``late-c128-o32``, ``chunk_then_embed-c128``); None: truncate."""
    if params is None:
        return None
    if mode == "chunk_then_embed":
        return f"{mode}-c{params['chunk_tokens']}"
    label = f"{mode}-c{params['chunk_tokens']}-o{params['overlap']}"
    return label + (f"-m{params['max_length']}" if params["max_length"] else "")


def chunked_search(
    encoder: HarnessEncoder, task: AbsTask, mode: str, params: dict[str, int] | None = None
) -> tuple[Any, str]:
    """What to hand ``mteb.evaluate`` for a chunked cell, and the label of its search
    (``params`` as ``check_chunking`` filled them; None: the defaults)."""
    from mteb.abstasks import AbsTaskRetrieval

    params = params or check_chunking(mode, None)
    if params is None:
        raise ValueError("chunking: truncate is the plain cell, no chunked search")

    if not isinstance(task, AbsTaskRetrieval) or task.metadata.type not in CHUNK_TYPES:
        raise HarnessError(
            f"chunking: {mode} applies to Retrieval tasks only, not {task.metadata.name}",
            "put the chunked cells in a sweep of Retrieval tasks only",
        )
    label = chunking_label(mode, params) or mode
    return _chunked_search_class()(encoder, mode, params), label


class ChunkIndex:
    """mteb index backend over chunk vectors: a document scores its best chunk."""

    def __init__(self) -> None:
        self.vectors: np.ndarray | None = None
        self.starts: np.ndarray | None = None

    def add_chunks(self, vectors: np.ndarray, starts: np.ndarray) -> None:
        """Chunk rows grouped by document, in corpus order; ``starts[d]``: document d's first."""
        self.vectors, self.starts = vectors, starts

    def add_documents(self, embeddings: Any, idxs: list[str]) -> None:
        """One vector per document is no chunk index: ``ChunkedSearch.index`` adds chunks."""
        raise ValueError("ChunkIndex takes chunks (add_chunks), not one vector per document")

    def search(
        self,
        embeddings: Any,
        top_k: int,
        similarity_fn: Any = None,
        top_ranked: Any = None,
        query_idx_to_id: Any = None,
    ) -> tuple[list[list[float]], list[list[int]]]:
        """Per query, the top-k documents by max over their chunks of ``similarity_fn``."""
        import torch

        if self.vectors is None or self.starts is None:
            raise ValueError("No chunks indexed. Call add_chunks() first.")
        if top_ranked is not None:
            raise ValueError("chunked search ranks full corpora only (Retrieval tasks)")
        queries = np.asarray(embeddings, dtype=np.float32)
        k = min(top_k, len(self.starts))
        scores: list[list[float]] = []
        ids: list[list[int]] = []
        for block in range(0, len(queries), QUERY_BLOCK):
            part = queries[block : block + QUERY_BLOCK]
            sim = np.asarray(torch.as_tensor(similarity_fn(part, self.vectors)).float().cpu())
            per_doc = torch.from_numpy(np.maximum.reduceat(sim, self.starts, axis=1))
            values, top = torch.topk(per_doc, k, dim=1)
            scores.extend(values.tolist())
            ids.extend(top.tolist())
        return scores, ids

    def clear(self) -> None:
        """Drop the chunks."""
        self.vectors = self.starts = None


def _document_texts(corpus: Any, task_metadata: TaskMetadata, encode_kwargs: dict) -> list[str]:
    """The corpus texts exactly as mteb hands them to an encoder (title joined as mteb does)."""
    from mteb._create_dataloaders import create_dataloader
    from mteb.types import PromptType

    loader = create_dataloader(
        corpus, task_metadata=task_metadata, prompt_type=PromptType.document, **encode_kwargs
    )
    return [text for batch in loader for text in batch["text"]]


@cache
def _chunked_search_class() -> type:
    """The wrapper class, built on first use so that importing this module leaves mteb be."""
    from embharness.run.search import _indexed_search_class

    class ChunkedSearch(_indexed_search_class()):  # type: ignore[misc]
        """mteb's search wrapper whose corpus goes into a ``ChunkIndex`` as chunk vectors."""

        def __init__(self, encoder: HarnessEncoder, mode: str, params: dict[str, int]) -> None:
            super().__init__(encoder, index_backend=ChunkIndex())
            self.mode, self.params = mode, params

        def index(
            self,
            corpus: Any,
            *,
            task_metadata: TaskMetadata,
            hf_split: str,
            hf_subset: str,
            encode_kwargs: dict,
            num_proc: int | None = None,
            **kwargs: Any,
        ) -> None:
            """Embed every document's chunks (cell's dim, L2-normalised) into the index."""
            from embharness.encoding.bridge import project
            from embharness.encoding.plans import resolve_plan

            self.task_corpus = corpus
            start = time.perf_counter()
            encoder: HarnessEncoder = self.model
            texts = _document_texts(corpus, task_metadata, encode_kwargs)
            plan = resolve_plan(encoder.spec, task_metadata, "document")
            encoder.stats.plans[plan.side] = plan.as_dict()
            chunks = chunk_then_embed_vectors if self.mode == "chunk_then_embed" else late_vectors
            rows, counts = chunks(encoder, texts, plan, self.params)
            starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
            self.index_backend.add_chunks(project(rows, encoder.dim), starts)
            encoder.stats.encode_s += time.perf_counter() - start

    return ChunkedSearch


def _content_offsets(backend: Any, text: str) -> list[tuple[int, int]]:
    """Character ``(start, end)`` of every token of ``text`` (no special tokens)."""
    tokenizer = backend.tokenizer
    if not getattr(tokenizer, "is_fast", False):
        raise HarnessError(
            f"chunk_then_embed cuts texts at token offsets, which {backend.info.name}'s "
            "slow tokenizer does not give",
            "use chunking: late, or a model with a fast (Rust) tokenizer",
        )
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    return [tuple(o) for o in encoded["offset_mapping"]]


def chunk_texts(backend: Any, text: str, chunk_tokens: int) -> list[str]:
    """``text`` cut at token boundaries into spans of ``chunk_tokens`` tokens (one when empty)."""
    from embharness.models.late_chunking import fixed_spans

    if getattr(getattr(backend, "first", None), "do_lower_case", False):
        text = text.lower()  # sentence-transformers lower-cases before tokenizing
    offsets = _content_offsets(backend, text)
    if not offsets:
        return [text]
    return [
        text[offsets[s][0] : offsets[e - 1][1]] for s, e in fixed_spans(len(offsets), chunk_tokens)
    ]


def chunk_then_embed_vectors(
    encoder: HarnessEncoder, texts: list[str], plan: EncodingPlan, params: dict[str, int]
) -> tuple[np.ndarray, list[int]]:
    """Raw full-dim vectors of every document's chunk texts, each encoded on its own."""
    backend = encoder.backend.get()
    stripped = [t.strip() if plan.strip else t for t in texts]
    per_doc = [chunk_texts(backend, t, params["chunk_tokens"]) for t in stripped]
    flat = [chunk for chunks in per_doc for chunk in chunks]
    return encoder.full_vectors(flat, plan), [len(chunks) for chunks in per_doc]


def late_vectors(
    encoder: HarnessEncoder, texts: list[str], plan: EncodingPlan, params: dict[str, int]
) -> tuple[np.ndarray, list[int]]:
    """Raw full-dim late-chunked vectors of every document, from the cache where possible."""
    from embharness.encoding.bridge import cache_key
    from embharness.hashing import text_digest

    backend = encoder.backend.get()
    macro = params["max_length"] or encoder.max_length
    layouts = [_late_layout(backend, plan, text, params["chunk_tokens"]) for text in texts]
    key = cache_key(backend.info, plan, macro) | {"late_chunking": _cache_params(params)}
    namespace = encoder.cache.namespace(key) if encoder.cache else None
    rows: list[np.ndarray] = []
    for text, layout in zip(texts, layouts, strict=True):
        digests = [text_digest(f"{i}/{len(layout[3])}\x00{text}") for i in range(len(layout[3]))]
        found, missing = namespace.lookup(digests) if namespace else ({}, digests)
        encoder.stats.hits += len(found)
        encoder.stats.misses += len(missing)
        if missing:
            vectors = _late_document(backend, plan, layout, macro, params["overlap"])
            if namespace is not None:
                namespace.append(digests, vectors)
        else:
            vectors = np.stack([found[i] for i in range(len(digests))])
        rows.append(vectors)
    return np.concatenate(rows), [len(r) for r in rows]


def _cache_params(params: dict[str, int]) -> dict[str, int]:
    return {"chunk_tokens": params["chunk_tokens"], "overlap": params["overlap"]}


Layout = tuple[list[int], list[int], list[int], list[tuple[int, int]]]


def _late_layout(backend: Any, plan: EncodingPlan, text: str, chunk_tokens: int) -> Layout:
    """(prefix specials, content ids, suffix specials, spans over the whole tokenized text)."""
    from embharness.models.late_chunking import edge_spans, special_ids

    ids = backend.tokenize([plan.model_input(text)], 10**9).features[0]["input_ids"]
    prefix, suffix = special_ids(backend.tokenizer)
    if ids[: len(prefix)] != prefix or ids[len(ids) - len(suffix) :] != suffix:
        prefix, suffix = [], []
    content = ids[len(prefix) : len(ids) - len(suffix)]
    instruction = plan.prefix.strip() if plan.strip else plan.prefix
    lead = len(prefix) + (_count_tokens(backend, instruction) if instruction else 0)
    spans = edge_spans(len(ids), min(lead, len(ids)), len(suffix), chunk_tokens)
    return prefix, content, suffix, spans


def _count_tokens(backend: Any, text: str) -> int:
    return len(backend.tokenizer(text, add_special_tokens=False)["input_ids"])


def _late_document(
    backend: Any, plan: EncodingPlan, layout: Layout, macro: int, overlap: int
) -> np.ndarray:
    """(n_chunks, embed_dim) float32: one forward over the document's macro windows, then the
    mean of the contextual states over each span."""
    from embharness.models.late_chunking import (
        LateChunkSettings,
        backend_token_states,
        contextual_states,
        pool_spans,
    )

    prefix, content, suffix, spans = layout
    settings = LateChunkSettings(max_length=macro, overlap=overlap)
    forward = backend_token_states(backend, plan.adapter)
    pad = backend.tokenizer.pad_token_id or 0
    states = contextual_states(forward, content, settings, prefix, suffix, True, pad)
    pooled: np.ndarray = pool_spans(states, spans).numpy()
    return pooled
