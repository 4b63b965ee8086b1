"""Compile errors a user can act on: file:line:col, the source line, a caret, a hint."""
from __future__ import annotations


class AdcError(Exception):
    """Base class of every error adc reports to a user (never shown with a traceback)."""


class CompileError(AdcError):
    """A mistake in a model file, located at a line and column (both 1-based)."""

    def __init__(self, message, *, path="<model>", line=0, col=0, source_line="", hint=""):
        self.message = message
        self.path = path
        self.line = line
        self.col = col
        self.source_line = source_line
        self.hint = hint
        super().__init__(self.format())

    def format(self) -> str:
        where = f"{self.path}:{self.line}:{self.col}" if self.line else self.path
        parts = [f"{where}: error: {self.message}"]
        if self.source_line:
            parts.append("    " + self.source_line.rstrip())
            parts.append("    " + " " * max(self.col - 1, 0) + "^")
        if self.hint:
            parts.append(f"hint: {self.hint}")
        return "\n".join(parts)


class Located(AdcError):
    """An error raised deep in lowering; the frontend attaches the location of its node."""

    def __init__(self, message, hint=""):
        self.message = message
        self.hint = hint
        super().__init__(message)
