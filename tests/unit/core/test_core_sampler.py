"""The engine's promises, checked against real pyflakes on code nobody here wrote."""

from __future__ import annotations

import difflib
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.corpus import stdlib_modules

from lintseq_assets.core import (
    SamplerConfig,
    analyse_program,
    normalise_program,
    replay_states,
    sample_analysed,
    sample_edit_paths,
    verify_edit_path,
)

HUNK = re.compile(r"^@@ -\d+(,0)? \+\d+(,\d+)? @@$")


def assert_well_formed(path: list[str]) -> None:
    assert path, "an edit path is never empty"
    for diff in path:
        assert diff, "no empty diffs"
        rows = diff.split("\n")
        assert HUNK.match(rows[0]), rows[0]
        for row in rows:
            assert HUNK.match(row) or row.startswith("+"), f"not insertion-only: {row!r}"
        assert not any(row.startswith(("---", "+++")) and HUNK.match(row) for row in rows)


def check_program(source: str, samples: int = 2, seed: int = 0, config: SamplerConfig = SamplerConfig()) -> int:
    analysed = analyse_program(source, config)
    for seq in sample_analysed(analysed, samples=samples, seed=seed, config=config):
        assert_well_formed(seq.edit_path)
        result = verify_edit_path(source, seq.edit_path)
        assert result.ok, result.problems[:5]
    return analysed.structure.n_units


# -- real code: the running Python's standard library --------------------------------------
CORPUS = stdlib_modules(lo=20, hi=1500, stride=4)


@pytest.mark.parametrize("unit", ["line", "statement"])
@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_stdlib_module_paths_replay_and_every_state_is_clean(path, unit):
    check_program(path.read_text(encoding="utf-8"), samples=1, seed=hash(path.name) % 1000, config=SamplerConfig(unit=unit))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    path=st.sampled_from(stdlib_modules(lo=5, hi=400)),
    seed=st.integers(min_value=0, max_value=2**32),
    bias=st.sampled_from([0.0, 0.5, 1.0, 3.0]),
    unit=st.sampled_from(["line", "statement"]),
)
def test_property_any_seed_any_bias_stays_clean(path, seed, bias, unit):
    source = path.read_text(encoding="utf-8")
    config = SamplerConfig(indent_bias=bias, unit=unit)
    for edit_path in sample_edit_paths(source, samples=1, seed=seed, config=config):
        assert_well_formed(edit_path)
        assert verify_edit_path(source, edit_path).ok


# -- generated programs that stress the scoping rules --------------------------------------
NAMES = ["a", "b", "c", "os", "f", "g", "K"]
SNIPPETS = [
    "import os",
    "from os import path as {n}",
    "{n} = 1",
    "{n} = {m} + 1",
    "del {n}",
    "global {n}",
    "print({n})",
    "{n} += 1",
    "for {n} in range(3):\n    print({m})",
    "def {n}({m}=None):\n    return {m}",
    "def {n}():\n    global {m}\n    {m} = 2",
    "def {n}():\n    print({m})\n    {m} = 3",
    "class {n}:\n    {m} = 1\n    def h(self):\n        return {m}",
    "try:\n    print({n})\nexcept NameError:\n    {n} = None",
    "try:\n    import {n}\nexcept ImportError:\n    {n} = None\nelse:\n    print({m})\nfinally:\n    pass",
    "if {n}:\n    {m} = 1\nelif {m}:\n    pass\nelse:\n    {n} = 2",
    "with open({n}) as {m}:\n    print({m})",
    "__all__ = ['{n}', '{m}']",
    "lambda: {n}",
    "[{n} for {n} in range({m})]",
    "x: int = {n}",
    "while {n}:\n    break\nelse:\n    print({m})",
    "match {n}:\n    case 1:\n        print({m})\n    case _:\n        pass",
    "@{n}\ndef deco():\n    return {m}",
]


@st.composite
def programs(draw):
    parts = []
    for _ in range(draw(st.integers(min_value=1, max_value=14))):
        snippet = draw(st.sampled_from(SNIPPETS))
        parts.append(snippet.format(n=draw(st.sampled_from(NAMES)), m=draw(st.sampled_from(NAMES))))
    return "\n".join(parts)


@settings(max_examples=300, deadline=None)
@given(source=programs(), seed=st.integers(min_value=0, max_value=1000), unit=st.sampled_from(["line", "statement"]))
def test_property_generated_programs_stay_clean(source, seed, unit):
    check_program(source, samples=2, seed=seed, config=SamplerConfig(unit=unit))


# -- format and determinism ----------------------------------------------------------------
def test_diffs_match_difflib_when_lines_are_unique():
    source = "import os\n\ndef f(x):\n    y = os.sep + x\n    return y\n\nprint(f('a'))\n"
    for path in sample_edit_paths(source, samples=3, seed=7):
        states = replay_states(path)
        for before, after, diff in zip(states, states[1:], path, strict=False):
            expected = list(difflib.unified_diff(before, after, n=0, lineterm=""))[2:]
            assert diff == "\n".join(expected)


def test_replay_keeps_text_verbatim_and_folds_crlf():
    source = "x = 1   \r\n\r\nif x:\r\n\tprint('tab')  \r\n\r\n\r\n"
    (path,) = sample_edit_paths(source)
    assert "\n".join(replay_states(path)[-1]) == "x = 1   \n\nif x:\n\tprint('tab')  "
    assert normalise_program(source) == "x = 1   \n\nif x:\n\tprint('tab')  "


def test_same_program_same_seed_same_paths_whatever_else_is_sampled():
    source = CORPUS[0].read_text(encoding="utf-8")
    alone = sample_edit_paths(source, samples=3, seed=11)
    analysed = analyse_program(source)
    later = sample_analysed(analysed, samples=2, seed=11, first_sample=1)
    assert [s.edit_path for s in later] == alone[1:]
    assert sample_edit_paths(source, samples=3, seed=12) != alone


def test_errors_already_in_the_source_are_tolerated():
    source = "import os\nprint(undefined_thing)\ndef f():\n    return os.sep + also_missing\nprint(f())\n"
    check_program(source, samples=5)


def test_randseq_ablation_replays_without_linting():
    source = CORPUS[1].read_text(encoding="utf-8")
    config = SamplerConfig(linter="none")
    analysed = analyse_program(source, config)
    (seq,) = sample_analysed(analysed, config=config)
    assert seq.n_edits == analysed.structure.n_units  # one unit per step, no cascade
    assert verify_edit_path(source, seq.edit_path, linter="none").ok
    assert seq.config_hash != SamplerConfig().config_hash()


def test_config_hash_covers_every_setting():
    hashes = {
        SamplerConfig().config_hash(),
        SamplerConfig(indent_bias=2.0).config_hash(),
        SamplerConfig(linter="none").config_hash(),
        SamplerConfig(max_lines=10).config_hash(),
        SamplerConfig(unit="statement").config_hash(),
    }
    assert len(hashes) == 5
    assert SamplerConfig().describe()["linter_version"]


@pytest.mark.parametrize("unit", ["line", "statement"])
def test_exact_engine_relints_every_state_and_agrees_on_validity(unit):
    """The plain loop (real pyflakes after every deletion) is the reference the fast path is
    held to: both give paths that replay and lint clean, and both end at the same program."""
    config = SamplerConfig(unit=unit)
    for path in CORPUS[:3]:
        source = path.read_text(encoding="utf-8")
        analysed = analyse_program(source, config)
        for engine in ("fast", "exact"):
            (seq,) = sample_analysed(analysed, samples=1, seed=2, engine=engine, config=config)
            assert verify_edit_path(source, seq.edit_path).ok, (path.name, unit, engine)
