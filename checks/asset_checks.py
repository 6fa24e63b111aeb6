"""Dagster asset checks over the warehouse and the exports: thin wrappers, logic elsewhere.

Every check opens a brief read-only connection through the `warehouse` resource (a
dagster-duckdb `DuckDBResource`), calls a plain function from `sql_checks`,
`replay_checks`, `export_checks` or `gx_suites`, and turns its `CheckOutcome` into an
`AssetCheckResult`. Checks whose failure would poison what follows are `blocking`: a failed
blocking check (severity ERROR) stops the downstream assets of the same run, so wrong
sequences never reach `training_exports`.

(No `from __future__ import annotations` here: Dagster inspects the `context` annotation
of the check functions as a real type.)
"""

from collections.abc import Callable
from dataclasses import dataclass

import duckdb
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    MetadataValue,
    asset_check,
)
from dagster_duckdb import DuckDBResource

from checks import export_checks, replay_checks, sql_checks
from checks.connection import read_connection
from checks.gx_suites import SUITES, outcome_from_validation
from checks.outcome import CheckOutcome
from lintseq_assets.core import SamplerConfig
from resources.gx import GXResource

WAREHOUSE_KEY = "warehouse"
GX_KEY = "gx"  # the GX check functions name their parameter after it


@dataclass(frozen=True)
class CheckSettings:
    """What the checks accept and how much they read.

    sampler_configs / extra_config_hashes: the configs whose sequences may be in the warehouse
        (the platform passes the SamplerConfig it samples with).
    replay_max_rows / parse_max_rows: above this many rows, a deterministic sample is checked.
    gx_sample_rows: rows per GX batch. exports_dir: default `$LINTSEQ_HOME/exports`.
    """

    sampler_configs: tuple[SamplerConfig, ...] = (SamplerConfig(),)
    extra_config_hashes: tuple[str, ...] = ()
    replay_max_rows: int = replay_checks.DEFAULT_MAX_ROWS
    parse_max_rows: int = 20_000
    gx_sample_rows: int = 20_000
    with_gx: bool = True
    with_exports: bool = True
    exports_dir: str | None = None
    blocking: bool = True

    def configs_by_hash(self) -> dict[str, SamplerConfig]:
        return {c.config_hash(): c for c in self.sampler_configs}

    def allowed_hashes(self) -> set[str]:
        return sql_checks.known_config_hashes(self.sampler_configs, self.extra_config_hashes)


def _metadata_value(key: str, value: object) -> object:
    if key.startswith("gx_") and isinstance(value, str):
        return MetadataValue.path(value)
    if isinstance(value, (dict, list, tuple)):
        return MetadataValue.json(value if not isinstance(value, tuple) else list(value))
    if value is None:
        return MetadataValue.text("")
    return value


def to_result(outcome: CheckOutcome) -> AssetCheckResult:
    """A CheckOutcome as Dagster sees it; `warn_only` failures do not block."""
    severity = AssetCheckSeverity.WARN if outcome.warn_only else AssetCheckSeverity.ERROR
    return AssetCheckResult(
        passed=outcome.passed,
        severity=severity,
        description=outcome.description,
        metadata={k: _metadata_value(k, v) for k, v in outcome.metadata.items()},
    )


Query = Callable[[duckdb.DuckDBPyConnection], CheckOutcome]


def _warehouse_check(asset: str, name: str, query: Query, description: str, blocking: bool) -> AssetChecksDefinition:
    @asset_check(asset=asset, name=name, description=description, blocking=blocking)
    def _check(warehouse: DuckDBResource) -> AssetCheckResult:
        with read_connection(warehouse) as conn:
            return to_result(query(conn))

    return _check


RunQuery = Callable[[duckdb.DuckDBPyConnection, str], CheckOutcome]


def _run_check(asset: str, name: str, query: RunQuery, description: str, blocking: bool) -> AssetChecksDefinition:
    """A warehouse check that also gets the id of the run it checks (to sample its rows first)."""

    @asset_check(asset=asset, name=name, description=description, blocking=blocking)
    def _check(context: AssetCheckExecutionContext, warehouse: DuckDBResource) -> AssetCheckResult:
        with read_connection(warehouse) as conn:
            return to_result(query(conn, context.run.run_id))

    return _check


ScopedQuery = Callable[[duckdb.DuckDBPyConnection, sql_checks.Scope], CheckOutcome]


def check_scope(context: AssetCheckExecutionContext) -> sql_checks.Scope:
    """What the run wrote: its source partition (a partitioned asset's run), else its run id."""
    partition = context.run.tags.get("dagster/partition")
    if partition:
        try:
            return sql_checks.Scope.partition(partition)
        except ValueError:
            pass
    return sql_checks.Scope.run(context.run.run_id)


def _scoped_check(asset: str, name: str, query: ScopedQuery, description: str, blocking: bool) -> AssetChecksDefinition:
    """A warehouse check over the rows this run wrote (`check_scope`), not the whole warehouse."""

    @asset_check(asset=asset, name=name, description=description, blocking=blocking)
    def _check(context: AssetCheckExecutionContext, warehouse: DuckDBResource) -> AssetCheckResult:
        with read_connection(warehouse) as conn:
            return to_result(query(conn, check_scope(context)))

    return _check


def _gx_check(table: str, sample_rows: int) -> AssetChecksDefinition:
    spec = SUITES[table]

    @asset_check(
        asset=table,
        name=f"gx_{table}",
        description=f"Great Expectations suite '{spec.name}' on a bounded sample; Data Docs under $LINTSEQ_HOME/gx_docs",
    )
    def _check(warehouse: DuckDBResource, gx: GXResource) -> AssetCheckResult:
        gx_resource = gx
        limit = min(sample_rows, gx_resource.sample_rows)
        with read_connection(warehouse) as conn:
            if not sql_checks.table_exists(conn, spec.table):
                return to_result(CheckOutcome(False, f"table {spec.table} does not exist"))
            frame = spec.sample(conn, limit)
        return to_result(outcome_from_validation(gx_resource.validate(spec.suite(), frame)))

    return _check


def _export_checks(exports_dir: str | None) -> list[AssetChecksDefinition]:
    """Checks on `training_exports`. Nothing is downstream of it, so none blocks; a failure
    is still severity ERROR."""

    @asset_check(asset="training_exports", name="manifest_integrity",
                 description="export files are exactly the manifest's, same sha256 and row counts")
    def manifest_integrity() -> AssetCheckResult:
        return to_result(export_checks.manifest_integrity(exports_dir))

    @asset_check(asset="training_exports", name="splits_disjoint",
                 description="no program in two splits, across every format of an export")
    def splits_disjoint() -> AssetCheckResult:
        return to_result(export_checks.splits_disjoint(exports_dir))

    @asset_check(asset="training_exports", name="counts_match_warehouse",
                 description="export counts agree with their files and with the warehouse")
    def counts_match_warehouse(warehouse: DuckDBResource) -> AssetCheckResult:
        with read_connection(warehouse) as conn:
            return to_result(export_checks.counts_match_warehouse(conn, exports_dir))

    return [manifest_integrity, splits_disjoint, counts_match_warehouse]


def build_asset_checks(settings: CheckSettings = CheckSettings()) -> list[AssetChecksDefinition]:
    """All checks for `raw_instructions`, `programs`, `edit_sequences`, `training_exports`.

    Needs resources `warehouse` (DuckDBResource) and, unless `with_gx=False`, `gx`
    (`resources.gx.GXResource`).
    """
    block = settings.blocking
    checks = [
        _warehouse_check("raw_instructions", "unique_record_id",
                         lambda c: sql_checks.unique_key(c, "raw_instructions"),
                         "record_id is unique", block),
        _scoped_check("raw_instructions", "required_values",
                      lambda c, scope: sql_checks.not_null(c, "raw_instructions", scope=scope),
                      "record_id and source are never null (in the run's partition)", block),
        _warehouse_check("programs", "unique_program_id",
                         lambda c: sql_checks.unique_key(c, "programs"),
                         "program_id is unique (one row per distinct normalised program)", block),
        _scoped_check("programs", "required_values",
                      lambda c, scope: sql_checks.not_null(c, "programs", scope=scope),
                      "program_id, record_id, source, program, n_lines are never null (rows this run wrote)", block),
        _run_check("programs", "programs_parse",
                   lambda c, run_id: replay_checks.programs_parse(c, settings.parse_max_rows, run_id),
                   "every program parses, is normalised, and its program_id is its content hash", block),
        _warehouse_check("edit_sequences", "unique_sequence_id",
                         lambda c: sql_checks.unique_key(c, "edit_sequences"),
                         "sequence_id is unique", block),
        _scoped_check("edit_sequences", "required_values",
                      lambda c, scope: sql_checks.not_null(c, "edit_sequences", scope=scope),
                      "no nulls in the columns an export needs (rows this run wrote)", block),
        _scoped_check("edit_sequences", "edit_counts",
                      lambda c, scope: sql_checks.edit_counts(c, scope=scope),
                      "n_edits >= 1 and n_edits = len(edit_path) (rows this run wrote)", block),
        _warehouse_check("edit_sequences", "known_programs",
                         lambda c: sql_checks.orphans(c, "edit_sequences", "programs", "program_id"),
                         "every sequence's program is in programs", block),
        _scoped_check("edit_sequences", "config_hashes",
                      lambda c, scope: sql_checks.config_hashes(c, settings.allowed_hashes(), scope=scope),
                      "every config_hash is a configured sampler's; sequence_id matches its parts (rows this run wrote)", block),
        _scoped_check("edit_sequences", "edits_view",
                      lambda c, scope: sql_checks.edits_view(c, scope=scope),
                      "the edits view has steps 0..n_edits-1 adding exactly the program's lines (rows this run wrote)", False),
        _run_check("edit_sequences", "sequences_replay",
                   lambda c, run_id: replay_checks.sequences_replay(
                       c, settings.replay_max_rows, settings.configs_by_hash(), run_id),
                   "every sequence (or a deterministic sample, this run's rows first) replays to its program, "
                   "each state lint-clean",
                   block),
    ]
    if settings.with_gx:
        checks += [_gx_check(table, settings.gx_sample_rows) for table in SUITES]
    if settings.with_exports:
        checks += _export_checks(settings.exports_dir)
    return checks
