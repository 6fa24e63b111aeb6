"""Decoding generated edit sequences: exact on our own paths and exports, lenient on the rest.

The round trip is tested on rows of the real export function (`write_exports`), in every
sequence format: decode(training text minus the instruction) == the program.
"""

from __future__ import annotations

import random
import sysconfig
from pathlib import Path

import polars as pl
import pytest
from support.evaluation import export_round_trip

from lintseq_assets.core import (
    SamplerConfig,
    analyse_program,
    normalise_program,
    sample_analysed,
    sample_edit_paths,
)
from lintseq_assets.evaluation.decode import MALFORMED_KINDS, decode, split_edits
from lintseq_assets.evaluation.problems import humaneval_problems
from lintseq_assets.exports import ExportSettings, write_exports

PROGRAM = "import os\n\n\ndef f(x):\n    y = x + 1\n    return y\n\n\nclass A:\n    def g(self):\n        return f(os.sep)\n\n\nprint(f(2))"


def _completion(path: list[str]) -> str:
    """What a model continues the prompt `instruction + "\\n<|diff|>"` with."""
    return "\n<|diff|>".join(path)


@pytest.fixture(scope="module")
def paths() -> list[list[str]]:
    return sample_edit_paths(PROGRAM, samples=4, seed=1)


def test_humaneval_edit_sequences_decode_exactly():
    for problem in humaneval_problems().values():
        for path in sample_edit_paths(problem.canonical_solution, samples=2, seed=0):
            result = decode(_completion(path))
            assert result.program == normalise_program(problem.canonical_solution), problem.task_id
            assert result.n_applied == len(path) and result.n_malformed == 0


def test_separators_eos_and_junk(paths):
    for path in paths:
        plain = _completion(path)
        for text in (
            plain,
            "\n<|diff|>" + plain,  # an export completion starts with the separator
            plain + "\n<|diff|>",  # a trailing separator
            plain + "\n<|diff|><|endoftext|>@@ -0,0 +1 @@\n+ignored",  # everything after EOS is ignored
            plain + "</s>",
            plain + "\n<|diff|>Sure! That is the whole program.",  # a last piece with no hunk: junk
            plain + "\nI hope this helps.",  # junk after the last hunk of the last diff
            plain.replace("\n", "\r\n"),
        ):
            result = decode(text)
            assert result.program == PROGRAM, text[-60:]
            assert result.n_malformed == 0
    assert split_edits("<|diff|>\n\n<|diff|>") == []
    assert decode("").failure == "no edits in the generation"


def _kind_cases(path: list[str]) -> dict[str, str]:
    first = path[0]
    return {
        "bad_header": "this is not a diff\n+x = 1",
        "deletion_line": "@@ -1 +1 @@\n-import os\n+import sys",
        "hunk_past_end": "@@ -500,0 +501 @@\n+x = 1",
        "truncated_hunk": first.split("\n")[0].split(" +")[0] + " +1,9 @@\n+only one line",
    }


@pytest.mark.parametrize("kind", MALFORMED_KINDS)
def test_each_malformed_kind_is_counted_and_skipped(paths, kind):
    path = paths[0]
    bad = _kind_cases(path)[kind]
    text = _completion([path[0], bad, *path[1:]])
    result = decode(text, malformed="skip")
    assert dict(result.malformed) == {kind: 1}
    assert result.program == PROGRAM and result.n_applied == len(path) and result.n_edits == len(path) + 1
    failed = decode(text, malformed="fail")
    assert failed.program is None and failed.failure.startswith(f"edit 2: {kind}")
    assert failed.as_row()["malformed"] == {kind: 1}


def test_a_deletion_after_insertions_in_one_hunk_is_a_deletion():
    result = decode("@@ -0,0 +1 @@\n+a = 1\n<|diff|>@@ -1,0 +2 @@\n+b = 2\n-a = 1")
    assert dict(result.malformed) == {"deletion_line": 1} and result.program == "a = 1"


def test_lenient_header_numbers_are_not_trusted():
    # Wrong new-file line numbers (a model's arithmetic slip): the old position decides.
    result = decode("@@ -0,0 +7,2 @@\n+a = 1\n+b = 2\n<|diff|>@@ -1,0 +99 @@ section\n+c = 3")
    assert result.program == "a = 1\nc = 3\nb = 2" and result.n_malformed == 0


def test_garbage_never_crashes(paths):
    rng = random.Random(0)
    alphabet = ["@@ ", "-", "+", "\n", "<|diff|>", ",", "0", "1", "7", " ", "x", "</s>", "@@", "\r"]
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80))) for _ in range(2000)]
    plain = _completion(paths[1])
    for _ in range(1000):  # valid paths with characters cut out, doubled or swapped
        chars = list(plain)
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(chars))
            op = rng.randrange(3)
            if op == 0:
                del chars[i]
            elif op == 1:
                chars.insert(i, chars[i])
            else:
                chars[i] = rng.choice(alphabet)
        texts.append("".join(chars))
    for text in texts:
        for mode in ("skip", "fail"):
            result = decode(text, malformed=mode)
            assert set(result.malformed) <= set(MALFORMED_KINDS)
            assert result.n_applied + result.n_malformed <= result.n_edits
            assert (result.program is None) == (result.failure is not None)


def _export_inputs() -> tuple[pl.DataFrame, pl.DataFrame]:
    library = Path(sysconfig.get_paths()["stdlib"])
    config = SamplerConfig()
    records = [(f"Write the module {name}.", (library / name).read_text()) for name in ("colorsys.py", "bisect.py", "keyword.py")]
    records += [(p.prompt, p.canonical_solution) for p in list(humaneval_problems().values())[:20]]
    programs, sequences = [], []
    for row, (instruction, text) in enumerate(records):
        analysed = analyse_program(text, config)
        programs.append({"program_id": analysed.program.program_id, "record_id": f"t:{row}", "source": "t", "instruction": instruction, "program": analysed.program.text})
        for seq in sample_analysed(analysed, samples=2, seed=0, config=config):
            sequences.append({"sequence_id": seq.sequence_id, "program_id": seq.program_id, "sample_index": seq.sample_index,
                              "seed": seq.seed, "config_hash": seq.config_hash, "n_edits": seq.n_edits, "edit_path": seq.edit_path})
    frame = pl.DataFrame(sequences, schema_overrides={"seed": pl.UInt64, "edit_path": pl.List(pl.String)})
    return frame, pl.DataFrame(programs).unique("program_id", keep="first", maintain_order=True)


def test_round_trip_on_our_exports(tmp_path):
    sequences, programs = _export_inputs()
    settings = ExportSettings(name="rt", formats=("lintseq", "prompt_completion", "messages"), splits={"train": 0.5, "test": 0.5})
    write_exports(sequences, programs, tmp_path / "rt", settings, lineage={"test": True})
    checked = export_round_trip(tmp_path / "rt", dict(zip(programs["program_id"], programs["program"], strict=True)))
    assert checked == 3 * sequences.height
