"""Great Expectations suites as code, with the bounded warehouse sample each one reads.

A suite describes a table's shape (types, ranges, formats, simple row invariants) on a sample
of at most `limit` rows, chosen deterministically (md5 of the key). Heavy columns are reduced
in SQL before they reach pandas (lengths and counts instead of whole programs or paths), so
memory stays bounded whatever the table size. The exact, whole-table guarantees (replay,
uniqueness over all rows) live in `sql_checks` and `replay_checks`; GX adds the documented,
browsable view (Data Docs) and catches drift in distributions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import pandas as pd

from checks.outcome import CheckOutcome


def _expectations():
    """GX is imported when a suite is built, not when Definitions load (it takes seconds)."""
    import great_expectations.expectations as gxe

    return gxe


HEX32 = r"^[0-9a-f]{32}$"
HEX16 = r"^[0-9a-f]{16}$"


@dataclass(frozen=True)
class SuiteSpec:
    """A suite name, the table it covers, the sample query, and how to build the suite."""

    name: str
    table: str
    key: str
    select: str  # the columns (SQL expressions) of the sample, FROM clause included
    build: Callable[[], list]

    def suite(self):
        """A fresh `gx.ExpectationSuite` each time: GX binds a suite to the context that adds it."""
        import great_expectations as gx

        return gx.ExpectationSuite(name=self.name, expectations=self.build())

    def sample(self, conn: duckdb.DuckDBPyConnection, limit: int) -> pd.DataFrame:
        query = f"SELECT {self.select} ORDER BY md5({self.key}::VARCHAR), {self.key} LIMIT {int(limit)}"
        return conn.execute(query).df()


def _raw_instructions() -> list:
    gxe = _expectations()
    return [
        gxe.ExpectColumnValuesToNotBeNull(column="record_id"),
        gxe.ExpectColumnValuesToBeUnique(column="record_id"),
        gxe.ExpectColumnValuesToNotBeNull(column="source"),
        gxe.ExpectColumnValuesToBeBetween(column="source_row", min_value=0),
    ]


def _programs() -> list:
    gxe = _expectations()
    return [
        gxe.ExpectColumnValuesToNotBeNull(column="program_id"),
        gxe.ExpectColumnValuesToBeUnique(column="program_id"),
        gxe.ExpectColumnValuesToMatchRegex(column="program_id", regex=HEX32),
        gxe.ExpectColumnValuesToNotBeNull(column="record_id"),
        gxe.ExpectColumnValuesToBeBetween(column="program_chars", min_value=1),
        gxe.ExpectColumnValuesToBeBetween(column="n_lines", min_value=1),
        # n_lines is what the program holds: a truncated program would break this.
        gxe.ExpectColumnPairValuesToBeEqual(column_A="n_lines", column_B="counted_lines"),
    ]


def _edit_sequences() -> list:
    gxe = _expectations()
    return [
        gxe.ExpectColumnValuesToNotBeNull(column="sequence_id"),
        gxe.ExpectColumnValuesToBeUnique(column="sequence_id"),
        gxe.ExpectColumnValuesToMatchRegex(column="sequence_id", regex=HEX32),
        gxe.ExpectColumnValuesToMatchRegex(column="program_id", regex=HEX32),
        gxe.ExpectColumnValuesToMatchRegex(column="config_hash", regex=HEX16),
        gxe.ExpectColumnValuesToBeBetween(column="sample_index", min_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="n_edits", min_value=1),
        gxe.ExpectColumnPairValuesToBeEqual(column_A="n_edits", column_B="path_len"),
        # Each edit inserts at least one line, so a path has at most as many edits as lines.
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="n_lines", column_B="n_edits", or_equal=True),
        # Every diff is hunk headers and insertions only: no deletions, no context, no empties.
        gxe.ExpectColumnValuesToBeBetween(column="non_insertion_lines", min_value=0, max_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="empty_diffs", min_value=0, max_value=0),
    ]


SUITES: dict[str, SuiteSpec] = {
    "raw_instructions": SuiteSpec(
        name="raw_instructions",
        table="raw_instructions",
        key="record_id",
        select="record_id, source, source_row, length(instruction) AS instruction_chars, "
        "length(response) AS response_chars FROM raw_instructions",
        build=_raw_instructions,
    ),
    "programs": SuiteSpec(
        name="programs",
        table="programs",
        key="program_id",
        select="program_id, record_id, source, n_lines, length(program) AS program_chars, "
        "len(string_split(program, chr(10))) AS counted_lines FROM programs",
        build=_programs,
    ),
    "edit_sequences": SuiteSpec(
        name="edit_sequences",
        table="edit_sequences",
        key="s.sequence_id",
        select="s.sequence_id, s.program_id, s.sample_index, s.config_hash, s.n_edits, "
        "len(s.edit_path) AS path_len, p.n_lines, "
        "len(list_filter(s.edit_path, lambda d: d IS NULL OR d = '')) AS empty_diffs, "
        "list_sum(list_transform(s.edit_path, lambda d: len(list_filter(string_split(coalesce(d, ''), chr(10)), "
        "lambda l: NOT (starts_with(l, '@@ -') OR starts_with(l, '+')) AND l <> ''))))::BIGINT AS non_insertion_lines "
        "FROM edit_sequences s LEFT JOIN programs p USING (program_id)",
        build=_edit_sequences,
    ),
}


def outcome_from_validation(validation) -> CheckOutcome:
    """A `resources.gx.GXValidation` as a CheckOutcome: failing expectations, counts, examples."""
    failing = [
        f"{f.expectation}({f.column})" if f.column else f.expectation for f in validation.failures
    ]
    metadata: dict[str, object] = {
        "suite": validation.suite,
        "rows_validated": validation.rows,
        "expectations": validation.evaluated,
        "failed_expectations": len(validation.failures),
        "failing": failing,
        "unexpected_counts": {
            name: failure.unexpected_count for name, failure in zip(failing, validation.failures, strict=True)
        },
        "unexpected_examples": {
            name: failure.examples for name, failure in zip(failing, validation.failures, strict=True)
        },
    }
    if validation.docs_index:
        metadata["gx_data_docs"] = validation.docs_index
    if validation.docs_page:
        metadata["gx_validation_page"] = validation.docs_page
    if validation.success:
        description = f"{validation.evaluated} expectations hold on {validation.rows} sampled rows"
    else:
        description = f"{len(failing)} of {validation.evaluated} expectations fail: " + ", ".join(failing)
    return CheckOutcome(validation.success, description, metadata)
