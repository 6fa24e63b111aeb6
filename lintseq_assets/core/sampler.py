"""LintSeq: backward sampling of lint-clean deletions, forward diffs of the reversed states.

Backward: pick a unit at random (deeper units weigh more, as the reference's indent bias),
delete it with its block, then delete whatever that leaves broken: blocks that lost their
last statement, and every lookup that lost its last binding (see `dependencies`); repeat
until the program is empty. Each step's deletions form one edit. Forward: the edits in
reverse order are insertions that rebuild the program, each written as a zero-context diff.

A program is analysed once (parse, units, one recording pyflakes pass) and the analysis is
reused by every sample; a sample is then linear in the program's size. `engine="exact"`
re-lints every state with real pyflakes instead (the plain loop, kept as the reference the
fast path is tested against).
"""

from __future__ import annotations

import gc
import random
from bisect import bisect_right
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import accumulate

from .config import SamplerConfig, derive_seed, sequence_id
from .dependencies import Dependencies, analyse_dependencies, recording_checker
from .diffs import PlusText, forward_diffs_with
from .errors import ProgramRejected, RejectReason
from .lint import LintError, lint_text
from .program import Program, prepare_program
from .structure import Structure, build_structure

ENGINES = ("fast", "exact")


@dataclass
class AnalysedProgram:
    """A program with everything samples share: units, deletion rules, lookups, weights."""

    program: Program
    structure: Structure
    dependencies: Dependencies | None
    weights: list[float]
    baseline: list[LintError] = field(default_factory=list)
    dependents: list[list[int]] = field(default_factory=list)  # unit -> lookups it can satisfy
    quote_holds: list[int] | None = None  # line mode: per unit, weighing rows of strings whose quotes it holds
    _shared: tuple | None = field(default=None, repr=False)  # per-program state every sample starts from

    def shared(self) -> tuple:
        """(initial picker index, initial lookup support, diff text): built once, copied per sample."""
        if self._shared is None:
            weights = self.weights
            deps = self.dependencies
            children = self.structure.children
            self._shared = (
                (list(range(len(weights))), list(accumulate(weights)) if weights else [], float(sum(weights))),
                [len(c) for c in deps.candidates] if deps is not None else [],
                PlusText(self.program.lines),
                # what a unit's deletion pushes before its lookups: its block, then what it requires
                [c + r for c, r in zip(children, deps.requires, strict=True)] if deps is not None else children,
            )
        return self._shared


@dataclass(frozen=True)
class EditSequence:
    """One sample of a program: its identity, its seed and its diffs."""

    program_id: str
    sample_index: int
    seed: int
    config_hash: str
    sequence_id: str
    edit_path: list[str]

    @property
    def n_edits(self) -> int:
        return len(self.edit_path)


@contextmanager
def _gc_paused():
    """No cyclic garbage collection while a program is analysed or sampled.

    Both allocate many small objects while the program's AST and the checker's scopes are
    alive, and every collection in between walks all of them: about a quarter of the time
    of analysing a 500-line module. Whatever cyclic garbage a program leaves is collected
    once collection resumes.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def analyse_program(raw: object, config: SamplerConfig = SamplerConfig()) -> AnalysedProgram:
    """Validate, parse and analyse a program once; raise ProgramRejected if it cannot be used."""
    with _gc_paused():
        return _analyse_program(raw, config)


def _analyse_program(raw: object, config: SamplerConfig) -> AnalysedProgram:
    program = prepare_program(raw, config.limits)
    try:
        checker = None
        if config.linter == "pyflakes":  # first: line units keep whole what pyflakes reads more than names from
            checker = recording_checker(program.tree, track_splits=config.unit == "line")
        structure = build_structure(
            program.text, program.lines, program.tree, unit=config.unit,
            no_split=checker.no_split if checker else frozenset(),
            no_split_subtree=checker.no_split_subtree if checker else frozenset(),
        )
        dependencies = None
        baseline: list[LintError] = []
        if checker is not None:
            row_unit = [0, *structure.line_unit]
            dependencies = analyse_dependencies(program.tree, row_unit, structure.n_units, checker)
            baseline = dependencies.baseline
    except RecursionError:
        raise ProgramRejected(RejectReason.TOO_DEEP, "nesting too deep for the linter (recursion limit)") from None
    dependents: list[list[int]] = [[] for _ in range(structure.n_units)]
    if dependencies is not None:
        for load, units in enumerate(dependencies.candidates):
            for unit in units:
                dependents[unit].append(load)
    weights = unit_weights(program.lines, structure, config.indent_bias)
    quote_holds = None
    if structure.quotes_of is not None:
        quote_holds = [0] * structure.n_units
        for unit, quotes in enumerate(structure.quotes_of):
            if quotes >= 0 and weights[unit] > 0:
                quote_holds[quotes] += 1
    return AnalysedProgram(program, structure, dependencies, weights, baseline, dependents, quote_holds)


def unit_weights(lines: tuple[str, ...], structure: Structure, indent_bias: float) -> list[float]:
    """The reference's line weights, summed per unit.

    The reference samples code lines (not comments or blanks), a line at indentation `i`
    weighing 1 at the margin and `i / tab_width * indent_bias` inside. Summing over a unit's
    lines gives each unit the probability that the reference picks one of its lines, so a
    long statement or docstring is as likely to go first as it is there.
    """
    indents = [len(line) - len(line.lstrip()) for line in lines]
    code = structure.code_lines or [bool(line.strip()) and not line.lstrip().startswith("#") for line in lines]
    tab_width = next((i for i, is_code in zip(indents, code, strict=True) if is_code and i > 0), 4)
    weights = []
    for unit_lines in structure.unit_lines:
        weight = 0.0
        for line in unit_lines:
            if code[line]:
                weight += 1.0 if indents[line] == 0 else indents[line] / tab_width * indent_bias
        weights.append(weight)
    return weights


class _Picker:
    """Weighted choice among live units by rejection, re-indexed when most weight is dead.

    In line mode a string's quotes are not picked while rows of its text are left (`holds`):
    deleting them would take the rows along, so the text goes a row at a time first.
    """

    def __init__(self, weights: list[float], holds: list[int] | None = None, quotes_of: list[int] | None = None,
                 index: tuple | None = None) -> None:
        self.weights = weights
        self.holds = list(holds) if holds is not None else None
        self.quotes_of = quotes_of
        if index is None:  # the shared starting index is never mutated: `_index` makes new lists
            self.live_weight = float(sum(weights))
            self._index(range(len(weights)))
        else:
            self.units, self.cumulative, self.live_weight = index
            self.total = self.cumulative[-1] if self.cumulative else 0.0

    def _index(self, units) -> None:
        self.units = list(units)
        cumulative, total = [], 0.0
        for u in self.units:
            total += self.weights[u]
            cumulative.append(total)
        self.cumulative, self.total = cumulative, total

    def pick(self, rng: random.Random, alive: bytearray) -> int:
        if self.live_weight <= self.total / 4:
            self._index(u for u in self.units if alive[u])
            self.live_weight = self.total
        units = self.units
        if self.total <= 0:  # only weightless units left (indent_bias=0 without closure)
            return units[int(rng.random() * len(units))]
        cumulative, total, holds, random_ = self.cumulative, self.total, self.holds, rng.random
        last = len(units) - 1
        while True:
            i = bisect_right(cumulative, random_() * total)
            unit = units[i if i < last else last]
            if alive[unit] and not (holds and holds[unit]):
                return unit

    def dead(self, unit: int) -> None:
        self.live_weight -= self.weights[unit]
        if self.holds is not None:
            quotes = self.quotes_of[unit]
            if quotes >= 0 and self.weights[unit] > 0:
                self.holds[quotes] -= 1


class _Deleter:
    """Mutable state of one backward pass: which units live and what still holds them up."""

    def __init__(self, analysed: AnalysedProgram, support: list[int] | None = None) -> None:
        s = analysed.structure
        self.s = s
        self.alive = bytearray(b"\x01") * s.n_units
        self.remaining = s.n_units
        self.body_alive = list(s.body_size)
        deps = analysed.dependencies
        self.deps = deps
        if deps is None:
            self.support = []
        else:
            self.support = list(support) if support is not None else [len(c) for c in deps.candidates]
        self.dependents = analysed.dependents
        self.requires = deps.requires if deps else None

    def delete(self, first: int, picker: _Picker, closure: bool = True) -> list[int]:
        """Delete `first` and everything the deletion breaks; return the units removed."""
        s, alive = self.s, self.alive
        children, body_of, body_header, try_of = s.children, s.body_of, s.body_header, s.try_of
        deps = self.deps
        if deps is not None:
            requires, dependents, support, load_unit = self.requires, self.dependents, self.support, deps.load_unit
        weights, holds, quotes_of = picker.weights, picker.holds, picker.quotes_of
        live_weight = picker.live_weight
        group: list[int] = []
        stack = [first]
        while stack:
            unit = stack.pop()
            if not alive[unit]:
                continue
            alive[unit] = 0
            group.append(unit)
            weight = weights[unit]
            live_weight -= weight  # picker.dead(unit), inline
            if holds is not None and weight > 0 and quotes_of[unit] >= 0:
                holds[quotes_of[unit]] -= 1
            if not closure:
                break
            stack.extend(children[unit])
            if deps is not None:
                stack.extend(requires[unit])
                for load in dependents[unit]:
                    support[load] -= 1
                    if support[load] == 0:
                        stack.append(load_unit[load])
            body = body_of[unit]
            if body >= 0:
                self.body_alive[body] -= 1
                if self.body_alive[body] == 0:
                    stack.append(body_header[body])
            shape_index = try_of[unit]
            if shape_index >= 0:
                stack.extend(self._try_repairs(shape_index))
        picker.live_weight = live_weight
        self.remaining -= len(group)
        return group

    def _try_repairs(self, shape_index: int) -> list[int]:
        """A try with no handler left needs its finally and no else; without finally it goes."""
        shape, alive = self.s.try_shapes[shape_index], self.alive
        if not alive[shape.try_unit] or any(alive[h] for h in shape.handlers):
            return []
        if shape.finally_unit >= 0 and alive[shape.finally_unit]:
            return [shape.else_unit] if shape.else_unit >= 0 else []
        return [shape.try_unit]


def _state_errors(analysed: AnalysedProgram, alive: bytearray) -> list[int]:
    """Exact engine: lint the state for real; return units holding errors the source lacked."""
    lines, line_unit = analysed.program.lines, analysed.structure.line_unit
    kept = [i for i in range(len(lines)) if alive[line_unit[i]]]
    if not kept:
        return []
    errors = lint_text("\n".join(lines[i] for i in kept))
    at_source_place = {(e.key, e.line) for e in analysed.baseline}
    allowance = Counter(e.key for e in analysed.baseline)

    def source_line(error: LintError) -> int:
        return kept[min(max(error.line, 1), len(kept)) - 1]

    # Tolerate first the errors sitting where the source had them, then any left by count.
    errors.sort(key=lambda e: ((e.key, source_line(e) + 1) not in at_source_place, e.line))
    flagged = []
    for error in errors:
        if allowance[error.key] > 0:
            allowance[error.key] -= 1
        else:
            flagged.append(line_unit[source_line(error)])
    return flagged


def backward_pass(analysed: AnalysedProgram, rng: random.Random, linter: str = "pyflakes", engine: str = "fast") -> list[list[int]]:
    """Groups of units in deletion order; the last group empties the program."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}")
    if engine == "fast" or linter != "pyflakes":
        return _backward_inline(analysed, rng, use_model=linter == "pyflakes", closure=linter != "none")
    return _backward_loop(analysed, rng, linter, engine)


def _backward_inline(analysed: AnalysedProgram, rng: random.Random, use_model: bool, closure: bool) -> list[list[int]]:
    """`_backward_loop` without re-linting, as one function: the same picks, the same
    deletions, the same groups (the picker and deleter inlined, their state in locals)."""
    s = analysed.structure
    (units, cumulative, live_weight), support0, _, pushes = analysed.shared()
    if not use_model:
        pushes = s.children
    total = cumulative[-1] if cumulative else 0.0
    weights = analysed.weights
    holds = list(analysed.quote_holds) if analysed.quote_holds is not None else None
    quotes_of = s.quotes_of
    body_of, body_header, try_of = s.body_of, s.body_header, s.try_of
    body_alive = list(s.body_size)
    deps = analysed.dependencies if use_model else None
    if deps is not None:
        support, dependents, load_unit = list(support0), analysed.dependents, deps.load_unit
    alive = bytearray(b"\x01") * s.n_units
    remaining = s.n_units
    random_ = rng.random
    repairs = _Deleter.__new__(_Deleter)  # only for _try_repairs
    repairs.s, repairs.alive = s, alive
    groups = []
    while remaining:
        if live_weight <= total / 4:
            units = [u for u in units if alive[u]]
            cumulative = list(accumulate([weights[u] for u in units]))
            total = cumulative[-1] if cumulative else 0.0
            live_weight = total
        if total <= 0:  # only weightless units left (indent_bias=0 without closure)
            unit = units[int(random_() * len(units))]
        else:
            last = len(units) - 1
            while True:
                i = bisect_right(cumulative, random_() * total)
                unit = units[i if i < last else last]
                if alive[unit] and not (holds and holds[unit]):
                    break
        group: list[int] = []
        stack = [unit]
        while stack:
            unit = stack.pop()
            if not alive[unit]:
                continue
            alive[unit] = 0
            group.append(unit)
            weight = weights[unit]
            live_weight -= weight
            if holds is not None and weight > 0 and quotes_of[unit] >= 0:
                holds[quotes_of[unit]] -= 1
            if not closure:
                break
            stack.extend(pushes[unit])  # children, then (with the model) what the unit requires
            if deps is not None:
                for load in dependents[unit]:
                    support[load] -= 1
                    if support[load] == 0:
                        stack.append(load_unit[load])
            body = body_of[unit]
            if body >= 0:
                body_alive[body] -= 1
                if body_alive[body] == 0:
                    stack.append(body_header[body])
            if try_of[unit] >= 0:
                stack.extend(repairs._try_repairs(try_of[unit]))
        remaining -= len(group)
        groups.append(group)
    return groups


def _backward_loop(analysed: AnalysedProgram, rng: random.Random, linter: str = "pyflakes", engine: str = "fast") -> list[list[int]]:
    """The plain loop: pick, delete with the picker and deleter objects, and (exact engine)
    re-lint the state for real and delete what holds new errors until it is clean."""
    use_model = linter == "pyflakes" and engine == "fast"
    index, support = analysed.shared()[:2]
    deleter = _Deleter(analysed, support) if use_model else _Deleter(_without_dependencies(analysed))
    picker = _Picker(analysed.weights, analysed.quote_holds, analysed.structure.quotes_of, index)
    groups = []
    closure = linter != "none"
    alive, pick, delete = deleter.alive, picker.pick, deleter.delete
    while deleter.remaining:
        group = delete(pick(rng, alive), picker, closure)
        if linter == "pyflakes" and engine == "exact":
            while flagged := _state_errors(analysed, deleter.alive):
                for unit in flagged:
                    group.extend(deleter.delete(unit, picker))
        groups.append(group)
    return groups


def _without_dependencies(analysed: AnalysedProgram) -> AnalysedProgram:
    return AnalysedProgram(analysed.program, analysed.structure, None, analysed.weights, analysed.baseline, analysed.dependents,
                           analysed.quote_holds)


def edit_sequence_from_groups(analysed: AnalysedProgram, groups: list[list[int]]) -> tuple[list[str], list[list[int]]]:
    """Forward phase: reverse the deletions into insertions and write them as diffs."""
    unit_lines = analysed.structure.unit_lines
    insertions = []
    for group in reversed(groups):
        if len(group) == 1:
            insertions.append(unit_lines[group[0]])  # a unit's lines are in order
        else:
            rows: list[int] = []
            for unit in group:
                rows.extend(unit_lines[unit])
            rows.sort()
            insertions.append(rows)
    return forward_diffs_with(analysed.shared()[2], insertions), [list(rows) for rows in insertions]


def _diffs_of_groups(analysed: AnalysedProgram, groups: list[list[int]]) -> list[str]:
    """`edit_sequence_from_groups`'s diffs without keeping the insertions."""
    unit_lines = analysed.structure.unit_lines
    insertions = []
    for group in reversed(groups):
        if len(group) == 1:
            insertions.append(unit_lines[group[0]])
        else:
            rows: list[int] = []
            for unit in group:
                rows.extend(unit_lines[unit])
            rows.sort()
            insertions.append(rows)
    return forward_diffs_with(analysed.shared()[2], insertions)


def sample_analysed(
    analysed: AnalysedProgram,
    *,
    samples: int = 1,
    seed: int = 0,
    config: SamplerConfig = SamplerConfig(),
    engine: str = "fast",
    first_sample: int = 0,
) -> list[EditSequence]:
    """`samples` edit sequences of an analysed program, each from its own derived seed."""
    pid = analysed.program.program_id
    chash = config.config_hash()
    out = []
    with _gc_paused():
        for index in range(first_sample, first_sample + samples):
            sample_seed = derive_seed(pid, index, seed)
            groups = backward_pass(analysed, random.Random(sample_seed), config.linter, engine)
            diffs = _diffs_of_groups(analysed, groups)
            out.append(EditSequence(pid, index, sample_seed, chash, sequence_id(pid, chash, index), diffs))
    return out


def sample_edit_paths(
    program: object,
    *,
    samples: int = 1,
    seed: int = 0,
    config: SamplerConfig = SamplerConfig(),
    engine: str = "fast",
) -> list[list[str]]:
    """The library entry point: `samples` edit paths (lists of diffs) for one program.

    Raises ProgramRejected (with a stable `reason`) for input that is not a usable program.
    """
    analysed = analyse_program(program, config)
    return [seq.edit_path for seq in sample_analysed(analysed, samples=samples, seed=seed, config=config, engine=engine)]
