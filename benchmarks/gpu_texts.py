"""The texts of ``bench_gpu.py``: the offline stdlib task's records (built without mteb) and
the sides of one retrieval run, prompted as the spec says."""

from __future__ import annotations

import ast
import importlib.util
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TASK_NAME = "PythonStdlibDocstringRetrieval"  # the offline task whose prompt rows we use

# ---------------------------------------------------------------------------------- texts


def stdlib_records() -> list[Any]:
    """``build_records()`` of ``embharness.tasks.stdlib_offline``, without importing mteb.

    That module imports mteb and datasets at the top (for its mteb task class), so importing it
    needs mteb. Its recipe itself uses only the standard library: this runs the module's own
    source minus every non-stdlib import and every top-level statement that uses (directly or
    through another dropped one) a name those imports bound, so the texts are exactly the task's.
    """
    found = importlib.util.find_spec("embharness.tasks.stdlib_offline")
    if found is None or found.origin is None:
        raise SystemExit("embharness.tasks.stdlib_offline not found: put the project's src first")
    tree = ast.parse(Path(found.origin).read_text(encoding="utf-8"))
    dropped: set[str] = set()
    kept: list[ast.stmt] = []
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            imported = node.module if isinstance(node, ast.ImportFrom) else names[0]
            root = (imported or "").split(".")[0]
            if root != "__future__" and root not in sys.stdlib_module_names:
                dropped.update((a.asname or a.name).split(".")[0] for a in node.names)
                continue
        elif {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} & dropped:
            dropped.update(_defined_names(node))
            continue
        kept.append(node)
    module = types.ModuleType("_bench_stdlib_offline")
    module.__file__ = found.origin
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(ast.Module(kept, []), found.origin, "exec"), module.__dict__)
    if not callable(getattr(module, "build_records", None)):
        raise SystemExit("stdlib_offline.build_records now needs mteb: update stdlib_records()")
    records: list[Any] = module.build_records()
    return records


def _defined_names(node: ast.stmt) -> set[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {node.name}
    targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
    return {n.id for t in targets if t is not None for n in ast.walk(t) if isinstance(n, ast.Name)}


@dataclass
class Side:
    """One encode call's worth of texts: a side of the task, its prefix and adapter applied."""

    name: str
    texts: list[str]
    adapter: str | None


def task_sides(spec_name: str, records: list[Any], n_texts: int) -> list[Side]:
    """Every k-th record's query and document, prompted by the spec's table for the stdlib task."""
    from embharness.encoding.plans import resolve_plan
    from embharness.specs.registry import get_spec

    spec = get_spec(spec_name)
    # The fields of mteb's TaskMetadata that the prompt-table lookup reads.
    metadata = types.SimpleNamespace(
        name=TASK_NAME, type="Retrieval", domains=["Programming"], languages=["python-Code"]
    )
    n_records = max(1, n_texts // 2)
    step = max(1, len(records) // n_records)
    chosen = records[::step][:n_records]
    sides = []
    for side, attr in (("query", "query"), ("document", "document")):
        plan = resolve_plan(spec, metadata, side)
        texts = [plan.model_input(getattr(r, attr)) for r in chosen]
        sides.append(Side(side, texts, plan.adapter))
    return sides


def long_texts(records: list[Any], n: int, chars: int) -> list[str]:
    """``n`` different texts of at least ``chars`` characters: documents run together."""
    documents = [r.document for r in records]
    out = []
    for i in range(n):
        parts, size, j = [], 0, i * 7
        while size < chars:
            parts.append(documents[j % len(documents)])
            size += len(parts[-1]) + 2
            j += 1
        out.append("\n\n".join(parts))
    return out
