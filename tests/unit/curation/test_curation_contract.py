"""The contract the `programs` asset codes against: columns, ids, accounting, settings."""

from __future__ import annotations

import polars as pl
import pytest

from lintseq_assets.core import normalise_program, program_id
from lintseq_assets.curation import CurationResult, CurationSettings, curate_programs

PROGRAM = "def add(a, b):\n    total = a + b\n    return total\n\nprint(add(1, 2))\n"


def make_raw(responses: list[object], source: str = "test") -> pl.DataFrame:
    n = len(responses)
    return pl.DataFrame(
        {
            "record_id": [f"{source}:{i}" for i in range(n)],
            "source": [source] * n,
            "source_revision": [None] * n,
            "source_row": list(range(n)),
            "instruction": [f"task {i}" for i in range(n)],
            "response": responses,
        },
        schema_overrides={"response": pl.Object, "source_revision": pl.String},
    )


def test_columns_and_ids_match_the_engine():
    result = curate_programs(make_raw([f"Sure:\n```python\n{PROGRAM}```\n"]), CurationSettings())
    assert isinstance(result, CurationResult)
    programs = result.programs
    for column in ("program_id", "record_id", "source", "instruction", "program", "n_lines", "n_lint_errors", "n_statements"):
        assert column in programs.columns
    assert result.rejects.columns == ["record_id", "source", "stage", "reason", "detail"]
    assert {"step", "records_in", "records_out", "rejected_by_reason"} <= set(result.funnel.columns)
    row = programs.row(0, named=True)
    assert row["program"] == normalise_program(PROGRAM)
    assert row["program_id"] == program_id(normalise_program(PROGRAM))
    assert row["n_lines"] == 5
    assert "| extract |" in result.to_markdown()


def test_empty_input():
    result = curate_programs(make_raw([]), CurationSettings())
    assert result.programs.height == 0 and result.rejects.height == 0
    assert result.funnel["records_in"][0] == 0


def test_every_record_accounted_for():
    responses = [PROGRAM, None, 7, b"\xff\xfe", "prose only.", PROGRAM, "```python\ndef (:\n```"]
    result = curate_programs(make_raw(responses), CurationSettings())
    ids = result.programs["record_id"].to_list() + result.rejects["record_id"].to_list()
    assert sorted(ids) == sorted(f"test:{i}" for i in range(len(responses)))
    funnel = result.funnel
    assert funnel["records_in"][1:].to_list() == funnel["records_out"][:-1].to_list()
    assert funnel["records_out"][-1] == result.programs.height


def test_settings_reject_unknown_keys():
    with pytest.raises(ValueError, match="jacard_threshold"):
        CurationSettings.from_dict({"jacard_threshold": 0.9})
    settings = CurationSettings.from_dict({"min_statements": 1, "benchmark_files": ["a.jsonl"]})
    assert settings.min_statements == 1 and settings.benchmark_files == ("a.jsonl",)
    with pytest.raises(ValueError):
        CurationSettings(jaccard_threshold=1.5)
