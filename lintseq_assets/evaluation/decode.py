"""Decode what an edit-sequence model writes back into a program, leniently.

A model trained on our exports is prompted with `instruction + "\\n<|diff|>"` and writes
`diff_1 + "\\n<|diff|>" + diff_2 + ...`, where each diff is an insertion-only unified diff
with zero context and no file headers (docs/engine.md), starting from the empty file. It may
stop with a trailing `<|diff|>`, an end-of-sequence string, or junk. Decoding:

1. fold CRLF to LF and cut the text at the first end-of-sequence string (`eos`);
2. split it on `<|diff|>`; every non-empty piece (newlines at its two ends trimmed) is one
   edit, so the text may start with the separator or without it (export completions start
   with it, a model's continuation of the prompt does not);
3. apply each edit to the current state. A well-formed edit goes through the engine's own
   `apply_diff` (core/diffs.py), so our own paths decode exactly as `lintseq verify` replays
   them. Otherwise it is parsed leniently: lines after a complete hunk that are neither `+`
   lines nor a hunk header are junk and end the edit (a model rambling after its last diff),
   the new-file line numbers of a header are not trusted (only the old position matters for
   an insertion), and what remains wrong is one of the malformed kinds below. A last piece
   with no hunk header anywhere in it is trailing junk and not an edit at all.

Malformed kinds: `bad_header` (a piece that does not start with `@@ -a[,b] +c[,d] @@`),
`deletion_line` (a `-` line, or a header that removes lines), `hunk_past_end` (inserts after
a line the file does not have), `truncated_hunk` (fewer `+` lines than the header announces).
With `malformed="skip"` a bad edit is left out and decoding goes on (each is counted); with
`"fail"` the first one makes the whole row a decode failure, the reference's penalty.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from ..core import DiffError, apply_diff

SEPARATOR_TOKEN = "<|diff|>"
# End-of-sequence strings of common tokenizers; decoding stops at the first one found.
DEFAULT_EOS = ("<|endoftext|>", "</s>", "<|im_end|>", "<|eot_id|>", "<|end|>", "<eos>", "<|end_of_text|>")
MALFORMED_KINDS = ("bad_header", "deletion_line", "hunk_past_end", "truncated_hunk")
MODES = ("skip", "fail")
# Looser than the engine's: tolerates spaces and a trailing section name after the closing @@.
_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


class Malformed(ValueError):
    """One edit that cannot be applied; `kind` is one of MALFORMED_KINDS."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


@dataclass
class DecodeResult:
    """A decoded row. `program` is None when the row failed (mode "fail" or nothing applied)."""

    program: str | None
    n_edits: int = 0
    n_applied: int = 0
    malformed: Counter = field(default_factory=Counter)
    failure: str | None = None  # why the row has no program

    @property
    def n_malformed(self) -> int:
        return sum(self.malformed.values())

    def as_row(self) -> dict:
        return {
            "program": self.program,
            "n_edits": self.n_edits,
            "n_applied": self.n_applied,
            "n_malformed": self.n_malformed,
            "malformed": {kind: self.malformed[kind] for kind in MALFORMED_KINDS if self.malformed[kind]},
            "failure": self.failure,
        }


def split_edits(text: str, eos: tuple[str, ...] = DEFAULT_EOS) -> list[str]:
    """The edits of a generation: cut at the first EOS string, split on `<|diff|>`."""
    text = text.replace("\r\n", "\n")
    cut = len(text)
    for marker in eos:
        at = text.find(marker)
        if at != -1:
            cut = min(cut, at)
    pieces = (piece.strip("\r\n") for piece in text[:cut].split(SEPARATOR_TOKEN))
    return [piece for piece in pieces if piece.strip()]


def _parse_hunks(edit: str) -> list[tuple[int, list[str]]]:
    """(old position, inserted lines) for each hunk of one edit; raises Malformed."""
    rows = edit.replace("\r\n", "\n").split("\n")
    hunks: list[tuple[int, list[str]]] = []
    i = 0
    while i < len(rows):
        match = _HEADER.match(rows[i])
        if not match:
            if hunks:  # junk after a complete hunk ends the edit
                break
            raise Malformed("bad_header", f"expected a hunk header, got {rows[i][:60]!r}")
        header = rows[i]
        old_start, old_len = int(match.group(1)), int(match.group(2) or 1)
        announced = int(match.group(4) or 1)
        if announced == 0 and old_len == 0:
            raise Malformed("bad_header", f"hunk {header[:40]!r} changes nothing")
        i += 1
        body: list[str] = []
        while i < len(rows) and len(body) < announced and rows[i].startswith("+"):
            body.append(rows[i][1:])
            i += 1
        if old_len != 0 or (i < len(rows) and rows[i].startswith("-")):
            raise Malformed("deletion_line", f"hunk {header[:40]!r} removes lines")
        if len(body) < announced:
            raise Malformed("truncated_hunk", f"hunk announces {announced} lines, carries {len(body)}")
        hunks.append((old_start, body))
    return hunks


def apply_lenient(state: list[str], edit: str) -> list[str]:
    """Apply one edit: the engine's strict `apply_diff` first, the lenient parse otherwise."""
    try:
        return apply_diff(state, edit)
    except DiffError:
        pass
    hunks = _parse_hunks(edit)
    result: list[str] = []
    consumed = 0
    for old_start, body in sorted(hunks, key=lambda h: h[0]):  # positions refer to the old state
        if old_start > len(state):
            raise Malformed("hunk_past_end", f"inserts after line {old_start} of a {len(state)}-line file")
        result.extend(state[consumed:old_start])
        consumed = old_start
        result.extend(body)
    result.extend(state[consumed:])
    return result


def decode(text: str, malformed: str = "skip", eos: tuple[str, ...] = DEFAULT_EOS) -> DecodeResult:
    """Turn a generated edit sequence into a program (see the module docstring)."""
    if malformed not in MODES:
        raise ValueError(f"malformed must be one of {MODES}, got {malformed!r}")
    edits = split_edits(text, eos)
    if edits and not any(_HEADER.match(row) for row in edits[-1].split("\n")):
        edits.pop()  # text after the last diff with no hunk in it: the model rambling on, not an edit
    result = DecodeResult(program=None, n_edits=len(edits))
    state: list[str] = []
    for index, edit in enumerate(edits):
        try:
            state = apply_lenient(state, edit)
            result.n_applied += 1
        except Malformed as err:
            result.malformed[err.kind] += 1
            if malformed == "fail":
                result.failure = f"edit {index + 1}: {err.kind}: {err}"
                return result
    if result.n_applied == 0:
        result.failure = "no edit could be applied" if edits else "no edits in the generation"
        return result
    result.program = "\n".join(state)
    return result
