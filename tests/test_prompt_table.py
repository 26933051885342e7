"""One prompt table per spec: mteb's ``model_prompts`` lookup order, and the jina tables as data."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import mteb
import pytest

from embharness.encoding.plans import is_code_task, resolve_plan
from embharness.errors import HarnessError
from embharness.run.cell_identity import task_adapter_label
from embharness.run.cells import _with_choices
from embharness.run.sweep import ModelEntry
from embharness.specs.jina_code import PROMPTS as CODE_PROMPTS
from embharness.specs.jina_code import TASK_PROMPT_TYPES
from embharness.specs.jina_v3 import PROMPTS as V3_PROMPTS
from embharness.specs.registry import get_spec
from embharness.specs.spec import Prompt, PromptTable, lookup_keys

CODE_05B = "jinaai/jina-code-embeddings-0.5b"
CODE_15B = "jinaai/jina-code-embeddings-1.5b"
V3 = "jinaai/jina-embeddings-v3"
MINILM = "sentence-transformers/all-MiniLM-L6-v2"

# SciFact is a Retrieval task: the five keys mteb tries for its query side, best first.
LEVELS = ["SciFact-query", "SciFact", "Retrieval-query", "Retrieval", "query"]
OUTSIDE = "{task} is not in the authors' task table"
NL2CODE = ("Find the most relevant code snippet given the following query:\n",)
NL2CODE += ("Candidate code snippet:\n",)
QA = ("Find the most relevant answer given the following question:\n", "Candidate answer:\n")
CODE2CODE = ("Find an equivalent code snippet given the following code snippet:\n",)
CODE2CODE += ("Candidate code snippet:\n",)
QUERY_INSTRUCTION = "Represent the query for retrieving evidence documents: "
PASSAGE_INSTRUCTION = "Represent the document for retrieval: "


def _spec(table: PromptTable):
    return replace(get_spec(MINILM), prompts=table)


def _metadata(name: str = "SciFact", **update: object):
    metadata = mteb.get_task("SciFact").metadata
    return metadata.model_copy(update={"name": name, **update})


def test_lookup_keys_follow_mteb_order() -> None:
    """The keys are mteb's get_prompt_name order: name-side, name, type-side, type, side."""
    assert list(lookup_keys("SciFact", "Retrieval", "query")) == LEVELS


@pytest.mark.parametrize("level", range(len(LEVELS)))
def test_each_level_wins_over_the_levels_below(level: int) -> None:
    """With rows at this level and every level below it, this level's row wins and is recorded."""
    rows = {key: Prompt(f"{key}: ", prompt_type=key) for key in LEVELS[level:]}
    plan = resolve_plan(_spec(PromptTable(rows, default=Prompt("default: "))), _metadata(), "query")
    assert (plan.prefix, plan.prompt_type) == (f"{LEVELS[level]}: ", LEVELS[level])
    assert plan.source == f"prompt table: {LEVELS[level]}"
    assert plan.harness_chosen is False


def test_every_level_at_once_name_and_side_wins() -> None:
    """All five levels present: the most specific key wins; the other side has its own row."""
    rows = {key: Prompt(key) for key in LEVELS} | {"SciFact-document": Prompt("doc")}
    spec = _spec(PromptTable(rows))
    assert resolve_plan(spec, _metadata(), "query").prefix == "SciFact-query"
    assert resolve_plan(spec, _metadata(), "document").source == "prompt table: SciFact-document"


def test_other_task_and_type_fall_through_to_side_then_default() -> None:
    """Rows of another task or type never match; the side row does, then the default."""
    rows = {"SciFact-query": Prompt("a"), "Retrieval": Prompt("b"), "query": Prompt("side")}
    spec = _spec(PromptTable(rows, default=Prompt("default", adapter="x")))
    other = _metadata("OtherTask", type="STS")
    assert resolve_plan(spec, other, "query").source == "prompt table: query"
    plan = resolve_plan(spec, other, "document")
    assert (plan.prefix, plan.adapter, plan.source) == ("default", "x", "prompt table: default")


def test_code_rows_win_at_their_key_only_on_code_tasks() -> None:
    """On a code task a code row beats the general row of the same key, never an earlier key."""
    table = PromptTable(
        {"Retrieval-query": Prompt("retrieval"), "query": Prompt("text")},
        code_rows={"query": Prompt("code")},
    )
    code = {"domains": ["Programming"]}
    spec = _spec(table)
    assert resolve_plan(spec, _metadata("T", type="STS", **code), "query").prefix == "code"
    plan = resolve_plan(spec, _metadata("T", type="STS", **code), "query")
    assert plan.source == "prompt table (code tasks): query"
    assert resolve_plan(spec, _metadata("T", type="STS"), "query").prefix == "text"
    assert resolve_plan(spec, _metadata("T", **code), "query").prefix == "retrieval"
    assert is_code_task(SimpleNamespace(domains=None, languages=["python-Code"]))  # type: ignore[arg-type]
    assert not is_code_task(SimpleNamespace(domains=["Web"], languages=["eng"]))  # type: ignore[arg-type]


def test_harness_reason_is_recorded_with_task_and_type() -> None:
    """A row with a harness reason marks the plan harness-chosen and names the task and type."""
    table = PromptTable({"query": Prompt("p", harness_reason="{task} of type {type} is a guess")})
    plan = resolve_plan(_spec(table), _metadata("T", type="STS"), "query")
    assert plan.harness_chosen is True
    assert plan.source == "prompt table: query; T of type STS is a guess"


def test_empty_table_takes_no_prompt() -> None:
    """MiniLM and generic specs: an empty table, texts as given."""
    for spec in (get_spec(MINILM), get_spec("st:some/model", embed_dim=8)):
        assert spec.prompts.is_empty and not spec.prompts.has_instructions
        plan = resolve_plan(spec, _metadata(), "query")
        assert (plan.prefix, plan.adapter, plan.prompt_type) == ("", None, None)
        assert plan.source == "model takes no prompt"


def test_use_instructions_truth_value() -> None:
    """mteb's use_instructions: True for the jina models, False for MiniLM and generic specs."""
    assert CODE_PROMPTS.has_instructions and V3_PROMPTS.has_instructions
    assert not PromptTable().has_instructions
    assert not PromptTable({"STS": Prompt("", adapter="x")}).has_instructions


def test_jina_code_table_rows() -> None:
    """Table 4b as task rows; the harness fallbacks as type, side and code rows."""
    for task, prompt_type in TASK_PROMPT_TYPES.items():
        assert CODE_PROMPTS.rows[f"{task}-query"].prompt_type == prompt_type
        assert CODE_PROMPTS.rows[f"{task}-document"].harness_reason is None
    assert CODE_PROMPTS.rows["HumanEvalRetrieval-query"] == Prompt(NL2CODE[0], None, "nl2code")
    assert CODE_PROMPTS.rows["CodeSearchNetCCRetrieval-document"] == Prompt(
        "Candidate completion:\n", None, "code2completion"
    )
    for task_type, pair, prompt_type in [
        ("Retrieval", NL2CODE, "nl2code"),
        ("InstructionRetrieval", NL2CODE, "nl2code"),
        ("Reranking", QA, "qa"),
    ]:
        reason = f"{OUTSIDE}; harness fallback for task type {task_type}"
        assert CODE_PROMPTS.rows[f"{task_type}-query"] == Prompt(pair[0], None, prompt_type, reason)
        assert CODE_PROMPTS.rows[f"{task_type}-document"] == Prompt(
            pair[1], None, prompt_type, reason
        )
    text = f"{OUTSIDE}; harness fallback for text task type {{type}}"
    assert CODE_PROMPTS.rows["query"] == Prompt(QA[0], None, "qa", text)
    assert CODE_PROMPTS.rows["document"] == Prompt(QA[1], None, "qa", text)
    code = f"{OUTSIDE}; harness fallback for symmetric code task type {{type}}"
    assert dict(CODE_PROMPTS.code_rows) == {
        "query": Prompt(CODE2CODE[0], None, "code2code", code),
        "document": Prompt(CODE2CODE[1], None, "code2code", code),
    }
    assert len(CODE_PROMPTS.rows) == 2 * len(TASK_PROMPT_TYPES) + 6 + 2
    assert CODE_PROMPTS.default == Prompt()


@pytest.mark.parametrize(
    ("task", "prompt_type", "source"),
    [
        ("HumanEvalRetrieval", "nl2code", "prompt table: HumanEvalRetrieval-query"),
        ("SciFact", "nl2code", "prompt table: Retrieval-query; SciFact is not in the authors' "
         "task table; harness fallback for task type Retrieval"),
        ("AskUbuntuDupQuestions", "qa", "prompt table: Reranking-query; AskUbuntuDupQuestions is "
         "not in the authors' task table; harness fallback for task type Reranking"),
        ("SprintDuplicateQuestions", "code2code", "prompt table (code tasks): query; "
         "SprintDuplicateQuestions is not in the authors' task table; harness fallback for "
         "symmetric code task type PairClassification"),
        ("STSBenchmark", "qa", "prompt table: query; STSBenchmark is not in the authors' task "
         "table; harness fallback for text task type STS"),
    ],
)  # fmt: skip
def test_jina_code_resolution_on_real_tasks(task: str, prompt_type: str, source: str) -> None:
    """Real mteb metadata: the authors' row, each fallback, and the code-task distinction."""
    for name in (CODE_05B, CODE_15B):
        plan = resolve_plan(get_spec(name), mteb.get_task(task).metadata, "query")
        assert (plan.prompt_type, plan.source) == (prompt_type, source)
        assert plan.harness_chosen is (task != "HumanEvalRetrieval")
        assert plan.strip is True


def test_jina_v3_table_rows() -> None:
    """mteb's JinaWrapper table: instructions on the retrieval adapters only, else no prompt."""
    separation, classification, matching = "separation", "classification", "text-matching"
    assert dict(V3_PROMPTS.rows) == {
        "Retrieval-query": Prompt(QUERY_INSTRUCTION, "retrieval.query"),
        "Retrieval-document": Prompt(PASSAGE_INSTRUCTION, "retrieval.passage"),
        "Clustering": Prompt("", separation),
        "Reranking": Prompt("", separation),
        "Classification": Prompt("", classification),
        "PairClassification": Prompt("", classification),
        "MultilabelClassification": Prompt("", classification),
        "STS": Prompt("", matching),
        "BitextMining": Prompt("", matching),
        "Summarization": Prompt("", matching),
    }
    assert V3_PROMPTS.default == Prompt("") and not V3_PROMPTS.code_rows
    assert V3_PROMPTS.instruction_for("retrieval.query") == QUERY_INSTRUCTION
    assert V3_PROMPTS.instruction_for(separation) == ""


def test_sweep_task_adapters_are_top_rows_with_their_instruction() -> None:
    """A sweep's opt-in is a task-side row over the type rows, with the adapter's instruction."""
    published = get_spec(V3)
    chosen = {"Core17InstructionRetrieval": {"query": "retrieval.query"}}
    chosen |= {"STSBenchmark": {"document": "classification"}}
    spec = _with_choices(published, ModelEntry(name=V3, task_adapters=chosen))
    core17 = mteb.get_task("Core17InstructionRetrieval").metadata
    plan = resolve_plan(spec, core17, "query")
    assert (plan.adapter, plan.prefix) == ("retrieval.query", QUERY_INSTRUCTION)
    assert plan.source == "prompt table: Core17InstructionRetrieval-query"
    assert resolve_plan(spec, core17, "document").adapter is None
    sts = mteb.get_task("STSBenchmark").metadata
    assert (
        resolve_plan(spec, sts, "document").adapter,
        resolve_plan(spec, sts, "query").adapter,
    ) == (
        "classification",
        "text-matching",
    )
    assert (
        task_adapter_label(spec.prompts, published.prompts, core17.name) == "query=retrieval.query"
    )
    assert task_adapter_label(spec.prompts, published.prompts, "STSBenchmark") == (
        "document=classification"
    )
    assert task_adapter_label(spec.prompts, published.prompts, "SciFact") is None
    assert spec.adapter_names == published.adapter_names


def test_instruction_for_rejects_conflicting_rows() -> None:
    """One adapter, two different instructions: an error naming the fix."""
    table = PromptTable({"STS": Prompt("a", "x"), "Clustering": Prompt("b", "x")})
    with pytest.raises(HarnessError, match="different instructions"):
        table.instruction_for("x")
