"""Per-record filters: normalise and parse with the engine, then size, length and lint.

Normalisation and parsing are the engine's own (`prepare_program`), so the text kept here is
byte for byte the text the sampler will see, and `program_id` is the engine's id. Its
refusals keep their stable codes (`syntax_error`, `empty`, `binary`, `not_text`, `too_long`,
`too_deep`, `not_python`). On top of them:

- `too_short`: fewer than `min_statements` statements (every `ast.stmt` in the tree, nested
  ones included, so a function with a two-line body counts three);
- `lint_errors`: pyflakes errors in the program, only when `reject_lint_errors` is set;
  the count is always kept as `n_lint_errors`.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from lintseq_assets.core import Limits, ProgramRejected, prepare_program
from lintseq_assets.core.lint import lint_tree
from lintseq_assets.curation.config import CurationSettings


class FilterRejected(ValueError):
    """A program refused by a filter; `reason` is a stable code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class CheckedProgram:
    """A program that passed the per-record filters, with the numbers the report needs."""

    text: str
    program_id: str
    n_lines: int
    n_bytes: int
    n_statements: int
    n_lint_errors: int


_BLOCK_FIELDS = ("body", "orelse", "finalbody", "handlers", "cases")


def count_statements(tree: ast.AST) -> int:
    """Every `ast.stmt` in the tree, nested ones included.

    Statements only live in block lists (body, orelse, finalbody, handlers' and match
    cases' bodies), never inside expressions, so only those lists are walked: the same
    count as `ast.walk` over every node, several times faster on real code."""
    count = 0
    stack = [tree]
    while stack:
        node = stack.pop()
        for name in _BLOCK_FIELDS:
            children = getattr(node, name, None)
            if type(children) is list:
                for child in children:
                    count += isinstance(child, ast.stmt)
                    stack.append(child)
    return count


def check_program(code: str, settings: CurationSettings) -> CheckedProgram:
    """Normalise, parse and filter `code`; raise FilterRejected with a stable reason."""
    try:
        program = prepare_program(code, Limits(max_lines=settings.max_lines, max_bytes=settings.max_bytes))
    except ProgramRejected as err:
        raise FilterRejected(err.reason.value, err.detail) from None
    n_bytes = len(program.text.encode("utf-8"))
    if n_bytes > settings.max_bytes:  # the engine measured the text before normalisation
        raise FilterRejected("too_long", f"{n_bytes} bytes is over the {settings.max_bytes}-byte limit")
    n_statements = count_statements(program.tree)
    if n_statements < settings.min_statements:
        raise FilterRejected(
            "too_short", f"{n_statements} statement(s), fewer than the minimum of {settings.min_statements}"
        )
    errors = lint_tree(program.tree)  # the engine's parse of this very text: no second parse
    if errors and settings.reject_lint_errors:
        shown = "; ".join(f"line {e.line}: {e.text}" for e in errors[:3])
        raise FilterRejected("lint_errors", f"{len(errors)} pyflakes error(s): {shown}"[:500])
    return CheckedProgram(
        text=program.text,
        program_id=program.program_id,
        n_lines=len(program.lines),
        n_bytes=n_bytes,
        n_statements=n_statements,
        n_lint_errors=len(errors),
    )
