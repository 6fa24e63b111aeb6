"""Turning raw text into a program the engine can work on, or a clear refusal.

Normalisation is deliberately small: line endings folded to LF, a leading BOM dropped,
blank lines trimmed at the two ends. Everything else (indentation, trailing whitespace,
comments) is kept verbatim, because the edit sequences must replay to exactly this text.
The program is parsed, never imported or executed.
"""

from __future__ import annotations

import ast
import hashlib
import re
import warnings
from dataclasses import dataclass

from .errors import ProgramRejected, RejectReason

DEFAULT_MAX_LINES = 10_000
DEFAULT_MAX_BYTES = 1_000_000

# Control characters that never appear in real source code; their presence means binary data.
_BINARY_BYTES = {chr(c) for c in range(0, 32)} - {"\t", "\n", "\r", "\x0c"}
_BINARY = re.compile("[" + "".join(sorted(_BINARY_BYTES)) + "]")
_BINARY_ASCII = "".join(sorted(_BINARY_BYTES)).encode("ascii")


@dataclass(frozen=True)
class Limits:
    """Size limits: above them a program is refused rather than slowly processed."""

    max_lines: int = DEFAULT_MAX_LINES
    max_bytes: int = DEFAULT_MAX_BYTES


def normalise_program(text: str) -> str:
    """Fold CRLF/CR to LF, drop a BOM, trim blank lines at both ends; keep the rest verbatim.

    The result has no trailing newline: lines are joined with "\\n", which is also how the
    forward diffs rebuild it.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    # Only the ends are looked at: splitting and re-joining every line would cost more.
    start = 0
    while True:
        newline = text.find("\n", start)
        if text[start:len(text) if newline < 0 else newline].strip():
            break
        if newline < 0:
            return ""  # every line is blank
        start = newline + 1
    end = len(text)
    while True:  # the line at `start` is not blank, so this stops at it at the latest
        newline = text.rfind("\n", start, end)
        if text[start if newline < 0 else newline + 1:end].strip():
            return text[start:end]
        end = newline


def program_id(normalised: str) -> str:
    """Content address of a normalised program: equal text, equal id, whatever the source."""
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class Program:
    """A validated, parsed program. `lines` is `text.split("\\n")`."""

    text: str
    lines: tuple[str, ...]
    tree: ast.Module
    program_id: str


def _coerce_text(raw: object) -> str:
    if isinstance(raw, bytes):
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ProgramRejected(RejectReason.NOT_TEXT, f"bytes that are not UTF-8 ({err.reason} at byte {err.start})") from None
    if not isinstance(raw, str):
        raise ProgramRejected(RejectReason.NOT_TEXT, f"expected text, got {type(raw).__name__}")
    return raw


def _does_something(stmt: ast.stmt) -> bool:
    """A bare name or constant as a statement is what prose that happens to parse looks like."""
    return not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, (ast.Name, ast.Constant)))


def _binary_character(text: str) -> str | None:
    """The first control character that marks binary data, or None.

    ASCII text (most programs) is checked by deleting those bytes and comparing lengths,
    several times cheaper than the regular expression, which finds the character otherwise.
    """
    if text.isascii():
        data = text.encode("ascii")
        if len(data.translate(None, _BINARY_ASCII)) == len(data):
            return None
    bad = _BINARY.search(text)
    return None if bad is None else bad.group()


def prepare_program(raw: object, limits: Limits = Limits()) -> Program:
    """Validate and parse `raw`; raise ProgramRejected with a stable reason if it cannot be used."""
    text = _coerce_text(raw)
    if len(text) > limits.max_bytes or len(text.encode("utf-8", errors="surrogatepass")) > limits.max_bytes:
        raise ProgramRejected(RejectReason.TOO_LONG, f"{len(text)} characters is over the {limits.max_bytes}-byte limit")
    bad = _binary_character(text)
    if bad is not None:
        raise ProgramRejected(RejectReason.BINARY, f"control byte {bad!r} found: binary data, not source code")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ProgramRejected(RejectReason.NOT_TEXT, "lone surrogate characters: not valid Unicode text") from None
    text = normalise_program(text)
    if not text:
        raise ProgramRejected(RejectReason.EMPTY, "no text after trimming blank lines")
    lines = tuple(text.split("\n"))
    if len(lines) > limits.max_lines:
        raise ProgramRejected(RejectReason.TOO_LONG, f"{len(lines)} lines is over the {limits.max_lines}-line limit")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarning for odd escapes is not our business
            tree = ast.parse(text, filename="<lintseq>")
    except (RecursionError, MemoryError) as err:
        raise ProgramRejected(RejectReason.TOO_DEEP, f"nesting too deep to parse ({type(err).__name__})") from None
    except SyntaxError as err:
        if "too many nested" in str(err.msg) or "too complex" in str(err.msg):
            raise ProgramRejected(RejectReason.TOO_DEEP, f"line {err.lineno}: {err.msg}") from None
        raise ProgramRejected(RejectReason.SYNTAX_ERROR, f"line {err.lineno}: {err.msg}") from None
    except ValueError as err:  # e.g. source code string cannot contain null bytes
        raise ProgramRejected(RejectReason.BINARY, str(err)) from None
    if not any(_does_something(stmt) for stmt in tree.body) and not _only_comments(lines):
        raise ProgramRejected(RejectReason.NOT_PYTHON, "parses, but has only bare names or constants: prose, not code")
    return Program(text=text, lines=lines, tree=tree, program_id=program_id(text))


def _only_comments(lines: tuple[str, ...]) -> bool:
    return all(not line.strip() or line.lstrip().startswith("#") for line in lines)
