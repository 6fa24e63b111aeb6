"""Which units a name lookup depends on, read off one real pyflakes run.

Re-linting the whole program after every deletion costs a parse and a pyflakes pass per
step. Deletions only ever remove code, and the only pyflakes errors a deletion can create
are lookups that no longer find a binding (undefined name, undefined local, undefined
export); everything else pyflakes reports is a property of a statement that is either
still there, unchanged, or gone. So we run pyflakes once, on the full program, with hooks
that record for every lookup the set of bindings that *could* satisfy it (every binding of
the name pyflakes had seen in each scope it searches, star imports, a surrounding
`except NameError`, a later `global` statement that silences it). A lookup fails exactly
when all of those are deleted, and the sampler maintains that with counters.

Where pyflakes' behaviour would depend on more than "is some candidate still there", the
recorded dependency is stricter than pyflakes, never looser: a state we call clean is
clean for pyflakes. `lintseq verify` and the corpus tests re-lint every state for real.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from dataclasses import dataclass

from pyflakes import checker as pf

from .lint import FIXED_BUILTINS, LINT_FILENAME, LintError, StableChecker, errors_of

_ANNOTATIONS_ALWAYS_DEFERRED = sys.version_info >= (3, 14)


class _LoadRecord:
    """One lookup as pyflakes performed it, with every binding that could have satisfied it."""

    __slots__ = ("line", "name", "candidates", "own_key", "own_candidates", "own_count", "immortal", "needs_future", "needs")

    def __init__(self, line: int, name: str) -> None:
        self.line = line
        self.name = name
        self.candidates: list[object] = []  # bindings, ExceptHandler nodes, Global nodes
        self.own_key: tuple[int, str] | None = None
        self.own_candidates: list[object] = []
        self.own_count = 0
        self.immortal = False
        self.needs_future = False
        self.needs: list[ast.AST] = []  # statements whose deletion could change this lookup's meaning


# Fields that only ever hold an expression context or operators: pyflakes' handlers for those
# nodes are `ignore`, and nothing asks for their (shared, singleton) parents or depths, so the
# recording pass does not visit them (about one node in eight).
_IGNORED_FIELDS = frozenset({"ctx", "op", "ops"})
_VISITED_FIELDS: dict[type, tuple[str, ...]] = {}

# Calls whose arguments pyflakes reads as annotations or by shape (`_is_typing` in CALL).
_TYPING_SPECIAL = frozenset({"cast", "assert_type", "TypeVar", "ParamSpec", "TypeVarTuple", "NewType", "TypedDict", "NamedTuple"})


class _RecordingChecker(StableChecker):
    """pyflakes' own traversal, with hooks that record lookups and bindings.

    With `track_splits`, it also records what line units must keep whole: strings pyflakes
    parses as annotations (`no_split`) and calls to typing's special forms (`no_split_subtree`).
    """

    def __init__(self, tree: ast.Module, track_splits: bool = False) -> None:
        self.no_split: set[int] = set()
        self.no_split_subtree: set[int] = set()
        self.row_of: dict[int, int] = {}  # id(binding) -> row, where it is not its source's first row
        self._alias_seen: dict[tuple[int, str], int] = defaultdict(int)
        self._track_splits = track_splits
        self._history: dict[tuple[int, str], list[pf.Binding]] = {}
        self._added: dict[tuple[int, str], int] = defaultdict(int)
        self._stars: dict[int, list[pf.Binding]] = defaultdict(list)
        self._loads_by_name: dict[str, list[_LoadRecord]] = defaultdict(list)
        self._deleted_by: dict[tuple[int, str], list[ast.AST]] = defaultdict(list)
        self.loads: list[_LoadRecord] = []
        self.module_scope: pf.Scope | None = None
        super().__init__(tree, filename=LINT_FILENAME)

    def _module_scope_ready(self, scope) -> None:
        self.module_scope = scope  # lookups that reach it are satisfied by builtins by name

    # -- pyflakes' traversal, with fewer calls per node -----------------------------------
    # handleNode and handleChildren are pyflakes' own (4.1, pinned: the linter version is in
    # the config hash) with the same effects in the same order: the cheap depth test before
    # the futuresAllowed property, the handler cache read directly, no child generator. Only
    # this recording pass uses them; `lint_text` (what verify and the exact engine run) keeps
    # pyflakes' originals, so the ground truth never depends on this copy.
    def handleNode(self, node, parent):  # noqa: N802
        if node is None:
            return
        if self.offset and getattr(node, "lineno", None) is not None:
            node.lineno += self.offset[0]
            node.col_offset += self.offset[1]
        if self.nodeDepth == 0 and self.futuresAllowed and not isinstance(node, ast.ImportFrom) and not self.isDocstring(node):
            self.futuresAllowed = False
        self.nodeDepth += 1
        self._node_depths[node] = self.nodeDepth
        self._parents[node] = parent
        try:
            cls = node.__class__
            handler = self._nodeHandlers.get(cls)
            if handler is None:
                handler = self.getNodeHandler(cls)
            handler(node)
        finally:
            self.nodeDepth -= 1

    def handleChildren(self, tree, omit=None):  # noqa: N802
        handle, node_type = self.handleNode, ast.AST
        cls = tree.__class__
        fields = _VISITED_FIELDS.get(cls)
        if fields is None:
            fields = _VISITED_FIELDS[cls] = tuple(name for name in cls._fields if name not in _IGNORED_FIELDS)
        for name in fields:
            if omit and name in omit:
                continue
            field = getattr(tree, name, None)
            if isinstance(field, node_type):
                handle(field, tree)
            elif isinstance(field, list):
                for item in field:
                    if isinstance(item, node_type):
                        handle(item, tree)

    # -- bindings -------------------------------------------------------------------------
    def _remember(self, scope: pf.Scope, binding: pf.Binding) -> None:
        key = (id(scope), binding.name)
        self._history.setdefault(key, []).append(binding)
        self._added[key] += 1
        if isinstance(binding, pf.StarImportation):
            self._stars[id(scope)].append(binding)

    def addBinding(self, node, value):  # noqa: N802 (pyflakes' name)
        super().addBinding(node, value)
        if type(node) is ast.ImportFrom and node.end_lineno != node.lineno:
            self._alias_row(node, value)
        for scope in reversed(self.scopeStack):
            if scope.get(value.name) is value:
                self._remember(scope, value)
                break

    def GLOBAL(self, node):  # noqa: N802
        global_scope = self.scopeStack[0]
        silences = self.scope is not global_scope
        super().GLOBAL(node)
        if not silences:
            return
        for name in node.names:
            # pyflakes drops every UndefinedName already reported for this name.
            for record in self._loads_by_name.get(name, ()):
                record.candidates.append(node)
            for scope in self.scopeStack:
                binding = scope.get(name)
                if binding is not None and binding.source is node:
                    self._remember(scope, binding)

    NONLOCAL = GLOBAL

    def _alias_row(self, node: ast.ImportFrom, value: pf.Binding) -> None:
        """A name imported by a multi-line `from ... import (...)` lives on its alias's row."""
        if not hasattr(node.names[0], "lineno"):
            return
        key = (id(node), value.name)
        seen = self._alias_seen[key]
        self._alias_seen[key] += 1
        star = isinstance(value, pf.StarImportation)
        matching = [a for a in node.names if (a.name == "*" if star else (a.asname or a.name) == value.name)]
        if seen < len(matching):
            self.row_of[id(value)] = matching[seen].lineno

    def CALL(self, node):  # noqa: N802
        func = node.func
        if pf._is_any_typing_member(func, self.scopeStack):
            if self._track_splits and node.end_lineno != node.lineno and pf._is_typing_helper(func, _TYPING_SPECIAL.__contains__, self.scopeStack):
                self.no_split_subtree.add(id(node))
            super().CALL(node)
            return
        # Not a typing member, so none of pyflakes' typing branches applies: what is left of
        # its CALL is the '...'.format(...) check and the children.
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Constant) and isinstance(func.value.value, str) and func.attr == "format":
            self._handle_string_dot_format(node)
        self.handleChildren(node)

    def handleStringAnnotation(self, s, node, ref_lineno, ref_col_offset):  # noqa: N802
        self.no_split.add(id(node))
        return super().handleStringAnnotation(s, node, ref_lineno, ref_col_offset)

    def EXCEPTHANDLER(self, node):  # noqa: N802
        super().EXCEPTHANDLER(node)
        if node.name is not None:
            history = self._history.get((id(self.scope), node.name))
            if history:
                history[:] = [b for b in history if b.source is not node]

    def handleNodeDelete(self, node):  # noqa: N802
        scope, name = self.scope, node.id
        had = name in scope
        super().handleNodeDelete(node)
        if name in scope:  # conditional `del`: pyflakes ignores it, so do we
            return
        record = _LoadRecord(node.lineno, name)
        if had:
            record.candidates.extend(self._history.get((id(scope), name), ()))
            self._history[(id(scope), name)] = []
            # Without this `del`, later lookups would find the old bindings again, and a
            # lookup that now fails as UndefinedName could fail as UndefinedLocal instead.
            self._deleted_by[(id(scope), name)].append(node)
        self._keep(record)

    # -- lookups --------------------------------------------------------------------------
    def handleNodeLoad(self, node, parent):  # noqa: N802
        name = node.id if type(node) is ast.Name else pf.getNodeName(node)
        if name:
            self._record_load(node, name)
        super().handleNodeLoad(node, parent)

    def _record_load(self, node: ast.AST, name: str) -> None:
        record = _LoadRecord(node.lineno, name)
        postponed = None  # pyflakes' _in_postponed_annotation, asked only when it matters
        stack = self.scopeStack
        own = stack[-1]
        own_key = None
        if isinstance(own, pf.FunctionScope):
            own_key = record.own_key = (id(own), name)
            record.own_count = self._added.get(own_key, 0)
        history, stars, deleted_by, module_scope = self._history, self._stars, self._deleted_by, self.module_scope
        candidates = record.candidates
        can_access_class_vars = None
        for scope in reversed(stack):
            if isinstance(scope, pf.ClassScope):
                if name == "__class__":
                    record.immortal = True
                    break
                if can_access_class_vars is False:
                    continue
            key = (id(scope), name)
            deleted = deleted_by.get(key) if deleted_by else None
            if deleted:
                record.needs.extend(deleted)
            if scope is module_scope and name in FIXED_BUILTINS and not (deleted_by and key in deleted_by):
                record.immortal = True  # pyflakes falls back to the builtin whatever is deleted
            bindings = history.get(key)
            if bindings:
                for binding in bindings:
                    if isinstance(binding, pf.Annotation):
                        if postponed is None:
                            postponed = self._in_postponed_annotation
                        if not postponed:
                            continue
                    candidates.append(binding)
                    if own_key is not None and scope is own:
                        record.own_candidates.append(binding)
            if isinstance(scope.get(name), pf.Annotation):
                if postponed is None:
                    postponed = self._in_postponed_annotation
                if not postponed:
                    continue
            if stars:
                starred = stars.get(id(scope))
                if starred:
                    candidates.extend(starred)
            if can_access_class_vars is not False:
                can_access_class_vars = isinstance(scope, (pf.TypeScope, pf.ComprehensionScope))
        if name in pf.DetectClassScopedMagic.names and isinstance(own, pf.ClassScope):
            record.immortal = True
        if "NameError" in self.exceptHandlers[-1]:
            candidates.extend(self._name_error_guards(node))
        if self._in_annotation and self.annotationsFutureEnabled and not _ANNOTATIONS_ALWAYS_DEFERRED:
            record.needs_future = True
        self.loads.append(record)
        self._loads_by_name[name].append(record)

    def _keep(self, record: _LoadRecord) -> None:
        self.loads.append(record)
        self._loads_by_name[record.name].append(record)

    def _name_error_guards(self, node: ast.AST) -> list[ast.ExceptHandler]:
        """Handlers naming NameError of the innermost try whose body holds `node`."""
        child, parent = node, self._parents.get(node)
        while parent is not None:
            if isinstance(parent, (ast.Try, getattr(ast, "TryStar", ast.Try))) and child in parent.body:
                return [h for h in parent.handlers if _names_name_error(h)]
            child, parent = parent, self._parents.get(parent)
        return []

    # -- after the run ----------------------------------------------------------------------
    def later_store(self, record: _LoadRecord) -> bool:
        return record.own_key is not None and self._added[record.own_key] > record.own_count

    def export_lookups(self) -> tuple[list[pf.Binding], list[str]]:
        """Every module-level binding of `__all__`, and the names pyflakes checks exist.

        Which binding is last decides which names are checked (and how often, duplicates
        included), so the bindings are kept or deleted as one group: then the checked list
        is always the source program's.
        """
        scope = self.module_scope
        if scope is None or "__all__" not in scope:
            return [], []
        bindings = list(self._history.get((id(scope), "__all__"), ()))
        final = scope["__all__"]
        names = list(final.names) if isinstance(final, pf.ExportBinding) else []
        return bindings, names

    def module_candidates(self, name: str) -> tuple[list[pf.Binding], bool]:
        scope = self.module_scope
        bindings = list(self._history.get((id(scope), name), ())) + list(self._stars.get(id(scope), ()))
        immortal = name in FIXED_BUILTINS and (id(scope), name) not in self._deleted_by
        return bindings, immortal


# pyflakes binds many node types straight to handleChildren (`EXPR = ASSIGN = ... = handleChildren`);
# point those names at the copy above too.
for _name, _value in vars(pf.Checker).items():
    if _value is pf.Checker.handleChildren and _name != "handleChildren":
        setattr(_RecordingChecker, _name, _RecordingChecker.handleChildren)


def _names_name_error(handler: ast.ExceptHandler) -> bool:
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(t is not None and pf.getNodeName(t) == "NameError" for t in types)


@dataclass
class Dependencies:
    """Lookups as unit indices: lookup i fails when every unit in `candidates[i]` is gone."""

    load_unit: list[int]
    candidates: list[tuple[int, ...]]
    requires: list[list[int]]  # per unit: units that must go when it goes (beyond its block)
    baseline: list[LintError]  # the errors of the source program itself (same pyflakes pass)


def recording_checker(tree: ast.Module, track_splits: bool = False) -> _RecordingChecker:
    """One recording pyflakes pass over `tree` (run it before the units when they are lines)."""
    return _RecordingChecker(tree, track_splits)


def analyse_dependencies(tree: ast.Module, line_unit_of_row: list[int], n_units: int, checker: _RecordingChecker | None = None) -> Dependencies:
    """Lookups of `tree` as units; `line_unit_of_row[row]` maps 1-based rows to units."""
    if checker is None:
        checker = _RecordingChecker(tree)
    row_of = checker.row_of

    def _source_line(thing: object) -> int:
        row = row_of.get(id(thing))
        if row is not None:
            return row
        node = thing.source if isinstance(thing, pf.Binding) else thing
        return node.lineno

    load_unit: list[int] = []
    candidates: list[tuple[int, ...]] = []
    requires: list[list[int]] = [[] for _ in range(n_units)]

    def add(unit: int, things: list[object]) -> None:
        if len(things) == 1:  # the usual lookup: one binding could satisfy it
            only = line_unit_of_row[_source_line(things[0])]
            if only != unit:
                load_unit.append(unit)
                candidates.append((only,))
            return
        units = {line_unit_of_row[_source_line(t)] for t in things}
        if not units or unit in units:
            return  # already an error in the source (tolerated), or it can only go with itself
        load_unit.append(unit)
        candidates.append(tuple(sorted(units)))

    future_units = [
        line_unit_of_row[getattr(alias, "lineno", stmt.lineno)]
        for stmt in tree.body
        if isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__"
        for alias in stmt.names
        if alias.name == "annotations"
    ]
    for record in checker.loads:
        unit = line_unit_of_row[record.line]
        if record.needs_future:
            for future_unit in future_units:
                requires[future_unit].append(unit)
        for statement in record.needs:
            requires[line_unit_of_row[statement.lineno]].append(unit)
        if checker.later_store(record) and record.own_candidates:
            add(unit, record.own_candidates)  # falling through to an outer scope is UndefinedLocal
        elif not record.immortal:
            add(unit, record.candidates)
    exports, names = checker.export_lookups()
    export_units = sorted({line_unit_of_row[_source_line(b)] for b in exports})
    for this, following in zip(export_units, export_units[1:] + export_units[:1], strict=True):
        if this != following:
            requires[this].append(following)  # a cycle: one goes, all go
    for name in names:
        bindings, immortal = checker.module_candidates(name)
        if not immortal:
            for unit in export_units:
                add(unit, bindings)
    return Dependencies(load_unit=load_unit, candidates=candidates, requires=requires, baseline=errors_of(checker))
