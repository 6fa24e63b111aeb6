"""Taking the Python code out of a markdown answer, or saying there is none.

Rules, in order (the first that yields code wins):

1. Fenced blocks labelled `python`/`py` (also `python3`, `py3`): all of them, joined in
   document order with a blank line between. A labelled block is taken even if it does not
   parse: it *is* code, and the parse filter rejects it later with `syntax_error`.
2. Otherwise, unlabelled fenced blocks that parse as Python and do something (not a bare
   name or constant, which is what one word of output looks like), joined in order.
   Blocks labelled with another language (bash, json, text...) are never taken.
   Unlabelled blocks are a fallback only: next to labelled code they are usually output.
3. Otherwise, if the answer has no fence at all, the whole answer when it parses as Python.
4. Otherwise the record is rejected `no_code`: we do not guess at code inside prose.

Nothing is executed; parsing is `ast.parse` only.
"""

from __future__ import annotations

import ast
import re
import warnings
from dataclasses import dataclass

PYTHON_LABELS = frozenset({"python", "py", "python3", "py3"})

# CommonMark fences: up to 3 spaces of indent, 3+ backticks or tildes, an info string.
_OPEN = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*?)[ \t]*$")


class ExtractionRejected(ValueError):
    """No usable code in the answer; `reason` is a stable code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Extraction:
    """The code found, how it was found (`fenced_python`, `fenced_unlabelled`, `bare`),
    and how many blocks were joined."""

    code: str
    method: str
    n_blocks: int


@dataclass(frozen=True)
class Block:
    label: str  # first word of the info string, lower-cased; "" when unlabelled
    text: str


def coerce_response(response: object) -> str:
    """The response as text; None, numbers and non-UTF-8 bytes are `not_text`."""
    if isinstance(response, str):
        return response
    if isinstance(response, (bytes, bytearray, memoryview)):
        try:
            return bytes(response).decode("utf-8")
        except UnicodeDecodeError as err:
            raise ExtractionRejected(
                "not_text", f"bytes that are not UTF-8 ({err.reason} at byte {err.start})"
            ) from None
    if response is None:
        raise ExtractionRejected("not_text", "response is missing (None)")
    raise ExtractionRejected("not_text", f"expected text, got {type(response).__name__}")


def fenced_blocks(text: str) -> list[Block]:
    """Fenced code blocks in document order. An unclosed fence runs to the end of the text
    (CommonMark's rule, and what a truncated model answer looks like)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        match = _OPEN.match(lines[i])
        if not match:
            i += 1
            continue
        fence = match.group("fence")
        info = match.group("info").strip()
        label = info.split()[0].lower().lstrip("{.").rstrip("}") if info else ""
        close = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        body: list[str] = []
        i += 1
        while i < len(lines) and not close.match(lines[i]):
            body.append(lines[i])
            i += 1
        i += 1  # skip the closing fence (or run off the end)
        blocks.append(Block(label=label, text="\n".join(body)))
    return blocks


def looks_like_python(text: str) -> bool:
    """Parses, and at least one statement does something (mirrors the engine's prose rule)."""
    if not text.strip():
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return any(
        not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, (ast.Name, ast.Constant)))
        for stmt in tree.body
    )


def _join(blocks: list[Block]) -> str:
    return "\n\n".join(block.text.strip("\n") for block in blocks)


def extract_code(response: object, max_chars: int = 1_000_000) -> Extraction:
    """The Python program in `response`, or ExtractionRejected with a stable reason."""
    text = coerce_response(response)
    if text.startswith("\ufeff"):
        text = text[1:]  # a BOM is an encoding artefact, not part of the answer
    if len(text) > max_chars:
        raise ExtractionRejected(
            "too_long", f"answer of {len(text)} characters is over the {max_chars}-character limit"
        )
    if not text.strip():
        raise ExtractionRejected("empty", "the answer is empty")
    blocks = fenced_blocks(text)
    labelled = [b for b in blocks if b.label in PYTHON_LABELS and b.text.strip()]
    if labelled:
        return Extraction(_join(labelled), "fenced_python", len(labelled))
    unlabelled = [b for b in blocks if not b.label and looks_like_python(b.text)]
    if unlabelled:
        return Extraction(_join(unlabelled), "fenced_unlabelled", len(unlabelled))
    if not blocks and looks_like_python(text):
        return Extraction(text, "bare", 0)
    if blocks:
        labels = sorted({b.label or "unlabelled" for b in blocks})
        detail = f"{len(blocks)} fenced block(s) ({', '.join(labels)}), none of them Python"
    else:
        detail = "no fenced block, and the answer does not parse as Python"
    raise ExtractionRejected("no_code", detail)
