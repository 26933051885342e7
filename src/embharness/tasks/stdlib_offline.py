"""CodeSearchNet-style docstring → function retrieval over the interpreter's standard library.

Built from the ``.py`` files under ``sysconfig.get_paths()["stdlib"]``, so the data is a pure
function of the Python version (recorded in the metadata). Recipe:

* files: every ``.py`` file, skipping folders ``test``, ``tests``, ``idle_test``, ``idlelib``,
  ``turtledemo``, ``pydoc_data``, ``site-packages``, ``dist-packages``, ``lib-dynload``,
  ``config-*`` and any
  module path with an underscore-prefixed part (private modules such as ``_pydecimal``;
  ``__init__`` names the package itself). Files that do not parse are skipped.
* functions: module-level functions and methods of (nested) classes whose qualified-name parts are
  all public (no leading underscore, so no dunders); functions nested in functions are skipped.
* query: the first paragraph of the cleaned docstring, whitespace-normalised; kept when it has at
  least 5 words.
* document: the function's source, decorators included, with the docstring statement removed and
  the block dedented. Functions whose remaining body is only ``pass``/``...`` are skipped.
* ids ``stdlib:<module>:<qualname>`` (queries ``q:``-, documents ``d:``-prefixed). Records
  are sorted by id; the first definition of an id wins, then queries or documents identical to
  an earlier record's are dropped.
"""

from __future__ import annotations

import ast
import os
import platform
import sysconfig
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from datasets import Dataset
from mteb.abstasks.retrieval_dataset_loaders import RetrievalSplitData

from embharness.tasks.built_cache import cached_rows
from embharness.tasks.code_metadata import BuiltRetrievalTask, code_retrieval_metadata

MIN_QUERY_WORDS = 5
SKIP_DIRS = frozenset(
    {
        "test",
        "tests",
        "idle_test",
        "idlelib",
        "turtledemo",
        "site-packages",
        "dist-packages",
        "lib-dynload",
        "__pycache__",
        "pydoc_data",
    }
)
_FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(frozen=True)
class StdlibRecord:
    """One function: ``key`` is ``stdlib:<module>:<qualname>``."""

    key: str
    query: str
    document: str


def stdlib_root() -> Path:
    """The interpreter's standard-library folder (its ``Lib/``)."""
    return Path(sysconfig.get_paths()["stdlib"])


def module_name(path: Path, root: Path) -> str | None:
    """Dotted module name of ``path`` under ``root``, or None when the file is skipped."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if any(p in SKIP_DIRS or p.startswith("config-") for p in parts[:-1]):
        return None
    if parts[-1] == "__init__":
        parts = parts[:-1]
    if not parts or any(p.startswith("_") or "-" in p for p in parts):
        return None
    return ".".join(parts)


def iter_modules(root: Path | None = None) -> Iterator[tuple[str, Path]]:
    """``(module, path)`` for every kept stdlib source file, sorted by path."""
    root = root or stdlib_root()
    paths: list[Path] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.startswith("config-")]
        paths.extend(Path(folder, f) for f in files if f.endswith(".py"))
    for path in sorted(paths):
        name = module_name(path, root)
        if name is not None:
            yield name, path


def first_paragraph(docstring: str) -> str:
    """The docstring's first paragraph (up to the first blank line), whitespace-normalised."""
    paragraph: list[str] = []
    for line in docstring.strip().splitlines():
        if not line.strip():
            break
        paragraph.append(line)
    return " ".join(" ".join(paragraph).split())


def _is_trivial(body: list[ast.stmt]) -> bool:
    if not body:
        return True
    if len(body) != 1:
        return False
    stmt = body[0]
    return isinstance(stmt, ast.Pass) or (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and stmt.value.value is Ellipsis
    )


def function_document(node: _FunctionNode, lines: list[str]) -> str | None:
    """Source of ``node`` (decorators included) without its docstring, dedented to column 0.

    None when the docstring shares a line with other code or nothing but ``pass``/``...`` remains.
    """
    doc = node.body[0]
    start = min([node.lineno] + [d.lineno for d in node.decorator_list])
    end = node.end_lineno or node.lineno
    doc_end = doc.end_lineno or doc.lineno
    if doc.lineno <= node.lineno or _is_trivial(node.body[1:]):
        return None
    if lines[doc.lineno - 1][: doc.col_offset].strip() or lines[doc_end - 1][
        doc.end_col_offset or 0 :
    ].strip() not in ("", ";"):
        return None
    kept = lines[start - 1 : doc.lineno - 1] + lines[doc_end:end]
    return "\n".join(_dedent_line(line, node.col_offset) for line in kept).strip("\n")


def _dedent_line(line: str, width: int) -> str:
    """Drop the definition's indentation; lines indented less (inside strings) stay as they are."""
    return line[width:] if not line[:width].strip() else line


def _iter_functions(body: list[ast.stmt], prefix: str = "") -> Iterator[tuple[str, _FunctionNode]]:
    for node in body:
        if not isinstance(node, _FunctionNode | ast.ClassDef) or node.name.startswith("_"):
            continue
        if isinstance(node, _FunctionNode):
            yield prefix + node.name, node
        elif isinstance(node, ast.ClassDef):
            yield from _iter_functions(node.body, f"{prefix}{node.name}.")


def module_records(module: str, path: Path) -> list[StdlibRecord]:
    """Records for the public documented functions of one source file."""
    try:
        with tokenize.open(path) as handle:
            source = handle.read()
        tree = ast.parse(source)
    except (SyntaxError, UnicodeDecodeError, ValueError, OSError):
        return []
    lines = source.splitlines()
    records = []
    for qualname, node in _iter_functions(tree.body):
        docstring = ast.get_docstring(node, clean=True)
        if not docstring:
            continue
        query = first_paragraph(docstring)
        if len(query.split()) < MIN_QUERY_WORDS:
            continue
        document = function_document(node, lines)
        if document:
            records.append(StdlibRecord(f"stdlib:{module}:{qualname}", query, document))
    return records


def build_records(root: Path | None = None) -> list[StdlibRecord]:
    """All kept records, sorted by key and deduplicated (see the module docstring)."""
    by_key: dict[str, StdlibRecord] = {}
    for module, path in iter_modules(root):
        for record in module_records(module, path):
            by_key.setdefault(record.key, record)
    seen_queries: set[str] = set()
    seen_documents: set[str] = set()
    kept = []
    for key in sorted(by_key):
        record = by_key[key]
        if record.query in seen_queries or record.document in seen_documents:
            continue
        seen_queries.add(record.query)
        seen_documents.add(record.document)
        kept.append(record)
    return kept


def load_records(root: Path | None = None) -> list[StdlibRecord]:
    """:func:`build_records`, read from the built-task cache when no input changed."""
    root = root or stdlib_root()
    rows = cached_rows(
        "stdlib",
        [Path(__file__)],
        (path for _, path in iter_modules(root)),
        lambda: [[r.key, r.query, r.document] for r in build_records(root)],
    )
    return [StdlibRecord(*row) for row in rows]


def build_split(root: Path | None = None) -> RetrievalSplitData:
    """The mteb test split built from :func:`load_records`."""
    records = load_records(root)
    return RetrievalSplitData(
        queries=Dataset.from_list([{"id": f"q:{r.key}", "text": r.query} for r in records]),
        corpus=Dataset.from_list(
            [{"id": f"d:{r.key}", "title": "", "text": r.document} for r in records]
        ),
        relevant_docs={f"q:{r.key}": {f"d:{r.key}": 1} for r in records},
        top_ranked=None,
    )


_PYTHON = platform.python_version()


class PythonStdlibDocstringRetrieval(BuiltRetrievalTask):
    """Docstring first paragraph → function source, over this interpreter's stdlib."""

    metadata = code_retrieval_metadata(
        name="PythonStdlibDocstringRetrieval",
        description=(
            f"CodeSearchNet-style docstring-to-code retrieval built offline from the Python "
            f"{_PYTHON} standard library (sysconfig stdlib folder; test suites, idlelib, "
            "turtledemo, site-packages and private modules skipped). Query: first paragraph of a "
            "public function's or method's docstring (>= 5 words, whitespace-normalised). "
            "Document: that function's source with decorators and without its docstring. One "
            "relevant document per query; sorted by stdlib:<module>:<qualname>, identical "
            "queries or documents deduplicated (first kept)."
        ),
        reference="https://docs.python.org/3/library/index.html",
        dataset={"path": "python-stdlib:Lib", "revision": f"python-{_PYTHON}"},
        date=("1991-02-20", "2023-12-31"),
        license="https://docs.python.org/3/license.html",
        bibtex_citation="",
    )

    build_split = staticmethod(build_split)
