"""jina-embeddings-v3: XLM-RoBERTa with one LoRA adapter per task, mean pooling.

Sources: arXiv 2409.10173 (jina-embeddings-v3), the model card, and mteb 2.26's own wrapper
(task-type → adapter table, retrieval instructions, pinned revision).
"""

from __future__ import annotations

from embharness.specs.spec import ModelSpec

REVISION = "215a6e121fa0183376388ac6b1ae230326bfeaed"

ADAPTERS = {
    ("Retrieval", "query"): "retrieval.query",
    ("Retrieval", "document"): "retrieval.passage",
    # Not in mteb's table: retrieval-shaped types take the retrieval adapters (recorded as such).
    ("InstructionRetrieval", "query"): "retrieval.query",
    ("InstructionRetrieval", "document"): "retrieval.passage",
    ("InstructionReranking", "query"): "retrieval.query",
    ("InstructionReranking", "document"): "retrieval.passage",
    **{
        (task_type, side): "separation"
        for task_type in ("Clustering", "Reranking")
        for side in ("query", "document")
    },
    **{
        (task_type, side): "classification"
        for task_type in ("Classification", "PairClassification", "MultilabelClassification")
        for side in ("query", "document")
    },
    **{
        (task_type, side): "text-matching"
        for task_type in ("STS", "BitextMining", "Summarization")
        for side in ("query", "document")
    },
}

# mteb's wrapper adds instructions for the retrieval adapters only.
ADAPTER_INSTRUCTIONS = {
    "retrieval.query": "Represent the query for retrieving evidence documents: ",
    "retrieval.passage": "Represent the document for retrieval: ",
}

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
    adapters=ADAPTERS,
    default_adapter="text-matching",
    adapter_instructions=ADAPTER_INSTRUCTIONS,
    sources=(
        "arXiv 2409.10173 (adapters, Matryoshka dims 32-1024)",
        "mteb 2.26 jina_models.py (revision, task-type→adapter table, instructions)",
    ),
)
