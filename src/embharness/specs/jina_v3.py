"""jina-embeddings-v3: XLM-RoBERTa with one LoRA adapter per task, mean pooling.

Sources: arXiv 2409.10173 (jina-embeddings-v3), the model card, and mteb 2.26's own wrapper
(task-type → adapter table, retrieval instructions, pinned revision).
"""

from __future__ import annotations

from embharness.specs.spec import ModelSpec, Prompt, PromptTable

REVISION = "215a6e121fa0183376388ac6b1ae230326bfeaed"

# The model's LoRA adapters, in its `lora_adaptations` order (model card).
ADAPTER_NAMES: tuple[str, ...] = (
    "retrieval.query",
    "retrieval.passage",
    "separation",
    "classification",
)
ADAPTER_NAMES += ("text-matching",)

# mteb's wrapper adds instructions for the retrieval adapters only.
QUERY_INSTRUCTION = "Represent the query for retrieving evidence documents: "
PASSAGE_INSTRUCTION = "Represent the document for retrieval: "

# Adapters shared by both sides, by mteb task type.
SYMMETRIC_ADAPTERS = {
    "Clustering": "separation",
    "Reranking": "separation",
    "Classification": "classification",
    "PairClassification": "classification",
    "MultilabelClassification": "classification",
    "STS": "text-matching",
    "BitextMining": "text-matching",
    "Summarization": "text-matching",
}

# mteb 2.26.24 JinaWrapper's `model_prompts` (mteb/models/model_implementations/jina_models.py)
# as one prompt table: only these task types get an adapter. Every other type
# (InstructionRetrieval, InstructionReranking, Regression, ...) falls to the default row, no
# adapter and no instruction, as the public results for Core17/News21/Robust04InstructionRetrieval
# were made. A sweep may opt a task into another adapter (`task_adapters:`): ``"{task}-{side}"``
# rows on top of this table, which then name an experiment.
PROMPTS = PromptTable(
    rows={
        "Retrieval-query": Prompt(QUERY_INSTRUCTION, "retrieval.query"),
        "Retrieval-document": Prompt(PASSAGE_INSTRUCTION, "retrieval.passage"),
        **{task_type: Prompt("", adapter) for task_type, adapter in SYMMETRIC_ADAPTERS.items()},
    },
    default=Prompt(""),
)

# The modeling code: config.json's `auto_map` points at this second repository. transformers
# applies the model revision only to the model's own repository, so the code needs its own pin
# (`code_revision:`); no source available to us gives that commit, so none is pinned here.
CODE_REPO = "jinaai/xlm-roberta-flash-implementation"

DTYPE_SOURCE = (
    "the checkpoint's own dtype, bfloat16 (config.json torch_dtype), which is what mteb loads: "
    f"{CODE_REPO} modeling_xlm_roberta.py, XLMRobertaPreTrainedModel.from_pretrained defaults "
    "torch_dtype='auto', and configuration_xlm_roberta.py, XLMRobertaFlashConfig.__init__, keeps "
    "the config's dtype with flash-attn on CUDA and falls back to float32 otherwise"
)
STRIP_SOURCE = (
    "mteb runs v3 through sentence-transformers (JinaWrapper), whose custom_st module strips "
    "each prompted text before tokenizing"
)

JINA_V3 = ModelSpec(
    name="jinaai/jina-embeddings-v3",
    revision=REVISION,
    loader="jina_v3",
    embed_dim=1024,
    matryoshka_dims=(32, 64, 128, 256, 512, 768, 1024),
    max_tokens=8194,
    default_max_length=8192,
    pooling="mean",
    license="cc-by-nc-4.0",
    n_parameters=572_000_000,
    trust_remote_code=True,
    reference="https://huggingface.co/jinaai/jina-embeddings-v3",
    prompts=PROMPTS,
    adapter_names=ADAPTER_NAMES,
    dtype="bfloat16",
    dtype_source=DTYPE_SOURCE,
    strip_whitespace=True,
    strip_source=STRIP_SOURCE,
    code_repo=CODE_REPO,
    sources=(
        "arXiv 2409.10173 (adapters, Matryoshka dims 32-1024)",
        "mteb 2.26 jina_models.py (revision, task-type→adapter table, instructions)",
        f"{CODE_REPO} configuration_xlm_roberta.py and modeling_xlm_roberta.py (dtype)",
    ),
)
