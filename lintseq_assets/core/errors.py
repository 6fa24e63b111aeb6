"""Stable reason codes for programs the engine refuses.

Codes are part of the data contract (they land in the `rejects` table and in the CLI's
rejects file), so they never change meaning; add new ones instead.
"""

from __future__ import annotations

from enum import Enum


class RejectReason(str, Enum):
    """Why a program was refused. The value is what is stored."""

    NOT_TEXT = "not_text"  # the value is not a string (None, a number, bytes that are not UTF-8)
    BINARY = "binary"  # NUL bytes or other control bytes that do not occur in source code
    EMPTY = "empty"  # empty or whitespace-only
    TOO_LONG = "too_long"  # over the configured line or byte limit
    SYNTAX_ERROR = "syntax_error"  # does not parse with the running Python
    NOT_PYTHON = "not_python"  # parses, but holds no statement that does anything
    TOO_DEEP = "too_deep"  # nesting blows the parser's or the linter's recursion limit


class ProgramRejected(ValueError):
    """Raised when a program cannot be turned into edit sequences.

    It carries a stable `reason` code and a human-readable `detail` so that callers can
    record the refusal and carry on with the rest of the batch.
    """

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail
