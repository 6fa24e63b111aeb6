"""The units LintSeq deletes, and which unit's deletion takes which other units with it.

A *unit* is one logical line of code (a simple statement, a compound statement's header, a
clause header such as `else:`/`except E:`, or a decorator) together with the comment and
blank lines that precede it. With `unit="statement"` a statement's physical lines (bracketed
or backslash continuations, multi-line strings) always travel together; with `unit="line"`
a multi-line statement is a head plus parts (`line_units`), each part a child of the piece
holding its construct's opening row.

Deleting a unit deletes the block it owns. A block that loses its last statement would no
longer parse, so its header goes too (for a primary body, the whole statement). A `try`
whose last handler goes keeps only a valid shape: with a `finally` it loses its `else`,
without one it goes entirely. These rules are what a parser would flag after the deletion;
applying them directly saves a parse per step and gives the same states.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from .line_units import split_lines
from .logical_lines import COMPOUND_TYPES, LogicalLines


@dataclass(frozen=True)
class TryShape:
    """The clauses of one try statement whose presence decides whether it still parses."""

    try_unit: int
    handlers: tuple[int, ...]
    finally_unit: int  # -1 when absent
    else_unit: int  # -1 when absent


@dataclass
class Structure:
    """Flat, index-based description of a program's units; shared by every sample."""

    unit_lines: list[tuple[int, ...]]  # 0-based line indices per unit, in file order
    line_unit: list[int]  # unit of every line
    depth: list[int]  # block nesting depth of every unit
    children: list[list[int]]  # units deleted together with a unit (its block, its clauses)
    body_of: list[int]  # the body a unit is a statement of, or -1
    body_size: list[int]  # distinct units per body
    body_header: list[int]  # unit to delete when a body empties
    try_of: list[int]  # try shape index for handler/finally units, or -1
    try_shapes: list[TryShape] = field(default_factory=list)
    code_lines: list[bool] | None = None  # line mode: which lines weigh (string rows that look like comments do)
    quotes_of: list[int] | None = None  # line mode: per unit, the unit holding the quotes of the string it is a row of, or -1

    @property
    def n_units(self) -> int:
        return len(self.unit_lines)


class _Builder:
    def __init__(self, lines: tuple[str, ...] | list[str], tree: ast.Module, unit: str = "statement",
                 no_split: set[int] | frozenset = frozenset(), no_split_subtree: set[int] | frozenset = frozenset()) -> None:
        n_lines = len(lines)
        self.logical = LogicalLines(lines, tree)
        logical = self.logical.spans
        self.code_unit_of_row = [-1] * (n_lines + 2)
        self.parts = split_lines(lines, tree, logical, no_split, no_split_subtree) if unit == "line" else None
        if self.parts is None or not self.parts.parent_row:
            self.part_unit: list[int] = []
            for unit_index, (lo, hi) in enumerate(logical):
                for row in range(lo, hi + 1):
                    self.code_unit_of_row[row] = unit_index
            n_units = max(len(logical), 1)
        else:
            n_units = self._number_pieces(logical)
        self.n_units = n_units
        self.unit_rows: list[list[int]] = [[] for _ in range(n_units)]
        pending: list[int] = []
        for row in range(1, n_lines + 1):
            unit = self.code_unit_of_row[row]
            if unit < 0:  # comment or blank line: travels with the next code line
                pending.append(row)
                continue
            self.unit_rows[unit].extend(pending)
            pending = []
            self.unit_rows[unit].append(row)
        if pending:  # trailing comments belong to the last code line
            self.unit_rows[n_units - 1].extend(pending)
        self.depth = [0] * n_units
        self.children: list[list[int]] = [[] for _ in range(n_units)]
        self.has_owner = [False] * n_units
        self.body_of = [-1] * n_units
        self.body_size: list[int] = []
        self.body_header: list[int] = []
        self.try_of = [-1] * n_units
        self.try_shapes: list[TryShape] = []

    def _number_pieces(self, logical: list[tuple[int, int]]) -> int:
        """Units in file order: each statement's head, then its parts as their first rows come."""
        row_part = self.parts.row_part
        self.part_unit = part_unit = [-1] * len(self.parts.parent_row)
        n_units = 0
        for lo, hi in logical:
            head = n_units
            n_units += 1
            for row in range(lo, hi + 1):
                part = row_part[row]
                if part < 0:
                    self.code_unit_of_row[row] = head
                else:
                    if part_unit[part] < 0:
                        part_unit[part] = n_units
                        n_units += 1
                    self.code_unit_of_row[row] = part_unit[part]
        return max(n_units, 1)

    def attach_parts(self) -> None:
        """A part is a child of the piece holding its construct's opening row; extra rules after."""
        if self.parts is None or not self.parts.parent_row:
            return
        part_unit = self.part_unit
        for part, parent_row in enumerate(self.parts.parent_row):
            unit = part_unit[part]
            if unit < 0:
                continue
            parent = self.code_unit_of_row[parent_row]
            if parent != unit:
                self.children[parent].append(unit)
                self.depth[unit] = self.depth[parent]
        for a, b in self.parts.takes:
            if part_unit[a] >= 0 and part_unit[b] >= 0 and part_unit[a] != part_unit[b]:
                self.children[part_unit[a]].append(part_unit[b])
        for head_row, parts in self.parts.bodies:
            units = sorted({part_unit[p] for p in parts if part_unit[p] >= 0})
            header = self.code_unit_of_row[head_row]
            if not units or header in units:
                continue
            body_id = len(self.body_size)
            self.body_size.append(len(units))
            self.body_header.append(header)
            for unit in units:
                self.body_of[unit] = body_id

    def quotes_of(self) -> list[int] | None:
        if self.parts is None or not self.parts.string_rows:
            return None
        quotes = [-1] * self.n_units
        for part in self.parts.string_rows:
            unit = self.part_unit[part]
            if unit >= 0:
                parent = self.code_unit_of_row[self.parts.parent_row[part]]
                if parent != unit:
                    quotes[unit] = parent
        return quotes

    def code_lines(self, lines: tuple[str, ...] | list[str]) -> list[bool] | None:
        if self.parts is None or not self.parts.parent_row:
            return None
        in_string = self.parts.in_string
        return [(code := text.lstrip()) != "" and (code[0] != "#" or in_string[i + 1]) for i, text in enumerate(lines)]

    def unit_of(self, node: ast.AST) -> int:
        return self.code_unit_of_row[node.lineno]

    def _own(self, owner: int, unit: int, depth: int) -> None:
        if unit == owner or self.has_owner[unit]:
            return
        self.has_owner[unit] = True
        self.depth[unit] = depth
        if owner >= 0:
            self.children[owner].append(unit)

    def block(self, body: list[ast.stmt], header: int, depth: int, empty_action: int) -> None:
        """Register a statement list owned by `header`; `empty_action` dies when it empties."""
        units: list[int] = []
        for stmt in body:
            unit = self.unit_of(stmt)
            if unit != header and (not units or units[-1] != unit):
                units.append(unit)
        if units and header >= 0:
            body_id = len(self.body_size)
            self.body_size.append(len(units))
            self.body_header.append(empty_action)
            for unit in units:
                self.body_of[unit] = body_id
        for stmt in body:
            unit = self.unit_of(stmt)
            self._own(header, unit, depth)
            self.statement(stmt, unit, depth)

    def statement(self, stmt: ast.stmt, unit: int, depth: int) -> None:
        if stmt.__class__ not in COMPOUND_TYPES:
            return  # a simple statement owns no block
        inner = depth + 1
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for decorator in stmt.decorator_list:
                self._own(unit, self.unit_of(decorator), depth)
            self.block(stmt.body, unit, inner, unit)
        elif isinstance(stmt, ast.If):
            self.block(stmt.body, unit, inner, unit)
            self._if_clauses(stmt, chain_top=unit, depth=depth)
        elif isinstance(stmt, (ast.For, ast.AsyncFor, ast.While)):
            self.block(stmt.body, unit, inner, unit)
            self._else_clause(stmt.orelse, self.logical.else_row.get(id(stmt), 0), unit, depth)
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            self.block(stmt.body, unit, inner, unit)
        elif isinstance(stmt, (ast.Try, getattr(ast, "TryStar", ast.Try))):
            self._try(stmt, unit, depth)
        elif isinstance(stmt, getattr(ast, "Match", ())):
            self._match(stmt, unit, depth)

    def _if_clauses(self, stmt: ast.If, chain_top: int, depth: int) -> None:
        orelse = stmt.orelse
        if not orelse:
            return
        first = orelse[0]
        if id(stmt) not in self.logical.else_row:  # an `elif`, not an `else:` holding an `if`
            elif_unit = self.unit_of(first)
            self._own(chain_top, elif_unit, depth)
            self.block(first.body, elif_unit, depth + 1, elif_unit)
            self._if_clauses(first, chain_top, depth)
        else:
            self._else_clause(orelse, self.logical.else_row[id(stmt)], chain_top, depth)

    def _else_clause(self, orelse: list[ast.stmt], row: int, owner: int, depth: int) -> int:
        """Register an `else:`/`finally:` clause whose keyword sits on `row`."""
        if not orelse:
            return -1
        header = self.code_unit_of_row[row]
        self._own(owner, header, depth)
        self.block(orelse, header, depth + 1, header)
        return header

    def _try(self, stmt: ast.Try, unit: int, depth: int) -> None:
        self.block(stmt.body, unit, depth + 1, unit)
        handlers: list[int] = []
        for handler in stmt.handlers:
            handler_unit = self.unit_of(handler)
            handlers.append(handler_unit)
            self._own(unit, handler_unit, depth)
            self.block(handler.body, handler_unit, depth + 1, handler_unit)
        else_unit = self._else_clause(stmt.orelse, self.logical.else_row.get(id(stmt), 0), unit, depth)
        finally_unit = self._else_clause(stmt.finalbody, self.logical.finally_row.get(id(stmt), 0), unit, depth)
        shape = len(self.try_shapes)
        self.try_shapes.append(TryShape(unit, tuple(handlers), finally_unit, else_unit))
        for clause in (*handlers, finally_unit):
            if clause >= 0:
                self.try_of[clause] = shape

    def _match(self, stmt: ast.stmt, unit: int, depth: int) -> None:
        case_units = [self.code_unit_of_row[self.logical.case_row[id(case)]] for case in stmt.cases]
        body_id = len(self.body_size)
        distinct = [u for u in dict.fromkeys(case_units) if u != unit]
        self.body_size.append(len(distinct))
        self.body_header.append(unit)
        for case, case_unit in zip(stmt.cases, case_units, strict=True):
            self.body_of[case_unit] = body_id
            self._own(unit, case_unit, depth)
            self.block(case.body, case_unit, depth + 1, case_unit)


def build_structure(text: str, lines: tuple[str, ...] | list[str], tree: ast.Module, unit: str = "statement",
                    no_split: set[int] | frozenset = frozenset(), no_split_subtree: set[int] | frozenset = frozenset()) -> Structure:
    """Derive the units of a parsed program and the deletion rules between them.

    `unit="line"` splits multi-line statements into their lines where that is safe
    (`line_units`); `no_split` / `no_split_subtree` name AST nodes (by id) that must stay
    whole for the linter's sake, as found by the recording pyflakes pass.
    """
    builder = _Builder(lines, tree, unit, no_split, no_split_subtree)
    builder.block(tree.body, -1, 0, -1)
    builder.attach_parts()
    unit_lines = [tuple([row - 1 for row in rows]) for rows in builder.unit_rows]
    line_unit = [0] * len(lines)
    for unit, rows in enumerate(unit_lines):
        for line in rows:
            line_unit[line] = unit
    return Structure(
        unit_lines=unit_lines,
        line_unit=line_unit,
        depth=builder.depth,
        children=builder.children,
        body_of=builder.body_of,
        body_size=builder.body_size,
        body_header=builder.body_header,
        try_of=builder.try_of,
        try_shapes=builder.try_shapes,
        code_lines=builder.code_lines(lines),
        quotes_of=builder.quotes_of(),
    )
