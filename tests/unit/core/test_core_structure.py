"""Units: what travels together, and what a deletion takes with it."""

from __future__ import annotations

from lintseq_assets.core import SamplerConfig, analyse_program, sample_analysed
from lintseq_assets.core.sampler import _Deleter, _Picker, edit_sequence_from_groups

STATEMENT = SamplerConfig(unit="statement")  # line units: tests/test_core_units.py


def unit_texts(source: str, config: SamplerConfig = STATEMENT) -> list[str]:
    analysed = analyse_program(source, config)
    lines = analysed.program.lines
    return ["\n".join(lines[i] for i in unit) for unit in analysed.structure.unit_lines]


def test_multiline_statements_and_strings_are_one_unit_in_statement_mode():
    source = 'x = {\n    "a": 1,\n    "b": 2,\n}\ns = """one\ntwo"""\ny = 1 + \\\n    2\nprint(x, s, y)\n'
    assert unit_texts(source) == [
        'x = {\n    "a": 1,\n    "b": 2,\n}',
        's = """one\ntwo"""',
        "y = 1 + \\\n    2",
        "print(x, s, y)",
    ]


def test_comments_and_blank_lines_travel_with_the_next_code_line():
    source = "# header\n\nimport os\n\n# about f\ndef f():\n    # inside\n    return os.sep\n# trailing\n"
    units = unit_texts(source)
    assert units[0] == "# header\n\nimport os"
    assert units[1] == "\n# about f\ndef f():"
    assert units[2] == "    # inside\n    return os.sep\n# trailing"


def test_semicolons_and_one_liners_share_a_unit():
    assert unit_texts("a = 1; b = 2\nif a: print(b)\nelse: print(a)\n") == [
        "a = 1; b = 2",
        "if a: print(b)",
        "else: print(a)",
    ]


def delete(source: str, unit_text: str) -> str:
    """Delete the unit whose text is `unit_text` with its consequences; return what is left."""
    analysed = analyse_program(source, STATEMENT)
    texts = unit_texts(source)
    deleter = _Deleter(analysed)
    deleter.delete(texts.index(unit_text), _Picker(analysed.weights))
    lines = analysed.program.lines
    unit_of = analysed.structure.line_unit
    return "\n".join(line for i, line in enumerate(lines) if deleter.alive[unit_of[i]])


def test_deleting_a_header_takes_its_block_and_clauses():
    source = "import sys\nif sys.argv:\n    a = 1\nelif sys.path:\n    a = 2\nelse:\n    a = 3\nprint(sys)"
    assert delete(source, "if sys.argv:") == "import sys\nprint(sys)"
    assert delete(source, "elif sys.path:") == "import sys\nif sys.argv:\n    a = 1\nelse:\n    a = 3\nprint(sys)"
    assert delete(source, "    a = 1") == "import sys\nprint(sys)"  # primary body emptied


def test_emptied_clause_goes_and_try_keeps_a_valid_shape():
    source = "try:\n    x = 1\nexcept ValueError:\n    x = 2\nelse:\n    x = 3\nfinally:\n    y = 4\nprint(x, y)"
    assert delete(source, "    x = 2") == "try:\n    x = 1\nfinally:\n    y = 4\nprint(x, y)"
    no_finally = "try:\n    x = 1\nexcept ValueError:\n    x = 2\nprint(x)"
    assert delete(no_finally, "except ValueError:") == ""  # x gone, so print(x) goes too


def test_lost_binding_takes_its_users():
    source = "import os\nimport sys\ndef f():\n    return os.sep\nprint(f(), sys.argv)"
    assert delete(source, "import os") == "import sys"
    assert delete(source, "import sys") == "import os\ndef f():\n    return os.sep"


def test_decorator_goes_with_its_function_but_not_the_reverse():
    source = "import functools\n@functools.cache\ndef f():\n    return 1\nprint(f())"
    assert delete(source, "def f():") == "import functools"
    assert delete(source, "@functools.cache") == "import functools\ndef f():\n    return 1\nprint(f())"


def test_each_step_deletes_at_least_one_code_unit():
    source = "# only a comment\nimport os\nprint(os)\n"
    analysed = analyse_program(source)
    for seq in sample_analysed(analysed, samples=5):
        assert all(any(not row[1:].lstrip().startswith("#") for row in d.split("\n") if row.startswith("+")) for d in seq.edit_path)


def test_forward_insertions_are_the_reversed_deletions():
    analysed = analyse_program("import os\nx = os.sep\nprint(x)\n")
    deleter_groups = [[2], [1], [0]]
    diffs, inserted = edit_sequence_from_groups(analysed, deleter_groups)
    assert inserted == [[0], [1], [2]]
    assert diffs == ["@@ -0,0 +1 @@\n+import os", "@@ -1,0 +2 @@\n+x = os.sep", "@@ -2,0 +3 @@\n+print(x)"]
