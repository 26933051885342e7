"""The package layout: each pipeline stage imports only from the stages before it."""

from __future__ import annotations

import re
from pathlib import Path

import embharness

# Shared utilities first, then the stages in pipeline order, then the command line.
ORDER = ["errors", "atomic", "hashing", "paths", "hub", "specs", "tasks", "models", "encoding"]
ORDER += ["results", "run", "gate", "report", "commands", "cli"]
IMPORT = re.compile(r"^\s*(?:from|import) embharness\.(\w+)", re.MULTILINE)


def _imports() -> list[tuple[str, str, str]]:
    root = Path(embharness.__file__).parent
    found = []
    for path in sorted(root.rglob("*.py")):
        stage = path.relative_to(root).parts[0].removesuffix(".py")
        for target in IMPORT.findall(path.read_text(encoding="utf-8")):
            found.append((str(path.relative_to(root)), stage, target))
    return found


def test_every_module_belongs_to_a_known_stage() -> None:
    stages = {stage for _, stage, _ in _imports()} | {t for _, _, t in _imports()}
    assert stages - {"__init__"} <= set(ORDER)


def test_no_import_points_upward() -> None:
    rank = {name: i for i, name in enumerate(ORDER)}
    upward = [
        (path, target)
        for path, stage, target in _imports()
        if stage != "__init__" and target != stage and rank[target] > rank[stage]
    ]
    assert upward == []
    assert len(_imports()) > 100  # the scan really read the package
