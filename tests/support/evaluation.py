"""What the evaluation tests share: the export round trip (decode(training text) == program)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from lintseq_assets.evaluation.decode import decode


def export_round_trip(out_dir: Path, programs: dict[str, str]) -> int:
    """decode(training text minus the instruction) == program for every sequence-format row.

    Used by tests/unit/evaluation and tests/platform/test_evaluation_platform.py. Returns the rows checked."""
    checked = 0
    for file in sorted(out_dir.rglob("*.parquet")):
        frame = pl.read_parquet(file)
        fmt = file.relative_to(out_dir).parts[0]
        for row in frame.iter_rows(named=True):
            if fmt == "lintseq":
                text = row["text"]
                instruction_end = text.index("\n<|diff|>")  # instructions carry no marker (exports refuse them)
                completion = text[instruction_end:]
            elif fmt == "prompt_completion":
                completion = row["completion"]
            elif fmt == "messages":
                completion = row["messages"][1]["content"]
            else:
                continue
            result = decode(completion, malformed="fail")
            expected = programs[row["program_id"]]
            if row["truncated"]:  # a length-limited row carries a prefix of the path
                assert result.program is not None and result.n_malformed == 0
            else:
                assert result.program == expected, (file, row["sequence_id"])
            checked += 1
    return checked
