"""Line units: where a statement spanning several physical lines can be cut into its lines.

In line mode (`SamplerConfig.unit == "line"`, the paper's granularity) a multi-line statement
is split into a *head* (the rows that hold its syntax: the first row, the rows with opening
and closing brackets or quotes) and *parts*, each a group of rows that can be deleted while
the head stays, in any combination, and still parse:

- each row strictly inside a triple-quoted string that is one token (docstrings and other
  multi-line strings; an f-string only when it has no replacement field);
- each group of rows that holds whole elements, each with its comma, of a multi-line list,
  tuple, set or dict display, call argument list, function parameter list or parenthesised
  `from ... import (...)` list.

A part needs its construct: it is a child of the piece (head or part) holding the construct's
opening row, so deleting the statement deletes its parts. A `from m import (...)` whose names
are all in parts loses its head with its last part (`from m import ()` does not parse); a
`*args` part takes the keyword-only parameters after it (without it they would become
positional, possibly after a default). Whatever cannot be shown safe this way stays whole:
rows with a backslash continuation, a bare `*` or `/` in a parameter list, gaps holding
anything but commas, parentheses and stars, subscripts, comprehensions, lambdas' parameters,
assignment and `del` targets, f-strings with fields, and (for the lint model) every place
pyflakes reads more than names from: the string and the arguments of `'...' % args` and
`'...'.format(...)`, dicts with repeated keys, tuples compared with `is`, strings pyflakes
parses as annotations, the arguments of typing's `cast`/`TypeVar`/`NamedTuple`/... calls, and
the strings of `__all__`. The names a part loads or binds sit on its rows, so the one-pass
pyflakes model (`dependencies`) sees them as the part's.

Rows are 1-based, as in the AST. Columns here are character offsets (the AST's are bytes).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from pyflakes.checker import convert_to_value

from .logical_lines import COMPOUND_TYPES

_PREFIX = frozenset("rRbBuUfF")
_OPEN = {"[": "]", "(": ")", "{": "}"}
_DEF = re.compile(r"(?:async\s+)?def\s+(\w+)\s*\(")
_FROM_IMPORT = re.compile(r"from\s+[.\w\s]*?\bimport\s*\(")

Pos = tuple[int, int]  # (row, character column)


@dataclass
class LineParts:
    """Where the multi-line statements of a program split, as rows and part indices."""

    row_part: list[int]  # per row (index 0 unused): part index, or -1 for its statement's head
    parent_row: list[int]  # per part: a row of its parent piece (the construct's opening row)
    takes: list[tuple[int, int]]  # (a, b): deleting part a deletes part b
    bodies: list[tuple[int, list[int]]]  # (row of a head, parts): the head goes with the last part
    in_string: list[bool]  # per row: the row starts inside a multi-line string (content, not a comment)
    split_rows: set[int]  # rows of statements that were split (the rest keep their statement unit)
    string_rows: list[int]  # parts that are a row inside a string (their parent holds its quotes)


class _Splitter:
    def __init__(self, lines, no_split: set[int], no_split_subtree: set[int]) -> None:
        self.lines = lines
        n = len(lines)
        self.row_part = [-1] * (n + 2)
        self.in_string = [False] * (n + 2)
        self.parent_row: list[int] = []
        self.takes: list[tuple[int, int]] = []
        self.bodies: list[tuple[int, list[int]]] = []
        self.no_split = no_split
        self.no_split_subtree = no_split_subtree
        self.statements: list[ast.stmt] = []
        self.string_rows: list[int] = []  # parts that are one row of a string's content

    # -- positions ------------------------------------------------------------------------
    def _col(self, row: int, byte_col: int) -> int:
        line = self.lines[row - 1]
        return byte_col if line.isascii() else len(line.encode("utf-8")[:byte_col].decode("utf-8", "ignore"))

    def _start(self, node: ast.AST) -> Pos:
        return node.lineno, self._col(node.lineno, node.col_offset)

    def _end(self, node: ast.AST) -> Pos:
        return node.end_lineno, self._col(node.end_lineno, node.end_col_offset)

    def _chars(self, start: Pos, end: Pos | None):
        """Significant characters from `start` up to `end` (exclusive): no blanks, no comments.

        Quotes and backslashes are yielded too; callers refuse to split when they see them.
        """
        row, col = start
        n = len(self.lines)
        while row <= n and (end is None or (row, col) < end):
            line = self.lines[row - 1]
            stop = end[1] if end is not None and row == end[0] else len(line)
            while col < stop:
                ch = line[col]
                if ch == "#":
                    break
                if not ch.isspace():
                    yield ch, row, col
                col += 1
            row, col = row + 1, 0

    # -- committing parts -------------------------------------------------------------------
    def _new_part(self, parent_row: int) -> int:
        self.parent_row.append(parent_row)
        return len(self.parent_row) - 1

    def _same_piece(self, r0: int, r1: int) -> bool:
        piece = self.row_part[r0]
        return all(self.row_part[r] == piece for r in range(r0 + 1, r1 + 1))

    def _plan(self, open_pos: Pos, close_char: str, elements: list[tuple[Pos, Pos]], close_pos: Pos | None):
        """Group the elements of a bracketed list into row groups; None if not provably safe.

        Returns (owner per element: group index or -1 for the head, row span per group).
        """
        r0 = open_pos[0]
        if not elements or elements[-1][0][0] <= r0:
            return None  # every element starts on the opening row: each group would hold it, so all are head
        prev: Pos = (open_pos[0], open_pos[1] + 1)
        first_rows: list[int] = []
        last_rows: list[int] = []
        opens = 0
        for index, (start, end) in enumerate(elements):
            if start < prev or end < start:
                return None
            gap = list(self._chars(prev, start))
            if index == 0:
                pre = gap
            else:
                commas = [k for k, (ch, _, _) in enumerate(gap) if ch == ","]
                if len(commas) != 1:
                    return None
                k = commas[0]
                closing, pre = gap[:k], gap[k + 1:]
                if len(closing) != opens or any(ch != ")" for ch, _, _ in closing):
                    return None
                last_rows.append(gap[k][1])
            if any(ch not in "(*" for ch, _, _ in pre):
                return None
            opens = sum(1 for ch, _, _ in pre if ch == "(")
            first_rows.append(pre[0][1] if pre else start[0])
            prev = end
        last_row = elements[-1][1][0]
        need, comma = opens, False
        close: Pos | None = None
        for ch, row, col in self._chars(prev, close_pos):
            if need:
                if ch != ")":
                    return None
                need -= 1
                last_row = row
            elif ch == "," and not comma:
                comma = True
                last_row = row
            elif close_pos is None and ch == close_char:
                close = (row, col)
                break
            else:
                return None
        if need:
            return None
        if close_pos is not None:
            line = self.lines[close_pos[0] - 1]
            if close_pos[1] >= len(line) or line[close_pos[1]] != close_char:
                return None
            close = close_pos
        if close is None:
            return None
        last_rows.append(last_row)
        r1 = close[0]
        if r1 - r0 < 2 or not self._same_piece(r0, r1):
            return None
        if any(self.lines[r - 1].endswith("\\") for r in range(r0, r1)):
            return None
        owners: list[int] = []
        spans: list[list[int]] = []
        group_rows: list[int] = []  # last row of the open group
        for first, last in zip(first_rows, last_rows, strict=True):
            if spans and first <= group_rows[-1]:
                spans[-1][1] = max(spans[-1][1], last)
                group_rows[-1] = spans[-1][1]
            else:
                spans.append([first, last])
                group_rows.append(last)
            owners.append(len(spans) - 1)
        heads = {g for g, (lo, hi) in enumerate(spans) if lo <= r0 or hi >= r1}
        return [-1 if g in heads else g for g in owners], spans, r0

    def _commit(self, plan) -> list[int]:
        """Create the planned parts; return the part index of every element (-1: head)."""
        owners, spans, r0 = plan
        part_of_group: dict[int, int] = {}
        result = []
        for g in owners:
            if g < 0:
                result.append(-1)
                continue
            if g not in part_of_group:
                part = part_of_group[g] = self._new_part(r0)
                lo, hi = spans[g]
                for row in range(lo, hi + 1):
                    self.row_part[row] = part
            result.append(part_of_group[g])
        return result

    # -- constructs -------------------------------------------------------------------------
    def _mark_strings(self, node: ast.AST) -> None:
        for sub in ast.walk(node):
            if isinstance(sub, (ast.Constant, ast.JoinedStr)) and sub.end_lineno > sub.lineno:
                for row in range(sub.lineno + 1, sub.end_lineno + 1):
                    self.in_string[row] = True

    def _string(self, node: ast.AST) -> None:
        r0, r1 = node.lineno, node.end_lineno
        if r1 - r0 < 2 or id(node) in self.no_split or not self._same_piece(r0, r1):
            return
        line = self.lines[r0 - 1]
        i = self._col(r0, node.col_offset)
        while i < len(line) and line[i] in _PREFIX:
            i += 1
        quote = line[i:i + 3]
        if quote not in ('"""', "'''"):
            return
        row, col, found = r0, i + 3, None
        while row <= r1 and found is None:
            text = self.lines[row - 1]
            while True:
                end = text.find(quote, col)
                escape = text.find("\\", col)
                if escape < 0 or 0 <= end < escape:
                    break
                col = escape + 2  # an escaped character (or a backslash-newline)
            if end >= 0:
                found = (row, end + 3)
            row, col = row + 1, 0
        if found != self._end(node):
            return  # implicit concatenation or something else: not one token
        for row in range(r0 + 1, r1):
            if self.lines[row - 1].strip():
                self.row_part[row] = self._new_part(r0)
                self.string_rows.append(self.row_part[row])

    def _display(self, node: ast.AST) -> None:
        if isinstance(node, (ast.List, ast.Tuple)) and not isinstance(node.ctx, ast.Load):
            return
        if node.end_lineno - node.lineno < 2 or id(node) in self.no_split:
            return
        open_pos = self._start(node)
        end = self._end(node)
        close_pos = (end[0], end[1] - 1)
        opener = self.lines[open_pos[0] - 1][open_pos[1]:open_pos[1] + 1]
        if opener not in _OPEN:
            return
        if isinstance(node, ast.Dict):
            keys = [convert_to_value(k) for k in node.keys if k is not None]
            try:
                if len(set(keys)) != len(keys):
                    return  # pyflakes compares repeated keys' values: not a per-element property
            except TypeError:
                return
            elements = [(self._start(k if k is not None else v), self._end(v)) for k, v in zip(node.keys, node.values, strict=True)]
        else:
            elements = [(self._start(e), self._end(e)) for e in node.elts]
        plan = self._plan(open_pos, _OPEN[opener], elements, close_pos)
        if plan is not None:
            self._commit(plan)

    def _call(self, node: ast.Call) -> None:
        if node.end_lineno - node.lineno < 2 or id(node) in self.no_split:
            return
        open_pos = None
        for ch, row, col in self._chars(self._end(node.func), None):
            if ch == "(":
                open_pos = (row, col)
                break
            if ch != ")":
                return
        if open_pos is None:
            return
        items = sorted([*node.args, *node.keywords], key=lambda n: (n.lineno, n.col_offset))
        elements = [(self._start(n), self._end(n)) for n in items]
        end = self._end(node)
        plan = self._plan(open_pos, ")", elements, (end[0], end[1] - 1))
        if plan is not None:
            self._commit(plan)

    def _params(self, stmt: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        a = stmt.args
        if a.posonlyargs or (a.vararg is None and a.kwonlyargs):
            return  # `/` or a bare `*`: what may follow them depends on what is left
        last = a.kwarg or (a.kwonlyargs[-1] if a.kwonlyargs else None) or a.vararg or (a.args[-1] if a.args else None)
        if last is None or last.lineno <= stmt.lineno:
            return  # every parameter starts on the `def` row (the usual case): nothing to split (see _plan)
        line = self.lines[stmt.lineno - 1]
        match = _DEF.search(line, self._col(stmt.lineno, stmt.col_offset))
        if match is None or match.group(1) != stmt.name:
            return
        open_pos = (stmt.lineno, match.end() - 1)
        elements: list[tuple[Pos, Pos]] = []
        first_default = len(a.args) - len(a.defaults)
        for i, arg in enumerate(a.args):
            default = a.defaults[i - first_default] if i >= first_default else None
            elements.append((self._start(arg), self._end(default or arg)))
        vararg_index = -1
        if a.vararg is not None:
            vararg_index = len(elements)
            elements.append((self._start(a.vararg), self._end(a.vararg)))
        kwonly = []
        for arg, default in zip(a.kwonlyargs, a.kw_defaults, strict=True):
            kwonly.append(len(elements))
            elements.append((self._start(arg), self._end(default or arg)))
        if a.kwarg is not None:
            elements.append((self._start(a.kwarg), self._end(a.kwarg)))
        plan = self._plan(open_pos, ")", elements, None)
        if plan is None:
            return
        owners = plan[0]
        if vararg_index >= 0 and kwonly and owners[vararg_index] >= 0 and any(owners[k] < 0 for k in kwonly):
            return  # `*args` could go while a keyword-only parameter stays
        parts = self._commit(plan)
        if vararg_index >= 0:
            for k in kwonly:
                if parts[vararg_index] >= 0 and parts[k] != parts[vararg_index]:
                    self.takes.append((parts[vararg_index], parts[k]))

    def _import_from(self, stmt: ast.ImportFrom) -> None:
        if stmt.end_lineno - stmt.lineno < 2 or not stmt.names or not hasattr(stmt.names[0], "lineno"):
            return
        line = self.lines[stmt.lineno - 1]
        match = _FROM_IMPORT.match(line, self._col(stmt.lineno, stmt.col_offset))
        if match is None:
            return
        open_pos = (stmt.lineno, match.end() - 1)
        elements = [(self._start(alias), self._end(alias)) for alias in stmt.names]
        end = self._end(stmt)
        plan = self._plan(open_pos, ")", elements, (end[0], end[1] - 1))
        if plan is None:
            return
        parts = self._commit(plan)
        if all(p >= 0 for p in parts):
            self.bodies.append((stmt.lineno, sorted(set(parts))))

    # -- walking ----------------------------------------------------------------------------
    def expr(self, node: ast.AST | None, strings: bool = True) -> None:
        if node is None or getattr(node, "end_lineno", 0) == getattr(node, "lineno", -1) or id(node) in self.no_split_subtree:
            return  # a node on one row holds nothing to split
        kind = type(node)
        if kind is ast.Constant:
            if strings and isinstance(node.value, (str, bytes)):
                self._string(node)
            return
        if kind is ast.JoinedStr:
            if strings and all(type(v) is ast.Constant for v in node.values):
                self._string(node)
            return  # replacement fields: positions inside f-strings are not reliable before 3.12
        if kind is ast.BinOp and type(node.op) is ast.Mod and type(node.left) is ast.Constant and isinstance(node.left.value, str):
            self._children(node.right, strings)  # pyflakes counts the arguments of '...' % (...)
            return
        if kind is ast.Compare:
            for operand in (node.left, *node.comparators):
                if type(operand) is not ast.Tuple:  # `x is (a, 1)`: a tuple of constants is a literal
                    self.expr(operand, strings)
            return
        if kind is ast.Call:
            func = node.func
            if type(func) is ast.Attribute and func.attr == "format" and type(func.value) is ast.Constant and isinstance(func.value.value, str):
                for child in (*node.args, *node.keywords):
                    self.expr(child, strings)
                return
            self._call(node)
        elif kind in (ast.List, ast.Tuple, ast.Set, ast.Dict):
            self._display(node)
        elif kind is ast.Lambda:
            for default in (*node.args.defaults, *node.args.kw_defaults):
                self.expr(default, strings)
            self.expr(node.body, strings)
            return
        self._children(node, strings)

    def _children(self, node: ast.AST, strings: bool) -> None:
        for child in ast.iter_child_nodes(node):
            self.expr(child, strings)

    def statement(self, stmt: ast.stmt) -> None:
        self.statements.append(stmt)
        if stmt.end_lineno == stmt.lineno:
            return  # one row, and no body on other rows
        kind = type(stmt)
        if kind in (ast.FunctionDef, ast.AsyncFunctionDef):
            for decorator in stmt.decorator_list:
                self.expr(decorator)
            self._params(stmt)
            for default in (*stmt.args.defaults, *stmt.args.kw_defaults):
                self.expr(default)
        elif kind is ast.ClassDef:
            for node in (*stmt.decorator_list, *stmt.bases, *(k.value for k in stmt.keywords)):
                self.expr(node)
        elif kind in (ast.If, ast.While):
            self.expr(stmt.test)
        elif kind in (ast.For, ast.AsyncFor):
            self.expr(stmt.iter)
        elif kind in (ast.With, ast.AsyncWith):
            for item in stmt.items:
                self.expr(item.context_expr)
        elif kind is ast.ImportFrom:
            self._import_from(stmt)
        elif kind in (ast.Expr, ast.Return):
            self.expr(stmt.value)
        elif kind in (ast.Assign, ast.AugAssign, ast.AnnAssign):
            targets = stmt.targets if kind is ast.Assign else [stmt.target]
            exports = any(type(t) is ast.Name and t.id == "__all__" for t in targets)
            self.expr(stmt.value, strings=not exports)
        elif kind is ast.Raise:
            self.expr(stmt.exc)
            self.expr(stmt.cause)
        elif kind is ast.Assert:
            self.expr(stmt.test)
            self.expr(stmt.msg)
        if kind not in COMPOUND_TYPES:
            return  # no statements inside
        for field in ("body", "orelse", "finalbody"):
            for child in getattr(stmt, field, ()):
                self.statement(child)
        for handler in getattr(stmt, "handlers", ()):
            self.expr(handler.type)
            for child in handler.body:
                self.statement(child)
        for case in getattr(stmt, "cases", ()):
            for child in case.body:
                self.statement(child)


def _own_nodes(stmt: ast.stmt) -> list[ast.AST]:
    """The expressions a statement's own rows hold (a compound statement: its header)."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return [*stmt.decorator_list, stmt.args, *([stmt.returns] if stmt.returns else [])]
    if isinstance(stmt, ast.ClassDef):
        return [*stmt.decorator_list, *stmt.bases, *stmt.keywords]
    if isinstance(stmt, (ast.If, ast.While)):
        return [stmt.test]
    if isinstance(stmt, (ast.For, ast.AsyncFor)):
        return [stmt.target, stmt.iter]
    if isinstance(stmt, (ast.With, ast.AsyncWith)):
        return list(stmt.items)
    return [stmt]


def split_lines(lines, tree: ast.Module, spans: list[tuple[int, int]], no_split: set[int] | frozenset = frozenset(),
                no_split_subtree: set[int] | frozenset = frozenset()) -> LineParts:
    """The parts of every multi-line statement of `tree` (see the module docstring)."""
    splitter = _Splitter(lines, no_split, no_split_subtree)
    for stmt in tree.body:
        splitter.statement(stmt)
    split_rows: set[int] = set()
    if splitter.parent_row:
        row_part, in_string = splitter.row_part, splitter.in_string
        split_spans = [(lo, hi) for lo, hi in spans if max(row_part[lo:hi + 1]) >= 0]  # a row of it is in a part
        for lo, hi in split_spans:
            split_rows.update(range(lo, hi + 1))
        for stmt in splitter.statements:  # strings of every statement sharing rows with a split one
            if stmt.lineno in split_rows:
                for node in _own_nodes(stmt):
                    splitter._mark_strings(node)
        for lo, hi in split_spans:
            # Blank and comment rows travel with the next row of the statement (its last: the head).
            for row in range(hi, lo - 1, -1):
                text = lines[row - 1].strip()
                if not text or (text.startswith("#") and not in_string[row]):
                    row_part[row] = row_part[row + 1] if row < hi else -1
    return LineParts(splitter.row_part, splitter.parent_row, splitter.takes, splitter.bodies, splitter.in_string, split_rows,
                     splitter.string_rows)
