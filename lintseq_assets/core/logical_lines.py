"""Logical lines of a parsed program, read off the AST instead of the tokenizer.

A logical line is what the tokenizer ends with NEWLINE: a simple statement with all its
continuation rows, or a compound statement's header up to its colon. Python's `tokenize`
finds them too, but it is pure Python and costs more than parsing and linting together on
large files; the AST already knows where every statement starts and ends, so only the rows
of headers need a look at the text (from the header's last expression to its colon).

Rows are 1-based, as in the AST. Rows in no logical line are blank or comment-only.
"""

from __future__ import annotations

import ast

_TRY_TYPES: tuple[type, ...] = (ast.Try, *((ast.TryStar,) if hasattr(ast, "TryStar") else ()))
_MATCH_TYPES: tuple[type, ...] = (ast.Match,) if hasattr(ast, "Match") else ()
# Statements with a header and a body; every other statement is one logical line. (ast's
# statement classes are never subclassed by the parser, so an exact type test is enough.)
COMPOUND_TYPES: frozenset[type] = frozenset({
    ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.If, ast.While, ast.For, ast.AsyncFor, ast.With,
    ast.AsyncWith, *_TRY_TYPES, *_MATCH_TYPES,
})


class LogicalLines:
    """Row spans of every logical line, plus the rows of clause keywords (else/finally/case)."""

    def __init__(self, lines: tuple[str, ...] | list[str], tree: ast.Module) -> None:
        self.lines = lines
        self._spans: list[tuple[int, int]] = []
        self.else_row: dict[int, int] = {}  # id(statement) -> row of its `else:`
        self.finally_row: dict[int, int] = {}  # id(try statement) -> row of its `finally:`
        self.case_row: dict[int, int] = {}  # id(match_case) -> row of its `case`
        self._body(tree.body)
        self.spans = self._merge()

    # -- text scanning --------------------------------------------------------------------
    def _char_col(self, row: int, byte_col: int) -> int:
        line = self.lines[row - 1]
        return byte_col if line.isascii() else len(line.encode("utf-8")[:byte_col].decode("utf-8", "ignore"))

    def _colon_row(self, row: int, byte_col: int) -> int:
        """Row of the first colon at or after (row, col), skipping comments.

        Between a header's last expression and its colon there are only closing brackets,
        commas, `as name`, whitespace, continuations and comments: no strings, so the first
        colon outside a comment is the header's.
        """
        col = self._char_col(row, byte_col)
        while row <= len(self.lines):
            line = self.lines[row - 1]
            for index in range(col, len(line)):
                char = line[index]
                if char == ":":
                    return row
                if char == "#":
                    break
            row, col = row + 1, 0
        raise ValueError("header without a colon")

    def _next_code_row(self, after: int) -> int:
        """First row after `after` that is neither blank nor only a comment."""
        row = after + 1
        while row <= len(self.lines):
            stripped = self.lines[row - 1].lstrip()
            if stripped and not stripped.startswith("#"):
                return row
            row += 1
        raise ValueError(f"no code after row {after}")

    def _header(self, start_row: int, start_col: int, parts: list[ast.AST | None]) -> int:
        """Add the header span from (start_row, start_col) to its colon; return the colon row."""
        ends = [(p.end_lineno, p.end_col_offset) for p in parts if p is not None and hasattr(p, "end_lineno")]
        row, col = max(ends) if ends else (start_row, start_col)
        colon = self._colon_row(row, col)
        self._spans.append((start_row, colon))
        return colon

    def _keyword_clause(self, after_row: int, keyword: str) -> int:
        row = self._next_code_row(after_row)
        line = self.lines[row - 1]
        column = len(line) - len(line.lstrip())
        if not line.lstrip().startswith(keyword):
            raise ValueError(f"expected {keyword!r} at row {row}")
        self._header(row, len(line[:column].encode("utf-8")) + len(keyword), [])
        return row

    # -- statements -----------------------------------------------------------------------
    def _body(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            self._statement(stmt)

    def _statement(self, stmt: ast.stmt) -> None:
        if stmt.__class__ not in COMPOUND_TYPES:  # most statements: no isinstance chain
            self._spans.append((stmt.lineno, stmt.end_lineno))
            return
        header_parts = _header_parts(stmt)
        for decorator in getattr(stmt, "decorator_list", ()):
            self._spans.append((decorator.lineno, decorator.end_lineno))
        colon = self._header(stmt.lineno, stmt.col_offset, header_parts)
        if isinstance(stmt, _MATCH_TYPES):
            previous_end = colon
            for case in stmt.cases:
                row = self._next_code_row(previous_end)
                self.case_row[id(case)] = row
                self._header(row, 0, [case.pattern, case.guard])
                self._body(case.body)
                previous_end = case.body[-1].end_lineno
            return
        self._body(stmt.body)
        last_end = stmt.body[-1].end_lineno
        for handler in getattr(stmt, "handlers", ()):
            self._header(handler.lineno, handler.col_offset, [handler.type])
            self._body(handler.body)
            last_end = handler.body[-1].end_lineno
        orelse = getattr(stmt, "orelse", [])
        if orelse:
            first = orelse[0]
            is_elif = isinstance(stmt, ast.If) and isinstance(first, ast.If) and self._starts_with(first, "elif")
            if not is_elif:
                self.else_row[id(stmt)] = self._keyword_clause(last_end, "else")
            self._body(orelse)
            last_end = orelse[-1].end_lineno
        finalbody = getattr(stmt, "finalbody", [])
        if finalbody:
            self.finally_row[id(stmt)] = self._keyword_clause(last_end, "finally")
            self._body(finalbody)

    def _starts_with(self, node: ast.AST, keyword: str) -> bool:
        line = self.lines[node.lineno - 1]
        return line[self._char_col(node.lineno, node.col_offset):].startswith(keyword)

    def _merge(self) -> list[tuple[int, int]]:
        """Overlapping spans are one logical line (`a; b`, `if x: y`); extend backslash ends."""
        merged: list[list[int]] = []
        for start, end in sorted(self._spans):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        covered_until = [span[0] for span in merged[1:]] + [len(self.lines) + 1] if merged else []
        for span, next_start in zip(merged, covered_until, strict=True):
            while span[1] + 1 < next_start and self.lines[span[1] - 1].endswith("\\"):
                span[1] += 1  # a continuation into a comment-only or blank row
        return [(start, end) for start, end in merged]


def _header_parts(stmt: ast.stmt) -> list[ast.AST | None] | None:
    """The expressions of a compound statement's header, or None for a simple statement."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
        a = stmt.args
        return [*a.posonlyargs, *a.args, a.vararg, *a.kwonlyargs, a.kwarg, *a.defaults, *a.kw_defaults,
                stmt.returns, *getattr(stmt, "type_params", ())]
    if isinstance(stmt, ast.ClassDef):
        return [*stmt.bases, *stmt.keywords, *getattr(stmt, "type_params", ())]
    if isinstance(stmt, (ast.If, ast.While)):
        return [stmt.test]
    if isinstance(stmt, (ast.For, ast.AsyncFor)):
        return [stmt.target, stmt.iter]
    if isinstance(stmt, (ast.With, ast.AsyncWith)):
        return [part for item in stmt.items for part in (item.context_expr, item.optional_vars)]
    if isinstance(stmt, _TRY_TYPES):
        return []
    if isinstance(stmt, _MATCH_TYPES):
        return [stmt.subject]
    return None
