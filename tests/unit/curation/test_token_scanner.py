"""The fast token scanner gives exactly `tokenize`'s stream, or declines.

`code_tokens` feeds the exact-dedup key, the MinHash signatures and the decontamination
n-grams, so a scanner that differed from `tokenize` on any program would change which
programs are kept. These tests compare the two on the running Python's standard library
(code nobody here wrote) and on the odd cases the scanner must either get right or decline.
"""

from __future__ import annotations

import ast
import sysconfig
from pathlib import Path

import pytest

from lintseq_assets.curation import token_scanner
from lintseq_assets.curation.tokens import DEDENT, INDENT, NEWLINE, _stdlib_tokens, code_tokens

pytestmark = pytest.mark.skipif(not token_scanner.ENABLED, reason="the fast path is off on Python 3.12+")


def scan(text: str) -> list[str] | None:
    return token_scanner.scan_tokens(text, NEWLINE, INDENT, DEDENT)


def stdlib_texts(step: int = 24) -> list[str]:
    """Every `step`-th standard-library module (sorted, so the same files each run)."""
    root = Path(sysconfig.get_paths()["stdlib"])
    texts = []
    for path in sorted(root.rglob("*.py"))[::step]:
        try:
            texts.append(path.read_text("utf-8"))
        except (UnicodeDecodeError, OSError):
            continue
    return texts


def test_matches_tokenize_on_the_standard_library_and_cut_variants():
    texts = stdlib_texts()
    assert len(texts) > 250
    scanned_whole = 0
    for text in texts:
        # whole modules, without their last newline, cut mid-way (open strings and brackets),
        # and with Windows line ends: each either matches tokenize or is declined
        for variant in (text, text.rstrip("\n"), text[: len(text) // 3], text[:4000].replace("\n", "\r\n")):
            fast = scan(variant)
            if fast is not None:
                assert fast == _stdlib_tokens(variant), variant[:200]
        if scan(text) is not None:
            scanned_whole += 1
    parsed = sum(1 for text in texts if _parses(text))
    assert scanned_whole >= parsed  # the fast path is the one used for real programs


def _parses(text: str) -> bool:
    try:
        ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return True


ODD_CASES = [
    "x = (1,\n     2)  # a comment ( with a bracket\ny = 3\n",
    "s = 'a # not a comment' + \"(\"\n",
    'def f():\n    """One line."""\n    return f"{x!r}" + rb\'\\x00\'\n',
    'doc = """\nline ( one\n  line two\n"""\nz = 1\n',
    "total = 1 + \\\n    2\n",
    "s = 'abc\\\ndef'\n",
    "if x:\n\tif y:\n\t\tpass\n\f\nz = 1\n",
    "caf\u00e9 = \u00b2 + x2\n",
    "x = [\n    1,  # one\n\n    2,\n]\n",
    "a = b != c\nd = e ** f // g @ h\n",
    "x = 1",
    "# only a comment",
    "x = 1\n   ",
    "",
    "class A:\n    def f(self):\n        return 1\n  x = 2\n",  # unindent to no level
    "x = (1,\n",  # EOF in a statement
    "s = '''open\n",  # EOF in a string
    "s = 'open\nx = 1\n",  # unterminated string
    "x = $y\n",  # no token matches $
    "x = 1 \\\n",  # continuation at EOF
    "y = )\nz = 1\n",  # a bracket closed that was never opened
]


@pytest.mark.parametrize("text", ODD_CASES)
def test_odd_cases_match_tokenize_or_are_declined(text):
    fast = scan(text)
    if fast is not None:
        assert fast == _stdlib_tokens(text)
    assert code_tokens(text) == _stdlib_tokens(text)


def test_declines_what_tokenize_rejects():
    for text in ("x = (1,\n", "s = '''open\n", "class A:\n    x = 1\n  y = 2\n", "x = $y\n"):
        assert scan(text) is None
