"""Replaying edit paths and checking them: the ground truth every shortcut is held to.

`verify_edit_path` replays a path from the empty file, checks every diff is a non-empty
insertion, that the end state is the program, and (for LintSeq) lints every intermediate
state with real pyflakes against the program's own errors. The asset checks and
`lintseq verify` call exactly this.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from .diffs import DiffError, apply_diff
from .lint import excess_errors, lint_text
from .program import normalise_program


def replay_states(edit_path: list[str]) -> list[list[str]]:
    """Every state from the empty file through the last, as lists of lines."""
    states: list[list[str]] = [[]]
    for diff in edit_path:
        states.append(apply_diff(states[-1], diff))
    return states


def replay_edit_path(edit_path: list[str]) -> str:
    """The program an edit path builds."""
    return "\n".join(replay_states(edit_path)[-1])


@dataclass
class Verification:
    ok: bool
    n_edits: int
    problems: list[str] = field(default_factory=list)


def verify_edit_path(program: str, edit_path: list[str], linter: str = "pyflakes") -> Verification:
    """Replay `edit_path`, compare with `program`, and lint every intermediate state."""
    problems: list[str] = []
    if not edit_path:
        return Verification(False, 0, ["empty edit path"])
    try:
        states = replay_states(edit_path)
    except DiffError as err:
        return Verification(False, len(edit_path), [f"does not replay: {err}"])
    expected = normalise_program(program)
    if "\n".join(states[-1]) != expected:
        problems.append("replay does not rebuild the program")
    if linter == "pyflakes":
        baseline = Counter(e.key for e in lint_text(expected))
        for step, state in enumerate(states[1:-1], start=1):
            for error in excess_errors(lint_text("\n".join(state)), baseline):
                problems.append(f"state {step}: line {error.line}: {error.key[0]}: {error.text}")
    return Verification(not problems, len(edit_path), problems)
