"""Line units (the default) and statement units: what splits, what stays whole, and that every
path of both is valid, checked against real pyflakes (no mocks) on generated and real code."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.corpus import stdlib_modules

from lintseq_assets.core import (
    SamplerConfig,
    analyse_program,
    sample_analysed,
    sample_edit_paths,
    verify_edit_path,
)
from lintseq_assets.core.config import ALGORITHM_VERSION
from lintseq_assets.core.sampler import _Deleter, _Picker

LINE, STATEMENT = SamplerConfig(unit="line"), SamplerConfig(unit="statement")


def unit_texts(source: str, config: SamplerConfig = LINE) -> list[str]:
    analysed = analyse_program(source, config)
    lines = analysed.program.lines
    return ["\n".join(lines[i] for i in unit) for unit in analysed.structure.unit_lines]


def delete(source: str, unit_text: str, config: SamplerConfig = LINE) -> str:
    analysed = analyse_program(source, config)
    deleter = _Deleter(analysed)
    deleter.delete(unit_texts(source, config).index(unit_text), _Picker(analysed.weights))
    unit_of = analysed.structure.line_unit
    return "\n".join(line for i, line in enumerate(analysed.program.lines) if deleter.alive[unit_of[i]])


def check_paths(source: str, config: SamplerConfig, samples: int = 2, seed: int = 0, engine: str = "fast") -> list[int]:
    analysed = analyse_program(source, config)
    edits = []
    for seq in sample_analysed(analysed, samples=samples, seed=seed, config=config, engine=engine):
        result = verify_edit_path(source, seq.edit_path, linter=config.linter)
        assert result.ok, (config.unit, engine, result.problems[:5])
        edits.append(seq.n_edits)
    return edits


# -- the setting ---------------------------------------------------------------------------
def test_line_is_the_default_and_the_unit_is_in_the_hash():
    assert SamplerConfig().unit == "line"
    assert SamplerConfig().describe()["unit"] == "line"
    assert LINE.config_hash() != STATEMENT.config_hash()
    assert ALGORITHM_VERSION >= 3
    with pytest.raises(ValueError):
        SamplerConfig(unit="token")


# -- what splits ---------------------------------------------------------------------------
def test_docstring_rows_are_parts_and_the_quote_rows_stay_with_the_statement():
    source = 'def f():\n    """Title.\n\n    # not a comment\n    Body.\n    """\n    return 1\n'
    assert unit_texts(source) == [
        "def f():",
        '    """Title.\n    """',
        "\n    # not a comment",
        "    Body.",
        "    return 1",
    ]
    assert unit_texts(source, STATEMENT)[1] == '    """Title.\n\n    # not a comment\n    Body.\n    """'


def test_displays_calls_parameters_and_imports_split_into_whole_elements():
    source = (
        "from os import (\n    path,\n    sep,\n)\n"
        "def f(\n    a,\n    b=1,\n    *args,\n    c=None,\n    **kw,\n):\n    return a, b, c, args, kw\n"
        "x = {\n    'a': [\n        1, 2,\n        3,\n    ],\n    # about b\n    'b': f(\n        path, sep\n    ),\n}\n"
    )
    units = unit_texts(source)
    assert units[:3] == ["from os import (\n)", "    path,", "    sep,"]
    assert units[3:9] == ["def f(\n):", "    a,", "    b=1,", "    *args,", "    c=None,", "    **kw,"]
    assert "x = {\n}" in units
    assert "    'a': [\n    ]," in units and "        1, 2," in units and "        3," in units
    assert "    # about b\n    'b': f(\n    )," in units and "        path, sep" in units


def test_a_part_goes_with_its_statement_and_the_special_rules_hold():
    imports = "from os import (\n    path,\n    sep,\n)\nprint(1)"
    assert delete(imports, "    path,") == "from os import (\n    sep,\n)\nprint(1)"
    assert delete(delete(imports, "    path,"), "    sep,") == "print(1)"  # `from os import ()` never parses
    assert delete(imports, "from os import (\n)") == "print(1)"
    params = "def f(\n    a,\n    *args,\n    c=None,\n    **kw,\n):\n    return 1"
    assert delete(params, "    *args,") == "def f(\n    a,\n    **kw,\n):\n    return 1"  # takes keyword-only c


def test_parts_carry_the_names_they_bind_and_load():
    source = "from os import (\n    path,\n    sep,\n)\ndef f(\n    a,\n    b,\n):\n    return b\nprint(sep)"
    assert delete(source, "    sep,") == "from os import (\n    path,\n)\ndef f(\n    a,\n    b,\n):\n    return b"
    # `b` goes, so `return b` goes, so the body empties and the function goes with its parts
    assert delete(source, "    b,") == "from os import (\n    path,\n    sep,\n)\nprint(sep)"


@pytest.mark.parametrize(
    "source",
    [
        "def f(\n    a,\n    *,\n    b,\n):\n    return a, b",  # bare `*`
        "def f(\n    a,\n    /,\n    b,\n):\n    return a, b",  # `/`
        "x = '%s %s' % (\n    1,\n    2,\n)",  # pyflakes counts the arguments
        "x = '{} {}'.format(\n    1,\n    2,\n)",
        "x = {\n    'a': 1,\n    'a': 2,\n}",  # repeated keys: pyflakes compares their values
        "y = 1\nx = y is (\n    y,\n    1,\n)",  # a tuple of constants would be a literal
        "m = {}\nx = m[\n    1,\n    2\n]",  # a subscript
        "x = [1, \\\n    2,\n    3]",  # backslash continuation
        "y = 1\nx = f'''\n{y}\n'''",  # f-string with a field
        "x = [\n    a\n    for a in range(3)\n]",  # a comprehension
        "import typing\nT = typing.TypeVar(\n    'T',\n    'int',\n    'str',\n)",  # typing reads these as annotations
        "__all__ = ['''a\nb\nc''']",  # export names
    ],
)
def test_what_is_not_provably_safe_stays_whole(source):
    assert unit_texts(source) == unit_texts(source, STATEMENT)


def test_a_string_pyflakes_reads_as_an_annotation_stays_whole():
    source = 'x: """\nint\n""" = 1\ny = [\n    """\nfree text\n""",\n]'
    units = unit_texts(source)
    assert 'x: """\nint\n""" = 1' in units
    assert "free text" in units


# -- every path valid, both units ----------------------------------------------------------
SNIPPETS = [
    "import os",
    "{n} = 1",
    "print({n})",
    "def {n}(\n    {m},\n    *args,\n    k=None,\n    **kw,\n):\n    return {m}, args, k, kw",
    "def {n}(\n    a,\n    /,\n    b=1,\n    *,\n    c,\n):\n    return a, b, c, {m}",
    "{n} = [\n    {m},\n    1,\n]",
    "{n} = {{\n    'a': {m},\n    **{{}},\n    'b': (\n        {m}\n    ),\n}}",
    "print(\n    {n},\n    sep={m},\n)",
    "from os import (\n    path as {n},\n    sep,\n)",
    "from os import (path,\n    sep as {n})",
    '"""doc {n}\n\n# x\n  {m}\n"""',
    "{n} = '%s %s' % (\n    {m},\n    1,\n)",
    "{n} = '{{}}'.format(\n    {m},\n)",
    "{n} = {m} is (\n    {m},\n    1,\n)",
    "{n} = f'''\n{{{m}}}\n'''",
    "{n} = ((\n    {m},\n), [\n    {m}\n])",
    "{n} = dict(\n    a=(\n        {m}\n    ),\n    b=lambda x: [\n        x,\n        {m},\n    ],\n)",
    "__all__ = [\n    '{n}',\n    '{m}',\n]",
    "class {n}(\n    object,\n):\n    '''\n    text\n    '''\n    {m} = [\n        1,\n    ]",
    "if {n}:\n    {m} = [\n        {n},\n    ]\nelse:\n    {n} = (  # c\n        {m}, 2,\n        # c2\n        3\n    )",
    "try:\n    {n} = print(\n        {m},\n    )\nexcept NameError:\n    {m} = {{\n        1,\n        {n},\n    }}",
    "{n}: 'int' = {m}",
    "del {n}",
    "for {n} in [\n    {m},\n]:\n    print({n})",
    "with open(\n    {n},\n) as {m}:\n    pass",
    "@print(\n    {n},\n)\ndef deco():\n    return {m}",
]
NAMES = ["a", "b", "os", "f", "K", "path", "sep"]


@st.composite
def programs(draw):
    parts = ["import os"]  # never only a string: that is rejected as prose
    for _ in range(draw(st.integers(min_value=1, max_value=10))):
        snippet = draw(st.sampled_from(SNIPPETS))
        parts.append(snippet.format(n=draw(st.sampled_from(NAMES)), m=draw(st.sampled_from(NAMES))))
    return "\n".join(parts)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=programs(), seed=st.integers(min_value=0, max_value=1000), unit=st.sampled_from(["line", "statement"]))
def test_property_generated_multiline_programs_stay_clean_in_both_units(source, seed, unit):
    check_paths(source, SamplerConfig(unit=unit), samples=2, seed=seed)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=programs(), seed=st.integers(min_value=0, max_value=1000), unit=st.sampled_from(["line", "statement"]))
def test_property_exact_engine_supports_both_units(source, seed, unit):
    """The exact engine (real pyflakes after every deletion) on the same units."""
    check_paths(source, SamplerConfig(unit=unit), samples=1, seed=seed, engine="exact")


@settings(max_examples=30, deadline=None)
@given(source=programs(), seed=st.integers(min_value=0, max_value=1000))
def test_property_randseq_replays_in_line_units(source, seed):
    check_paths(source, SamplerConfig(unit="line", linter="none"), samples=1, seed=seed)


LARGE = stdlib_modules(lo=300, hi=1000, stride=9)


@pytest.mark.parametrize("path", LARGE, ids=lambda p: p.name)
def test_stdlib_line_units_against_the_exact_engine(path):
    source = path.read_text(encoding="utf-8")
    fast = check_paths(source, LINE, samples=1, seed=5)
    exact = check_paths(source, LINE, samples=1, seed=5, engine="exact")
    statement = check_paths(source, STATEMENT, samples=1, seed=5)
    assert fast and exact and statement


def test_line_units_are_finer_than_statements_on_docstrings():
    source = 'def f(x):\n    """Return x.\n\n    >>> f(1)\n    1\n    """\n    return x\n'
    line = sum(check_paths(source, LINE, samples=10))
    statement = sum(check_paths(source, STATEMENT, samples=10))
    assert line > statement


def test_same_seed_same_paths_in_line_units():
    source = LARGE[0].read_text(encoding="utf-8")
    assert sample_edit_paths(source, samples=2, seed=3) == sample_edit_paths(source, samples=2, seed=3, config=LINE)
    assert sample_edit_paths(source, samples=1, seed=3, config=STATEMENT) != sample_edit_paths(source, samples=1, seed=3)


def test_a_strings_quotes_are_picked_only_once_its_rows_are_gone():
    """Deleting the quotes would take the text with them: the text goes a row at a time first
    (the quotes can still go earlier with their statement, e.g. when the `def` goes)."""
    import random

    from lintseq_assets.core.sampler import backward_pass

    source = 'def f():\n    """Title.\n\n    one\n    two\n    three\n    """\n    return 1\nx = [\n    """\n    a\n    """,\n]'
    analysed = analyse_program(source, LINE)
    quotes_of = analysed.structure.quotes_of
    holders = {q for q in quotes_of if q >= 0}
    assert holders
    for seed in range(200):
        gone: set[int] = set()
        for group in backward_pass(analysed, random.Random(seed)):
            picked = group[0]
            if picked in holders:
                assert all(u in gone for u, q in enumerate(quotes_of) if q == picked), (seed, group)
            gone.update(group)
