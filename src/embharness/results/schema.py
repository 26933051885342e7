"""The run record's schema: one documented, versioned type per section (cf. lm-eval's
``result_schema.py``). Written as JSON beside each result (``.../_embharness/<Task>.json``).

Versions:

- 1: records written before the schema had a version (no ``schema_version`` key).
- 2: adds ``schema_version``; ``settings.effective_batch_size`` and ``settings.oom_retries``
  beside the configured ``settings.batch_size``; ``settings.dtype_read_from``,
  ``settings.published_dtype`` and ``settings.strip_whitespace``; ``model.code_repo``,
  ``model.code_revision`` and ``model.flash_attn``.
- 3: adds ``settings.max_batch_tokens`` (the configured padded-token budget per batch, None:
  count-based batches) and ``settings.effective_max_batch_tokens`` (the budget the cell ended
  on after out-of-memory back-off; None: count-based, or nothing encoded).
- 4: adds ``settings.search``, the backend that ranked the corpus of a retrieval-type task:
  ``faiss`` (an exact ``IndexFlatIP`` passed to mteb's ``SearchEncoderWrapper`` as its
  ``index_backend``) or ``mteb`` (mteb's own chunked search; Reranking-type tasks always);
  None for a task without a search, and in records older than version 4.
- 5: adds ``model.attn_implementation``, the attention kernel the loaded model ran (read back
  from it: ``sdpa``, ``eager``, ``flash_attention_2``, or ``remote_code_default`` for remote
  code's own attention), and ``model.packed``: whether batches ran packed (texts concatenated
  into one row, no padding computed; flash-attention 2 on decoder models).
- 6: adds ``per_item``: the cell's per-item scores file beside the record
  (``_embharness/<Task>.items.parquet``, ``results.per_query``): ``file`` (its name, None
  when the task type has no per-item unit), ``unit`` (query, pair, sentence), ``statistic``
  (how the main score is computed from the items: mean, spearman, …), ``n_items``, and
  ``reason`` (why there are none, e.g. a classifier fitted on the train split).
- 7: adds ``settings.precision``, the precision a cell's vectors were ranked at (``float32``
  for a plain cell; ``float16``, ``int8``, ``ubinary``, ``binary-rescore`` for a precision grid
  point, ``run.grid``; its ``settings.search`` then names the same precision) and
  ``settings.rescore_top_k`` (the Hamming candidates rescored in float32; None but for
  ``binary-rescore``), and ``launch``: how the cell's job ran, ``launcher`` (``local``,
  ``slurm``, ``ray``), ``job_id`` (the SLURM array task or Ray task id; None locally) and
  ``host`` (the machine that computed it); None in older records.
- 8: adds ``two_stage``, set on a reranked result only (``embharness rerank``,
  ``run.two_stage``; None for a one-stage cell and in older records): ``first_stage`` (its
  ``model``, ``revision``, ``dim``, ``precision``, ``identity`` as the experiment name gives it,
  ``main_score``, ``wall_s``), ``reranker`` (``model``, ``revision``, ``kind``, ``dim``),
  ``top_k`` (candidates reranked per query), ``rerank_wall_s`` (wall time of the rerank
  stage), ``added_ms_per_query`` (that time per query) and ``predictions_file`` (the first
  stage's mteb predictions, beside the record). From this version ``settings.search`` may also
  name an ANN index with its parameters (``faiss-hnsw-M16-efc40-efs64``, ``run.ann``) or a
  chunked search (``late-c128-o32``, ``chunk_then_embed-c128``, ``run.late_chunk_search``).
- 9: ``settings.search`` may be ``torch``: the exact ``torch.topk`` index on the encoder's
  device passed to mteb as its ``index_backend`` (``run.exact_index``), the default for
  Retrieval-type tasks from this version (before it, ``mteb``). Same fields as version 8.
- 10: ``settings.batch_size`` and ``settings.max_batch_tokens`` are what the cell ran with: the
  sweep's where it set them, else the device's default (``models.device.DEVICE_BATCHING``:
  128 rows of at most 32,768 padded tokens on CUDA, 32 rows on CPU). Before it a sweep
  without them ran 32 rows, count-based, on every device. Same fields as version 9.
- 11: adds ``launch.process``: ``runner`` (the process that ran the sweep or the launcher's
  job) or ``score_worker`` (a ``run.score_pool`` worker that ranked and scored the cell from
  the embedding cache while the runner went on); None in older records.

- 12: adds ``launch.parts``: how many processes scored the cell, each a group of its subsets
  (``run.cell_parts``; 1 for a cell scored whole, None in older records). A cell scored in
  parts has its slowest part's ``timing`` and ``launch.process``, and every part's cache
  lookups and truncations. From this version a retrieval job's first cell sent to a score
  worker counts its encode pass (``run.encode_pass``): ``cache``, ``timing.encode_s``,
  ``settings.oom_retries`` and the effective batch are the pass's (plus the worker's own),
  ``timing.wall_s`` the pass's plus the cell's.

``upgrade_record`` reads any version and returns the current one, with fields an older record
lacks set to None, so every reader sees one shape.
"""

from __future__ import annotations

from typing import Any, TypedDict, cast

SCHEMA_VERSION = 12


class GitState(TypedDict):
    """The project's commit and whether the tree had uncommitted changes (None: unknown)."""

    sha: str | None
    dirty: bool | None


class ModelSection(TypedDict):
    """Which weights and code produced the vectors, and at which dim they were scored."""

    name: str
    revision: str | None
    dim: int
    full_dim: int
    loader: str
    pooling: str
    weights_path: str | None
    weights_hash: str | None
    peft_adapter: dict[str, str] | None
    code_repo: str | None
    code_revision: str | None
    flash_attn: bool | None
    attn_implementation: str | None
    packed: bool | None


class TaskSection(TypedDict):
    """The task, its dataset revision, the splits scored, the sample cap and the plan per side."""

    name: str
    type: str
    dataset_revision: str | None
    splits: list[str]
    max_samples: int | None
    plans: dict[str, dict[str, Any]]


class SettingsSection(TypedDict):
    """Configured settings, and what actually ran (effective batch size and token budget,
    loaded dtype)."""

    batch_size: int
    effective_batch_size: int | None
    max_batch_tokens: int | None
    effective_max_batch_tokens: int | None
    oom_retries: int | None
    dtype: str
    dtype_read_from: str | None
    published_dtype: str | None
    strip_whitespace: bool | None
    device: str
    max_length: int
    model_loaded: bool
    search: str | None
    precision: str | None
    rescore_top_k: int | None


class TimingSection(TypedDict):
    """Wall time of the cell, split into encoding and everything else (scoring)."""

    wall_s: float
    encode_s: float
    score_s: float


class CacheSection(TypedDict):
    """Embedding-cache hits and misses of the cell."""

    hits: int
    misses: int


class PerItemSection(TypedDict):
    """The cell's per-item scores: the file beside the record, or why there is none."""

    file: str | None
    unit: str | None
    statistic: str | None
    n_items: int | None
    reason: str | None


class LaunchSection(TypedDict):
    """How the cell's (model, task) job ran: the launcher, its job id, the host, the process
    that computed the cell (``runner`` or ``score_worker``) and how many processes scored it."""

    launcher: str
    job_id: str | None
    host: str
    process: str | None
    parts: int | None


class TwoStageSection(TypedDict):
    """A reranked result's first stage, reranker, top-k and the latency reranking added."""

    first_stage: dict[str, Any]
    reranker: dict[str, Any]
    top_k: int
    rerank_wall_s: float
    added_ms_per_query: float
    predictions_file: str


class RunRecord(TypedDict):
    """The run record of one (model, task, dim) cell."""

    schema_version: int
    embharness_version: str
    git: GitState
    model: ModelSection
    task: TaskSection
    settings: SettingsSection
    versions: dict[str, str]
    timing: TimingSection
    cache: CacheSection
    truncated_texts: int
    main_score: float
    per_item: PerItemSection
    launch: LaunchSection
    two_stage: TwoStageSection | None


SECTIONS: dict[str, type] = {
    "git": GitState,
    "model": ModelSection,
    "task": TaskSection,
    "settings": SettingsSection,
    "timing": TimingSection,
    "cache": CacheSection,
    "per_item": PerItemSection,
    "launch": LaunchSection,
    "two_stage": TwoStageSection,
}


def upgrade_record(data: dict[str, Any]) -> RunRecord:
    """Any stored record as the current version: missing fields are None, nothing is dropped."""
    record = {key: None for key in RunRecord.__annotations__} | dict(data)
    for name, section in SECTIONS.items():
        stored = record.get(name)
        if isinstance(stored, dict):
            record[name] = {key: None for key in section.__annotations__} | stored
    record["schema_version"] = SCHEMA_VERSION
    return cast(RunRecord, record)
