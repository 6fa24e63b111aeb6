"""Platform commands of `lintseq`: materialize, sql, ui.

    lintseq materialize [-s SAMPLES] [--seed N] [-j WORKERS] [--executor local|ray] [--ray-address A]
                        [--sources FILE] [--export-name NAME] [--config RUN.yaml] [--set NAME=VALUE ...]
    lintseq settings [--markdown]
    lintseq sql "SELECT ..." [--format table|csv|json] [--max-width N]
    lintseq lineage SEQUENCE_ID|PROGRAM_ID
    lintseq ui [--port 3000]

`materialize` registers the sources as partitions and runs the same jobs the UI launches
(`ingest_source` once per partition, then `materialize_downstream`), in this process, on the
same Dagster instance ($LINTSEQ_HOME/dagster), so its runs appear in the UI's history.
`sql` opens the warehouse read-only and accepts only reading statements.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

from lintseq_assets.cli.errors import positive_int
from lintseq_assets.cli.invocation import cli_command, warehouse_missing
from lintseq_assets.runtime.environment import load_settings, sql_memory_limit

SANDBOXED_READER = {"enable_external_access": False, "autoinstall_known_extensions": False, "autoload_known_extensions": False}
READ_ONLY_STATEMENTS = {"SELECT", "EXPLAIN", "PRAGMA", "RELATION"}
EXAMPLE_QUERIES = (
    "SELECT source, count(*) FROM raw_instructions GROUP BY source",
    "SELECT stage, reason, count(*) AS n FROM rejects GROUP BY ALL ORDER BY n DESC",
    "SELECT n_edits, count(*) FROM edit_sequences GROUP BY n_edits ORDER BY n_edits",
    "SELECT step, diff FROM edits WHERE sequence_id = (SELECT min(sequence_id) FROM edit_sequences) ORDER BY step",
)


# --- materialize -----------------------------------------------------------------------------


def _run_config(args: argparse.Namespace) -> dict:
    """--config, then the flags, then each --set, validated (one-line errors)."""
    from lintseq_assets.platform.run_config import RunSettings, build_run_config

    flags = RunSettings(samples=args.samples, seed=args.seed, workers=args.workers, executor=args.executor,
                        ray_address=args.ray_address, export_name=args.export_name, unit=args.unit,
                        log_level="INFO" if args.verbose else "CRITICAL")  # failures are summed up in one line; -v shows the step logs
    return build_run_config(flags, args.config, args.set)


def cmd_materialize(args: argparse.Namespace) -> int:
    from lintseq_assets.sources.spec import load_sources

    settings = load_settings()
    sources = Path(args.sources).resolve() if args.sources else settings.sources_file
    load_sources(sources)  # a mistake in sources.yaml stops here, in one line (exit 2)
    run_config = _run_config(args)

    from lintseq_assets.definitions import build_definitions
    from lintseq_assets.platform.instance import platform_environment
    from lintseq_assets.platform.progress import print_to_stderr, set_console
    from lintseq_assets.platform.runner import materialize_all
    # Children (sampling workers) resolve the same places as this process.
    os.environ.update({k: v for k, v in platform_environment(settings).items() if k.startswith("LINTSEQ_")})
    print(f"lintseq: materializing every asset (LINTSEQ_HOME={settings.home}, sources={sources})", file=sys.stderr)
    started = time.perf_counter()
    # One line per stage, and sampling's done/total, rate, ETA. With -v Dagster's step logs are
    # on the console already and carry the same lines, so a second sink would print each twice.
    set_console(None if args.verbose else print_to_stderr)
    result = materialize_all(build_definitions(settings), settings, run_config, log=lambda line: print(line, file=sys.stderr), sources_file=sources)
    elapsed = time.perf_counter() - started
    if not result.success:
        print(f"lintseq: FAILED after {elapsed:.0f}s: {result.failure_reason()}; "
              f"step logs: `{cli_command(settings)} ui` or {settings.dagster_home}", file=sys.stderr)
        return 1
    print(_summary(settings, result.run_id, elapsed))
    _print_unconfigured(settings, sources)
    return 0


def _print_unconfigured(settings, sources: Path) -> None:
    from lintseq_assets.cli.prune import unconfigured_note

    note = unconfigured_note(settings, sources)
    if note:
        print("\n" + note)


def _summary(settings, run_id: str, elapsed: float) -> str:
    from resources.connect import connect_reader

    lines = [f"Materialized every asset in {elapsed:.0f}s (run {run_id}).", "", f"Warehouse: {settings.warehouse_path}"]
    with connect_reader(settings.warehouse_path) as conn:
        for table in ("raw_instructions", "programs", "rejects", "edit_sequences", "edits"):
            count = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            lines.append(f"  {table:<17} {count:>9,} rows")
        funnel = conn.execute("SELECT step, records_in, records_out, rejected FROM curation_report ORDER BY step_index").fetchall()
        reasons = conn.execute("SELECT stage, reason, count(*) FROM rejects GROUP BY ALL ORDER BY 3 DESC, 1, 2").fetchall()
    if funnel:
        lines += ["", "Curation funnel:"]
        lines += [f"  {step:<14} {n_in:>7,} in  {n_out:>7,} out  {rej:>6,} rejected" for step, n_in, n_out, rej in funnel]
    if reasons:
        lines += ["", "Rejects by stage and reason:"]
        lines += [f"  {stage:<14} {reason.split(':')[0]:<24} {n:>6,}" for stage, reason, n in _fold_reasons(reasons)]
    exports = sorted(p for p in settings.exports_dir.glob("*") if p.is_dir() and not p.name.startswith("."))
    if exports:
        lines += ["", "Exports:"]
        for folder in exports:
            lines.append(f"  {folder}  (card: {folder / 'README.md'}, manifest: {folder / 'manifest.json'})")
    cli = cli_command(settings)  # works as printed in a fresh shell, from this directory
    lines += ["", "Try:"] + [f'  {cli} sql "{q}"' for q in EXAMPLE_QUERIES[:3]] + ["", f"Or browse it all: {cli} ui"]
    return "\n".join(lines)


def _fold_reasons(rows: list[tuple]) -> list[tuple]:
    """`duplicate_of:<id>` reasons counted under their code."""
    folded: dict[tuple, int] = {}
    for stage, reason, n in rows:
        key = (stage, reason.split(":", 1)[0])
        folded[key] = folded.get(key, 0) + n
    return [(s, r, n) for (s, r), n in sorted(folded.items(), key=lambda kv: (-kv[1], kv[0]))]


def cmd_settings(args: argparse.Namespace) -> int:
    from lintseq_assets.platform.run_config import SETTINGS, settings_markdown

    if args.markdown:
        print(settings_markdown(), end="")
        return 0
    width = max(len(name) for name in SETTINGS)
    for name, setting in SETTINGS.items():
        print(f"{name:<{width}}  {setting.default!r}")
    return 0


# --- sql -------------------------------------------------------------------------------------


class WriteRefused(ValueError):
    """`lintseq sql` only reads."""


def check_read_only(conn, query: str) -> None:
    """Refuse anything but reading statements before DuckDB sees them.

    The connection is read-only already; this also stops COPY ... TO, ATTACH, INSTALL and
    SET, which a read-only database still allows and which reach outside it.
    """
    statements = conn.extract_statements(query)
    if not statements:
        raise WriteRefused("no statement given")
    for statement in statements:
        kind = statement.type.name
        if kind not in READ_ONLY_STATEMENTS:
            raise WriteRefused(f"lintseq sql is read-only: {kind} statements are refused")


def _format_table(columns: list[str], rows: list[tuple], max_width: int) -> str:
    def cell(value: object) -> str:
        text = "NULL" if value is None else str(value)
        text = text.replace("\n", "⏎")
        return text if len(text) <= max_width else text[: max_width - 1] + "…"

    body = [[cell(v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in body]) for i, c in enumerate(columns)]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    out = [line, "| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)) + " |", line]
    out += ["| " + " | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) + " |" for r in body]
    out += [line, f"({len(rows)} row{'s' if len(rows) != 1 else ''})"]
    return "\n".join(out)


def cmd_sql(args: argparse.Namespace) -> int:
    from resources.connect import WarehouseMissing, connect_reader

    settings = load_settings()
    try:
        # Read-only is not enough: a SELECT could still read other files or fetch extensions.
        conn = connect_reader(settings.warehouse_path, config={**SANDBOXED_READER, "memory_limit": args.memory_limit})
    except WarehouseMissing:
        print(f"lintseq sql: {warehouse_missing(settings)}", file=sys.stderr)
        return 2
    try:
        check_read_only(conn, args.query)
        relation = conn.execute(args.query)
        columns = [d[0] for d in relation.description or []]
        rows = relation.fetchall()
    except WriteRefused as err:
        print(f"lintseq sql: {err}", file=sys.stderr)
        return 3
    except Exception as err:  # DuckDB's own message (parser, binder, read-only) is the useful one
        print(f"lintseq sql: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    finally:
        conn.close()
    if args.format == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")  # LF: `$(lintseq sql --format csv ... | tail -1)` is a clean value
        writer.writerow(columns)
        writer.writerows(rows)
    elif args.format == "json":
        print(json.dumps([dict(zip(columns, row, strict=True)) for row in rows], default=str, ensure_ascii=False, indent=1))
    else:
        print(_format_table(columns, rows, args.max_width))
    return 0


# --- lineage -------------------------------------------------------------------------------


def cmd_lineage(args: argparse.Namespace) -> int:
    from lintseq_assets.lineage.trace import UnknownId, render, trace
    from resources.connect import WarehouseMissing, connect_reader

    settings = load_settings()
    try:
        conn = connect_reader(settings.warehouse_path)
    except WarehouseMissing:
        print(f"lintseq lineage: {warehouse_missing(settings)}", file=sys.stderr)
        return 2
    try:
        lineage = trace(conn, settings.exports_dir, args.id)
    except UnknownId as err:
        print(f"lintseq lineage: {err}", file=sys.stderr)
        return 1
    finally:
        conn.close()
    print(render(lineage))
    return 0


# --- ui --------------------------------------------------------------------------------------


def cmd_ui(args: argparse.Namespace) -> int:
    from lintseq_assets.cli.ui import cmd_ui as run_ui
    from lintseq_assets.cli.ui import exit_now

    # Once the UI's processes are gone there is nothing left to clean up here, and tearing
    # down the Dagster modules this process imported takes seconds on a busy machine.
    exit_now(run_ui(args))


def add_platform_commands(sub: argparse._SubParsersAction) -> None:
    materialize = sub.add_parser("materialize", help="materialize every asset in-process on the configured sources")
    materialize.add_argument("-s", "--samples", type=positive_int, help="edit sequences per program (default: the last run's, else 3)")
    materialize.add_argument("--seed", type=int, help="global seed (default: the last run's, else 0)")
    materialize.add_argument("--unit", choices=["line", "statement"], help="edit unit: line (the paper's) or statement (default: the last run's, else line)")
    materialize.add_argument("-j", "--workers", type=positive_int, help="curation and sampling worker processes (default: LINTSEQ_WORKERS, else 2)")
    materialize.add_argument("--executor", choices=["local", "ray"], help="where curation and sampling chunks run (default: local)")
    materialize.add_argument("--ray-address", help="Ray cluster to join with --executor ray (auto, ray://host:10001; default: a local one)")
    materialize.add_argument("--sources", help="sources.yaml to use for this run (default: LINTSEQ_SOURCES, else $LINTSEQ_HOME/sources.yaml, else the built-in one)")
    materialize.add_argument("--export-name", help="export folder name under $LINTSEQ_HOME/exports (default: default)")
    materialize.add_argument("--config", metavar="RUN.yaml", help="run config in the launchpad's schema (ops: {asset: {config: ...}}); docs/settings.md")
    materialize.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                             help="one setting, e.g. curation.decontaminate=false or sampling.samples=5; repeatable, wins over --config and the flags (`lintseq settings` lists them)")
    materialize.add_argument("-v", "--verbose", action="store_true", help="show Dagster's step logs")
    materialize.set_defaults(func=cmd_materialize)

    settings = sub.add_parser("settings", help="every setting a run takes (--set NAME=VALUE), with its default")
    settings.add_argument("--markdown", action="store_true", help="print docs/settings.md")
    settings.set_defaults(func=cmd_settings)

    sql = sub.add_parser("sql", help="query the warehouse read-only")
    sql.add_argument("query")
    sql.add_argument("--format", choices=["table", "csv", "json"], default="table", help="output format")
    sql.add_argument("--max-width", type=int, default=60, help="cut table cells to this many characters")
    sql.add_argument("--memory-limit", default=sql_memory_limit(),
                     help="DuckDB memory cap for the query, e.g. 2GB (default LINTSEQ_SQL_MEMORY_LIMIT or 256MB)")
    sql.set_defaults(func=cmd_sql)

    lineage = sub.add_parser("lineage", help="the chain source record -> program -> sequences -> export rows of an id")
    lineage.add_argument("id", help="a sequence_id or a program_id")
    lineage.set_defaults(func=cmd_lineage)

    ui = sub.add_parser("ui", help="start the Dagster UI (dagster dev) on this machine only")
    ui.add_argument("--host", default="127.0.0.1", help="bind address (default loopback only)")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(func=cmd_ui)
