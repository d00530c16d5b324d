"""Errors worded for the person who supplied the input: one line, naming the file and the fix."""

from __future__ import annotations

from pathlib import Path


def one_line(text: str) -> str:
    """Collapse all whitespace, newlines included, to single spaces."""
    return " ".join(str(text).split())


class ImageError(Exception):
    """A problem with an input file, worded for the person who supplied it.

    ``str(error)`` is always a single line: ``"<path>: <what is wrong>. <what to do>"``.
    """

    def __init__(self, path: Path | str, problem: str, fix: str = "") -> None:
        self.path = Path(path)
        self.problem = one_line(problem).rstrip(".")
        self.fix = one_line(fix)
        message = f"{self.path}: {self.problem}."
        if self.fix:
            message += f" {self.fix}"
        super().__init__(message)
