"""Long-document retrieval over the interpreter's standard library: docstring → whole module.

Built to measure what truncation loses (late chunking, issue 14): every document is a whole
stdlib module, far longer than a 256- or 512-token model window, and every query describes a
function defined *deep* inside its module, beyond the first ``MIN_OFFSET`` characters, so a
model that reads only the start of a document never sees the answer. A pure function of the
Python version (recorded in the metadata). Recipe:

* modules: ``stdlib_offline.iter_modules`` (the same skipped folders and private modules), parsed
  with ``ast``; files that do not parse are skipped.
* document: the module source with the docstring of every function and method removed (the
  docstring statement's lines, when it has lines of its own; module and class docstrings stay),
  so no query appears verbatim in its document. Kept when it is ``MIN_CHARS`` to ``MAX_CHARS``
  characters long (about 1.5 k to 6 k tokens for a BERT tokenizer).
* query candidates: the module's public functions and methods (``stdlib_offline``'s rule: all
  qualified-name parts public, no functions nested in functions) whose docstring's first
  paragraph, whitespace-normalised, has at least 5 words, and whose ``def`` line (or first
  decorator) starts at least ``MIN_OFFSET`` characters into the document.
* queries: up to ``QUERIES_PER_MODULE`` candidates per module, evenly spaced in source order
  (first, middle, last). A query text that occurs more than once in the whole task is dropped
  everywhere (its gold would be ambiguous); a module left without queries stays in the corpus.
* ids: documents ``d:stdlib-long:<module>``, queries ``q:stdlib-long:<module>:<qualname>``;
  each query has exactly one relevant document, its own module. Records are sorted by id.
"""

from __future__ import annotations

import ast
import platform
import tokenize
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datasets import Dataset
from mteb.abstasks.retrieval_dataset_loaders import RetrievalSplitData

from embharness.tasks import stdlib_offline
from embharness.tasks.built_cache import cached_rows
from embharness.tasks.code_metadata import BuiltRetrievalTask, code_retrieval_metadata
from embharness.tasks.stdlib_offline import (
    MIN_QUERY_WORDS,
    _iter_functions,
    first_paragraph,
    iter_modules,
)

MIN_CHARS = 6_000
MAX_CHARS = 20_000
MIN_OFFSET = 4_000
QUERIES_PER_MODULE = 3
_FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(frozen=True)
class LongDocModule:
    """One module: its document text and its ``(qualname, query)`` pairs in source order."""

    module: str
    document: str
    queries: tuple[tuple[str, str], ...]


def _docstring_lines(node: _FunctionNode, lines: list[str]) -> range | None:
    """The 1-based line numbers of ``node``'s docstring statement, when it owns those lines."""
    if ast.get_docstring(node, clean=False) is None:
        return None
    doc = node.body[0]
    end = doc.end_lineno or doc.lineno
    if doc.lineno <= node.lineno or lines[doc.lineno - 1][: doc.col_offset].strip():
        return None
    if lines[end - 1][doc.end_col_offset or 0 :].strip() not in ("", ";"):
        return None
    return range(doc.lineno, end + 1)


def strip_function_docstrings(tree: ast.Module, lines: list[str]) -> tuple[str, dict[int, int]]:
    """The source without function/method docstrings, and each kept line's character offset
    in it (1-based original line number → offset)."""
    dropped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, _FunctionNode):
            dropped.update(_docstring_lines(node, lines) or ())
    offsets: dict[int, int] = {}
    kept: list[str] = []
    position = 0
    for number, line in enumerate(lines, start=1):
        if number in dropped:
            continue
        offsets[number] = position
        kept.append(line)
        position += len(line) + 1
    return "\n".join(kept), offsets


def _candidates(tree: ast.Module, offsets: dict[int, int]) -> list[tuple[str, str]]:
    """``(qualname, query)`` of the functions defined at least ``MIN_OFFSET`` characters in."""
    found = []
    for qualname, node in _iter_functions(tree.body):
        docstring = ast.get_docstring(node, clean=True)
        start = min([node.lineno] + [d.lineno for d in node.decorator_list])
        if not docstring or offsets.get(start, 0) < MIN_OFFSET:
            continue
        query = first_paragraph(docstring)
        if len(query.split()) >= MIN_QUERY_WORDS:
            found.append((qualname, query))
    return found


def evenly_spaced(items: list[Any], count: int) -> list[Any]:
    """Up to ``count`` of ``items``: the first, the last and evenly spaced ones between."""
    if len(items) <= count:
        return list(items)
    if count == 1:
        return [items[0]]
    return [items[round(i * (len(items) - 1) / (count - 1))] for i in range(count)]


def read_module(module: str, path: Path) -> LongDocModule | None:
    """One module's document and query candidates, or None when it is skipped."""
    try:
        with tokenize.open(path) as handle:
            source = handle.read()
        tree = ast.parse(source)
    except (SyntaxError, UnicodeDecodeError, ValueError, OSError):
        return None
    document, offsets = strip_function_docstrings(tree, source.splitlines())
    if not MIN_CHARS <= len(document) <= MAX_CHARS:
        return None
    queries = evenly_spaced(_candidates(tree, offsets), QUERIES_PER_MODULE)
    return LongDocModule(module, document, tuple(queries))


def build_modules(root: Path | None = None) -> list[LongDocModule]:
    """Every kept module, sorted by name, with queries occurring more than once dropped."""
    modules = [m for m in (read_module(n, p) for n, p in iter_modules(root)) if m is not None]
    modules.sort(key=lambda m: m.module)
    counts = Counter(query for m in modules for _, query in m.queries)
    return [
        LongDocModule(m.module, m.document, tuple(q for q in m.queries if counts[q[1]] == 1))
        for m in modules
    ]


def load_modules(root: Path | None = None) -> list[LongDocModule]:
    """:func:`build_modules`, read from the built-task cache when no input changed."""
    rows = cached_rows(
        "stdlib-long",
        [Path(__file__), Path(stdlib_offline.__file__)],
        (path for _, path in iter_modules(root)),
        lambda: [[m.module, m.document, [list(q) for q in m.queries]] for m in build_modules(root)],
    )
    return [
        LongDocModule(name, text, tuple((q, t) for q, t in pairs)) for name, text, pairs in rows
    ]


def build_split(root: Path | None = None) -> RetrievalSplitData:
    """The mteb test split built from :func:`load_modules`."""
    modules = load_modules(root)
    queries = sorted(
        (f"q:stdlib-long:{m.module}:{qualname}", text, f"d:stdlib-long:{m.module}")
        for m in modules
        for qualname, text in m.queries
    )
    return RetrievalSplitData(
        queries=Dataset.from_list([{"id": qid, "text": text} for qid, text, _ in queries]),
        corpus=Dataset.from_list(
            [{"id": f"d:stdlib-long:{m.module}", "title": "", "text": m.document} for m in modules]
        ),
        relevant_docs={qid: {doc: 1} for qid, _, doc in queries},
        top_ranked=None,
    )


_PYTHON = platform.python_version()


class StdlibLongDocRetrievalOffline(BuiltRetrievalTask):
    """Function docstring → the whole stdlib module defining it (documents of 6 k–20 k chars)."""

    metadata = code_retrieval_metadata(
        name="StdlibLongDocRetrievalOffline",
        description=(
            f"Long-document retrieval built offline from the Python {_PYTHON} standard library "
            "(the modules PythonStdlibDocstringRetrieval reads). Document: a whole module's "
            f"source, function and method docstrings removed, {MIN_CHARS}-{MAX_CHARS} "
            "characters. Query: the first paragraph (>= 5 words) of the docstring of a public "
            f"function or method defined at least {MIN_OFFSET} characters into its module, up "
            f"to {QUERIES_PER_MODULE} per module evenly spaced in source order; query texts "
            "occurring twice are dropped. One relevant document per query: its module."
        ),
        reference="https://docs.python.org/3/library/index.html",
        dataset={"path": "python-stdlib:Lib:long-docs", "revision": f"python-{_PYTHON}"},
        date=("1991-02-20", "2023-12-31"),
        license="https://docs.python.org/3/license.html",
        bibtex_citation="",
    )

    build_split = staticmethod(build_split)
