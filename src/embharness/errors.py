"""User-facing errors: one clear line naming the problem and the fix."""

from __future__ import annotations


class HarnessError(Exception):
    """An error caused by the user's input or environment, shown as one line.

    The CLI prints ``error: <problem> — fix: <fix>`` and exits non-zero, with no traceback.
    """

    def __init__(self, problem: str, fix: str = "") -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """Render the error as a single line."""
        text = self.problem.replace("\n", " ")
        if self.fix:
            text += f" — fix: {self.fix}"
        return text
