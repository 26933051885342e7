"""jina-code-embeddings 0.5b / 1.5b.

Sources: arXiv 2508.21290v1 ("Efficient Code Embeddings from Code Generation Models", Jina AI,
2025), Table 4b for the task types and the model cards for the prefixes, pooling and dims.

The prompt table (:class:`~embharness.specs.spec.PromptTable`) has one ``"{task}-{side}"`` row
per side of each Table 4b task, with its type's prefix (``harness_chosen`` False). Tasks outside
Table 4b get harness fallbacks, each recording why: ``"{type}-{side}"`` rows give Retrieval and
InstructionRetrieval nl2code and Reranking qa; the ``"{side}"`` rows give every other type qa,
except on code tasks (``Programming`` domain or a ``-Code`` language), where the table's
``code_rows`` give code2code at that same ``"{side}"`` key. Every task and side is covered by a
row, so the table's default is never reached.
"""

from __future__ import annotations

from embharness.specs.spec import SIDES, ModelSpec, Prompt, PromptPair, PromptTable

SOURCES = (
    "arXiv 2508.21290v1, Table 4b (task types) and Appendix C (evaluation settings)",
    "huggingface.co/jinaai/jina-code-embeddings-0.5b model card (prefixes, pooling, dims)",
)

# Instruction prefixes per task type; prefix and text are joined with no separator.
PROMPT_TYPES: dict[str, PromptPair] = {
    "nl2code": PromptPair(
        "Find the most relevant code snippet given the following query:\n",
        "Candidate code snippet:\n",
    ),
    "qa": PromptPair(
        "Find the most relevant answer given the following question:\n",
        "Candidate answer:\n",
    ),
    "code2code": PromptPair(
        "Find an equivalent code snippet given the following code snippet:\n",
        "Candidate code snippet:\n",
    ),
    "code2nl": PromptPair(
        "Find the most relevant comment given the following code snippet:\n",
        "Candidate comment:\n",
    ),
    "code2completion": PromptPair(
        "Find the most relevant completion given the following start of code snippet:\n",
        "Candidate completion:\n",
    ),
}

# Paper Table 4b, by mteb task name (benchmarks mteb lacks are listed by the paper's name).
TASK_PROMPT_TYPES: dict[str, str] = {
    "AppsRetrieval": "nl2code",
    "CodeEditSearchRetrieval": "nl2code",
    "CodeSearchNetRetrieval": "nl2code",
    "CosQA": "nl2code",
    "HumanEvalRetrieval": "nl2code",
    "MBPPRetrieval": "nl2code",
    "SWEbenchCodeRetrieval": "nl2code",
    "SyntheticText2SQL": "nl2code",
    "WikiSQLRetrieval": "nl2code",
    "CodeChef": "nl2code",
    "CommitPackFT": "nl2code",
    "CoSQA+": "nl2code",
    "Doc2Code": "nl2code",
    "LeetCode": "nl2code",
    "Spider": "nl2code",
    "CodeFeedbackMT": "qa",
    "CodeFeedbackST": "qa",
    "DS1000Retrieval": "qa",
    "MLQuestions": "qa",
    "StackOverflowQA": "qa",
    "CodeChefXLang": "code2code",
    "CodeTransOceanContest": "code2code",
    "CodeTransOceanDL": "code2code",
    "COIRCodeSearchNetRetrieval": "code2nl",
    "CodeSearchNetCCRetrieval": "code2completion",
    # Offline tasks of this project, typed the way their mteb counterparts are.
    "HumanEvalRetrievalOffline": "nl2code",
    "PythonStdlibDocstringRetrieval": "nl2code",
}


OUTSIDE_TABLE = "{task} is not in the authors' task table"
# Harness fallbacks for tasks outside Table 4b, by mteb task type.
FALLBACK_PROMPT_TYPES = {
    "Retrieval": "nl2code",
    "InstructionRetrieval": "nl2code",
    "Reranking": "qa",
}
SYMMETRIC_CODE_PROMPT_TYPE = "code2code"
SYMMETRIC_TEXT_PROMPT_TYPE = "qa"


def _rows(key: str, prompt_type: str, reason: str | None = None) -> dict[str, Prompt]:
    """``"{key}-{side}"`` rows (or ``"{side}"`` rows for an empty key) for ``prompt_type``."""
    pair = PROMPT_TYPES[prompt_type]
    return {
        f"{key}-{side}" if key else side: Prompt(pair.for_side(side), None, prompt_type, reason)
        for side in SIDES
    }


def _prompt_table() -> PromptTable:
    """Table 4b's rows, then the harness fallbacks (see the module docstring)."""
    rows: dict[str, Prompt] = {}
    for task, prompt_type in TASK_PROMPT_TYPES.items():
        rows |= _rows(task, prompt_type)
    for task_type, prompt_type in FALLBACK_PROMPT_TYPES.items():
        reason = f"{OUTSIDE_TABLE}; harness fallback for task type {task_type}"
        rows |= _rows(task_type, prompt_type, reason)
    text = f"{OUTSIDE_TABLE}; harness fallback for text task type {{type}}"
    rows |= _rows("", SYMMETRIC_TEXT_PROMPT_TYPE, text)
    code = f"{OUTSIDE_TABLE}; harness fallback for symmetric code task type {{type}}"
    return PromptTable(rows, code_rows=_rows("", SYMMETRIC_CODE_PROMPT_TYPE, code))


PROMPTS = _prompt_table()

DTYPE_SOURCE = "arXiv 2508.21290v1, Appendix C: evaluated in FP16, batch size 8, length 8192"

# Whitespace (issue 9): the model card's transformers example tokenizes texts as given, while its
# sentence-transformers path (the one mteb runs sentence-transformers models through) strips
# each prompted text. With last-token pooling a trailing newline would itself be the pooled
# token, and code often ends in one: all 164 raw HumanEval solutions start with indentation and
# end in "\n" (scripts/count_whitespace.py). We follow the sentence-transformers path, the way
# a leaderboard run would see the model; `strip_whitespace: false` in a sweep gives the other.
STRIP_SOURCE = (
    "model card, sentence-transformers usage: its Transformer module strips each prompted text "
    "(the transformers example does not); a trailing newline would be the last-token-pooled token"
)


def _spec(
    size: str, embed_dim: int, dims: tuple[int, ...], n_params: int, rev: str | None
) -> ModelSpec:
    return ModelSpec(
        name=f"jinaai/jina-code-embeddings-{size}",
        revision=rev,
        loader="jina_code",
        embed_dim=embed_dim,
        matryoshka_dims=dims,
        max_tokens=32768,
        default_max_length=8192,
        pooling="last_token",
        padding_side="left",
        license="cc-by-nc-4.0",
        n_parameters=n_params,
        languages=("python", "eng"),
        reference=f"https://huggingface.co/jinaai/jina-code-embeddings-{size}",
        prompts=PROMPTS,
        dtype="float16",
        dtype_source=DTYPE_SOURCE,
        strip_whitespace=True,
        strip_source=STRIP_SOURCE,
        sources=SOURCES,
        # Leaderboard metadata (mteb's registry has no entry for these models).
        # Jina AI's release announcement ("Jina Code Embeddings: SOTA code retrieval at 0.5B
        # and 1.5B", jina.ai/news, 2025-09-04); the paper, arXiv 2508.21290v1, is from late August.
        release_date="2025-09-04",
        # Paper §3 and the README's reference facts: Qwen2.5-Coder-0.5B / -1.5B backbones.
        adapted_from=f"Qwen/Qwen2.5-Coder-{size.upper()}",
        # Per the paper's statement that it trains on the training splits of most benchmark
        # tasks (jina.ai's model page: "MTEB code tasks, CoSQA+, adapted public datasets, and
        # GPT-4o synthetic data"); the exact list is not published in our sources. mteb's task
        # metadata records eval splits only, so which training splits exist cannot be checked
        # per task: all 12 MTEB(Code, v1) tasks are declared (the conservative disclosure;
        # CodeEditSearchRetrieval is evaluated on its only split, "train").
        training_datasets=frozenset(
            {
                "AppsRetrieval",
                "COIRCodeSearchNetRetrieval",
                "CodeEditSearchRetrieval",
                "CodeFeedbackMT",
                "CodeFeedbackST",
                "CodeSearchNetCCRetrieval",
                "CodeSearchNetRetrieval",
                "CodeTransOceanContest",
                "CodeTransOceanDL",
                "CosQA",
                "StackOverflowQA",
                "SyntheticText2SQL",
            }
        ),
    )


# No hub commit is published in our sources, so no revision is pinned: a run must name one
# (`revision:` in the sweep or --revision); the harness never guesses "main".
JINA_CODE_05B = _spec("0.5b", 896, (64, 128, 256, 512, 896), 494_000_000, None)
JINA_CODE_15B = _spec("1.5b", 1536, (128, 256, 512, 1024, 1536), 1_540_000_000, None)
