"""Pyflakes, run in-process, and the rule for what counts as an error.

Every parse failure and every pyflakes message is an error, except the "unused" and
"redefinition" family (and star-import notices): a half-written program naturally has an
import it does not use yet. Errors the source program already had are tolerated; they are
compared as a multiset of (message kind, arguments) because line numbers move as lines are
deleted.

Pyflakes lets the environment add builtins (PYFLAKES_BUILTINS); we do not, so the result
depends only on the text and the pinned pyflakes version, never on the machine.
"""

from __future__ import annotations

import ast
import warnings
from collections import Counter
from dataclasses import dataclass

import pyflakes
from pyflakes import checker as pyflakes_checker
from pyflakes import messages as pyflakes_messages

LINTER_NAME = "pyflakes"
LINTER_VERSION = pyflakes.__version__
LINT_FILENAME = "<lintseq>"  # never "__init__.py": pyflakes treats that name specially

TOLERATED_MESSAGES: frozenset[str] = frozenset(
    {
        "UnusedImport",
        "UnusedVariable",
        "UnusedAnnotation",
        "UnusedIndirectAssignment",  # a `global x` never assigned: "unused" by another name
        "RedefinedWhileUnused",
        "ImportShadowedByLoopVar",
        "ImportStarUsed",
        "ImportStarUsage",
    }
)
SYNTAX_ERROR = "SyntaxError"


class _PrefilledBuiltins(frozenset):
    """The fixed builtins; iterating them yields nothing (see StableChecker)."""

    __slots__ = ()

    def __iter__(self):
        return iter(())


FIXED_BUILTINS = _PrefilledBuiltins(pyflakes_checker.builtin_vars)
# One binding per builtin, shared by every run: pyflakes would make ~160 objects and as many
# addBinding calls per program, most of the time of linting a small one. Runs only ever set
# their `used`, which is reset after each run.
_SHARED_BUILTINS = {name: pyflakes_checker.Builtin(name) for name in sorted(pyflakes_checker.builtin_vars)}
_SHARED_BUILTIN_BINDINGS = tuple(_SHARED_BUILTINS.values())


class StableChecker(pyflakes_checker.Checker):
    """pyflakes' Checker with a fixed set of builtins (PYFLAKES_BUILTINS is ignored) and no
    doctests (PYFLAKES_DOCTEST is ignored): the result depends only on the text.

    pyflakes adds the builtins to the module scope by iterating `builtIns` right after
    entering it; here that iteration is empty and the scope gets the shared bindings at once.
    """

    def _builtins(self):
        if not self._builtins_ready:
            self._builtins_ready = True
            self.scopeStack[0].update(_SHARED_BUILTINS)
            self._module_scope_ready(self.scopeStack[0])
        return FIXED_BUILTINS

    builtIns = property(_builtins, lambda self, value: None)

    def __init__(self, tree: ast.Module, filename: str = LINT_FILENAME) -> None:
        self._builtins_ready = False
        try:
            super().__init__(tree, filename=filename, withDoctest=False)
        finally:
            for binding in _SHARED_BUILTIN_BINDINGS:
                binding.used = False

    def _module_scope_ready(self, scope) -> None:
        """Called once, when the module scope holds the builtins and nothing else."""


@dataclass(frozen=True)
class LintError:
    """One error: `key` is what the multiset comparison uses, `line` is 1-based."""

    key: tuple
    line: int
    text: str


def message_key(message: pyflakes_messages.Message) -> tuple:
    """Kind and arguments, without the line numbers some messages carry as arguments."""
    kind = type(message).__name__
    args = message.message_args
    if kind == "UndefinedLocal":
        name = args if isinstance(args, str) else args[0]
        return (kind, name)
    return (kind, *(arg if isinstance(arg, (str, int, float, bool)) else repr(arg) for arg in args))


def is_error(message: pyflakes_messages.Message) -> bool:
    return type(message).__name__ not in TOLERATED_MESSAGES


def errors_of(checker: pyflakes_checker.Checker) -> list[LintError]:
    """The errors (by our rule) among a finished checker's messages, in line order."""
    errors = [
        LintError(message_key(m), m.lineno, m.message % m.message_args)
        for m in checker.messages
        if is_error(m)
    ]
    errors.sort(key=lambda e: e.line)
    return errors


def lint_tree(tree: ast.Module) -> list[LintError]:
    """Errors pyflakes reports for an already-parsed module."""
    return errors_of(StableChecker(tree, filename=LINT_FILENAME))


def lint_text(text: str) -> list[LintError]:
    """Parse and lint `text`; a parse failure is one error at the line the parser names."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(text, filename=LINT_FILENAME)
    except SyntaxError as err:
        return [LintError((SYNTAX_ERROR,), err.lineno or 1, str(err.msg))]
    return lint_tree(tree)


def excess_errors(errors: list[LintError], baseline: Counter) -> list[LintError]:
    """Errors beyond what the source program already had, compared as a multiset of keys."""
    seen: Counter = Counter()
    excess = []
    for error in errors:
        seen[error.key] += 1
        if seen[error.key] > baseline.get(error.key, 0):
            excess.append(error)
    return excess
