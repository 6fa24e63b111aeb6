"""The forward phase's output format: insertion-only unified diffs with zero context.

Diff k turns state k into state k+1. Hunk headers are those `difflib.unified_diff(n=0)`
writes (`@@ -a,0 +c,d @@`, `,d` omitted when d is 1), file headers are dropped, and lines
are joined with "\\n", as in the reference implementation, so its tooling reads our paths.
Because every state is a subset of the program's lines, the hunks are computed from line
positions directly (a sorted list of present lines gives each line's position in the new
state by bisection), so no text is compared; hunk bodies are slices of the program's text
prefixed once per program (`PlusText`).
"""

from __future__ import annotations

import re
from bisect import bisect_left, insort
from collections.abc import Iterable, Sequence

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


class DiffError(ValueError):
    """A diff that is malformed, not insertion-only, or does not apply."""


def _range(start: int, length: int) -> str:
    """difflib's `_format_range_unified` for a 0-based start."""
    beginning = start + 1
    if length == 1:
        return f"{beginning}"
    if not length:
        beginning -= 1
    return f"{beginning},{length}"


class PlusText:
    """A program's lines as diff body text: every line prefixed with "+", joined with "\\n".

    A hunk that inserts lines i..j that are consecutive in the program is one slice of it,
    so bodies are cut, not joined line by line. Built once per program, shared by samples.
    """

    __slots__ = ("lines", "plus", "text", "offsets")

    def __init__(self, lines: Sequence[str]) -> None:
        self.lines = lines
        self.plus = ["+" + line for line in lines]
        self.text = "\n".join(self.plus)
        offsets = [0]
        for row in self.plus:
            offsets.append(offsets[-1] + len(row) + 1)
        self.offsets = offsets  # offsets[i]: start of line i; offsets[i + 1] - 1: its end

    def rows(self, first: int, last: int) -> str:
        """Body rows for program lines first..last (inclusive)."""
        return self.text[self.offsets[first]:self.offsets[last + 1] - 1]


def forward_diffs(lines: Sequence[str], insertions: Iterable[Sequence[int]]) -> list[str]:
    """Diffs for inserting, step by step, the given line indices of `lines` into an empty file."""
    return forward_diffs_with(PlusText(lines), insertions)


def forward_diffs_with(text: PlusText, insertions: Iterable[Sequence[int]]) -> list[str]:
    """`forward_diffs` over a prepared PlusText (each step's indices sorted or not)."""
    present: list[int] = []  # line indices of the current state, sorted
    diffs = []
    plus, rows = text.plus, text.rows
    for step in insertions:
        if len(step) == 1:  # the common case in line mode: one line, one hunk
            index = step[0]
            position = bisect_left(present, index)
            present.insert(position, index)
            diffs.append(f"@@ -{position},0 +{position + 1} @@\n{plus[index]}")
            continue
        if not step:
            continue
        added = sorted(step)
        if len(added) > 8:
            present.extend(added)
            present.sort()
        else:
            for index in added:
                insort(present, index)
        out: list[str] = []
        run_start = 0
        positions = [bisect_left(present, index) + 1 for index in added]  # 1-based in the new state
        n_added = len(added)
        for k in range(1, n_added + 1):
            if k < n_added and positions[k] == positions[k - 1] + 1:
                continue
            new_start = positions[run_start]  # 1-based
            count = k - run_start
            old_after = new_start - 1 - run_start  # old lines before this hunk
            out.append(f"@@ -{_range(old_after, 0)} +{_range(new_start - 1, count)} @@")
            first = previous = added[run_start]
            for index in added[run_start + 1:k]:
                if index != previous + 1:  # a gap in the program: cut the slice there
                    out.append(rows(first, previous))
                    first = index
                previous = index
            out.append(rows(first, previous))
            run_start = k
        diffs.append("\n".join(out))
    return diffs


def apply_diff(state: list[str], diff: str) -> list[str]:
    """Apply one insertion-only diff to `state` (a list of lines); raise DiffError otherwise."""
    if not diff:
        raise DiffError("empty diff")
    rows = diff.split("\n")
    result: list[str] = []
    consumed = 0  # old lines copied so far
    i = 0
    while i < len(rows):
        match = _HUNK.match(rows[i])
        if not match:
            raise DiffError(f"expected a hunk header, got {rows[i][:60]!r}")
        old_start, old_len = int(match.group(1)), int(match.group(2) or 1)
        new_start, new_len = int(match.group(3)), int(match.group(4) or 1)
        if old_len != 0:
            raise DiffError(f"hunk {rows[i]!r} removes or changes lines: not insertion-only")
        i += 1
        body = []
        while i < len(rows) and not rows[i].startswith("@@ "):
            if not rows[i].startswith("+"):
                raise DiffError(f"line {rows[i][:60]!r} is not an insertion")
            body.append(rows[i][1:])
            i += 1
        if len(body) != new_len or new_len == 0:
            raise DiffError(f"hunk announces {new_len} lines, carries {len(body)}")
        if old_start < consumed or old_start > len(state):
            raise DiffError(f"hunk at old line {old_start} is out of order or past the end ({len(state)} lines)")
        result.extend(state[consumed:old_start])
        consumed = old_start
        if len(result) + 1 != new_start:
            raise DiffError(f"hunk says new line {new_start}, lands at {len(result) + 1}")
        result.extend(body)
    result.extend(state[consumed:])
    return result
