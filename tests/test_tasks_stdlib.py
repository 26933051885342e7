"""PythonStdlibDocstringRetrieval: docstring first paragraph → function source from the stdlib."""

from __future__ import annotations

import ast
import inspect
import json
import platform
import sysconfig
from pathlib import Path

import pytest

from embharness.tasks.stdlib_offline import (
    PythonStdlibDocstringRetrieval,
    build_records,
    first_paragraph,
    function_document,
    load_records,
    module_name,
)

MODULE = '''def area(width, height):
    """Return the area of a rectangle of the given size."""
    return width * height
'''


@pytest.fixture(scope="module")
def records():
    return build_records()


def test_thousands_of_records_with_unique_ids_queries_and_documents(records) -> None:
    assert len(records) > 2000
    keys = [r.key for r in records]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)
    assert len({r.query for r in records}) == len(records)
    assert len({r.document for r in records}) == len(records)


def test_keys_name_public_functions_of_kept_modules(records) -> None:
    for record in records:
        prefix, module, qualname = record.key.split(":")
        assert prefix == "stdlib"
        parts = [*module.split("."), *qualname.split(".")]
        assert not any(p.startswith("_") for p in parts), record.key
        assert not {"test", "tests", "idlelib", "turtledemo"} & set(module.split(".")), record.key


def test_queries_have_at_least_five_words_and_one_paragraph(records) -> None:
    for record in records:
        assert len(record.query.split()) >= 5
        assert record.query == " ".join(record.query.split())
        assert "\n" not in record.query


def test_documents_are_functions_without_docstrings(records) -> None:
    for record in records:
        tree = ast.parse(record.document)
        (node,) = tree.body
        assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef), record.key
        assert node.name == record.key.rsplit(".", 1)[-1].rsplit(":", 1)[-1]
        assert ast.get_docstring(node) is None, record.key


def test_known_function_against_inspect(records) -> None:
    """json.dumps: query and document recomputed from the live function with inspect."""
    import json as json_module

    record = next(r for r in records if r.key == "stdlib:json:dumps")
    docstring = inspect.getdoc(json_module.dumps)
    expected_query = " ".join(docstring.split("\n\n")[0].split())
    assert record.query == expected_query
    source = inspect.getsource(json_module.dumps)
    assert record.document.startswith("def dumps(obj, *, skipkeys=False")
    assert docstring.splitlines()[0].strip() not in record.document
    body_lines = [line for line in source.splitlines() if line.strip()]
    assert record.document.splitlines()[-1] == body_lines[-1]
    assert len(record.document) < len(source)


def test_method_keeps_decorators(records) -> None:
    """Decorators stay in the document, stacked ones too (methods chosen to exist, decorated
    alike, on Python 3.11 to 3.13: 3.13 moved pathlib.Path into a private module)."""
    by_key = {r.key: r for r in records}
    lines = by_key["stdlib:fractions:Fraction.from_float"].document.splitlines()
    assert lines[:2] == ["@classmethod", "def from_float(cls, f):"]
    lines = by_key["stdlib:ipaddress:IPv4Address.is_private"].document.splitlines()
    assert lines[:2] == ["@property", "@functools.lru_cache()"]
    assert lines[2].startswith("def is_private(self)")


def test_first_paragraph_and_docstring_removal_on_a_snippet() -> None:
    source = (
        "class K:\n"
        "    @staticmethod\n"
        "    def f(x):\n"
        '        """Return the square of x, always.\n'
        "        Second line.\n"
        "\n"
        "        Details that are not in the query.\n"
        '        """\n'
        "        y = x * x\n"
        "        return y\n"
    )
    node = ast.parse(source).body[0].body[0]
    assert (
        first_paragraph(ast.get_docstring(node)) == "Return the square of x, always. Second line."
    )
    document = function_document(node, source.splitlines())
    assert document == "@staticmethod\ndef f(x):\n    y = x * x\n    return y"


def test_module_names_skip_tests_and_private_modules() -> None:
    root = Path("/lib")
    assert module_name(root / "json" / "decoder.py", root) == "json.decoder"
    assert module_name(root / "email" / "__init__.py", root) == "email"
    assert module_name(root / "test" / "test_json.py", root) is None
    assert module_name(root / "lib2to3" / "tests" / "test_all.py", root) is None
    assert module_name(root / "_pydecimal.py", root) is None
    assert module_name(root / "idlelib" / "editor.py", root) is None


def test_build_is_deterministic(records) -> None:
    assert build_records() == records


def test_cached_records_are_read_back_and_rebuilt_when_an_input_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMBHARNESS_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "Lib"
    (root / "geometry").mkdir(parents=True)
    (root / "geometry" / "shapes.py").write_text(MODULE)
    first = load_records(root)
    assert first == build_records(root) and [r.key for r in first] == [
        "stdlib:geometry.shapes:area"
    ]
    [stored] = (tmp_path / "cache" / "tasks").glob("stdlib-*.json")
    # A stored file is what the next load returns: edit it and the edit comes back.
    stored.write_text(json.dumps([["stdlib:m:f", "a query from the cache file", "def f(): ..."]]))
    assert [r.query for r in load_records(root)] == ["a query from the cache file"]
    stored.write_text("{not json")  # unreadable: rebuilt and replaced
    assert load_records(root) == first and json.loads(stored.read_text())[0][0] == first[0].key
    # A changed input names another key: built afresh, the new function included.
    extra = (
        '    """Return the perimeter of a rectangle of the given size."""\n    return 2 * (w + h)\n'
    )
    (root / "geometry" / "shapes.py").write_text(MODULE + "\n\ndef perimeter(w, h):\n" + extra)
    again = load_records(root)
    assert [r.key for r in again] == [
        "stdlib:geometry.shapes:area",
        "stdlib:geometry.shapes:perimeter",
    ]
    assert len(list((tmp_path / "cache" / "tasks").glob("stdlib-*.json"))) == 2


def test_task_metadata_and_split(records) -> None:
    task = PythonStdlibDocstringRetrieval()
    version = platform.python_version()
    assert task.metadata.dataset["revision"] == f"python-{version}"
    assert version in task.metadata.description
    assert Path(sysconfig.get_paths()["stdlib"]).is_dir()
    task.load_data()
    split = task.dataset["default"]["test"]
    assert len(split["queries"]) == len(split["corpus"]) == len(records)
    assert all(len(docs) == 1 for docs in split["relevant_docs"].values())
    assert split["relevant_docs"]["q:stdlib:json:dumps"] == {"d:stdlib:json:dumps": 1}
