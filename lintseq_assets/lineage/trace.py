"""`lintseq lineage ID`: the chain from a source record to the export rows, for one id.

ID is a sequence_id or a program_id. The chain is read from the warehouse (read-only) and
from the exports' own files (listed in each export's manifest.json), so it shows what is
there, not what should be:

    source record  raw_instructions (source, revision, source row, run id)
    program        programs (record_id, run id)
    sequences      edit_sequences (config hash, sample, seed, run id) + the sampler config
    export rows    <export>/<file> row N (split, format) for every row naming the id

Every sequence row carries the provenance it was sampled with (record_id, source, revision,
row). For a sequence_id the source record shown is the sequence's own; where a sequence's
provenance is not the record shown (another kept duplicate, a moved row, a row from before
provenance was recorded), its line says so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from lintseq_assets.runtime.sorted_copy import sql_literal


class UnknownId(LookupError):
    """Neither a sequence_id nor a program_id of the warehouse."""


@dataclass
class Lineage:
    query: str
    kind: str  # sequence | program
    record: dict | None
    program: dict
    sequences: list[dict]
    configs: dict[str, str] = field(default_factory=dict)  # config_hash -> description
    export_rows: list[dict] = field(default_factory=list)


def _dicts(conn: duckdb.DuckDBPyConnection, sql: str, params: list) -> list[dict]:
    relation = conn.execute(sql, params)
    columns = [d[0] for d in relation.description]
    return [dict(zip(columns, row, strict=True)) for row in relation.fetchall()]



def export_rows(exports_dir: Path, program_id: str, sequence_ids: set[str] | None) -> list[dict]:
    """Rows of every export's Parquet/JSONL files that carry the program (and, if given, one of the sequences)."""
    found: list[dict] = []
    for manifest_path in sorted(Path(exports_dir).glob("*/manifest.json")):
        export = manifest_path.parent
        files = [f["path"] for f in json.loads(manifest_path.read_text(encoding="utf-8")).get("files", [])]
        for rel in files:
            path = export / rel
            if path.suffix == ".parquet":
                rows = _parquet_rows(path, program_id)
            elif path.suffix == ".jsonl":
                rows = _jsonl_rows(path, program_id)
            else:
                continue
            for row_number, sequence_id in rows:
                if sequence_ids is None or sequence_id is None or sequence_id in sequence_ids:
                    found.append({"export": export.name, "file": rel, "row": row_number, "sequence_id": sequence_id})
    return found


def _parquet_rows(path: Path, program_id: str) -> list[tuple[int, str | None]]:
    with duckdb.connect() as conn:
        columns = {r[0] for r in conn.execute(f"DESCRIBE SELECT * FROM read_parquet({sql_literal(path)})").fetchall()}
        if "program_id" not in columns:
            return []
        seq = "sequence_id" if "sequence_id" in columns else "NULL"
        return conn.execute(
            f"SELECT file_row_number, {seq} FROM read_parquet({sql_literal(path)}, file_row_number = true) WHERE program_id = ? ORDER BY 1",
            [program_id],
        ).fetchall()


def _jsonl_rows(path: Path, program_id: str) -> list[tuple[int, str | None]]:
    rows = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle):
            if program_id in line:
                row = json.loads(line)
                if row.get("program_id") == program_id:
                    rows.append((number, row.get("sequence_id")))
    return rows


def trace(conn: duckdb.DuckDBPyConnection, exports_dir: Path, ident: str) -> Lineage:
    """The lineage of a sequence_id or program_id; raises UnknownId."""
    sequence = _dicts(conn, "SELECT * FROM edit_sequences WHERE sequence_id = ?", [ident])
    kind = "sequence" if sequence else "program"
    program_id = sequence[0]["program_id"] if sequence else ident
    programs = _dicts(
        conn, "SELECT program_id, record_id, source, source_revision, source_row, n_lines, run_id FROM programs WHERE program_id = ?", [program_id]
    )
    if not programs:
        raise UnknownId(f"{ident!r} is neither a sequence_id nor a program_id in the warehouse")
    program = programs[0]
    origin = (sequence[0].get("record_id") if sequence else None) or program["record_id"]
    records = _dicts(conn, "SELECT record_id, source, source_revision, source_row, run_id FROM raw_instructions WHERE record_id = ?", [origin])
    if not records:  # the record is gone from raw_instructions: show what the rows recorded
        fallback = sequence[0] if sequence and sequence[0].get("record_id") else program
        records = [{k: fallback.get(k) for k in ("record_id", "source", "source_revision", "source_row")} | {"run_id": None, "missing": True}]
    sequences = sequence or _dicts(conn, "SELECT * FROM edit_sequences WHERE program_id = ? ORDER BY config_hash, sample_index", [program_id])
    for row in sequences:
        row.pop("edit_path", None)
    hashes = sorted({s["config_hash"] for s in sequences})
    configs = dict(conn.execute("SELECT config_hash, description FROM sampler_configs WHERE config_hash IN (SELECT unnest(?::VARCHAR[]))", [hashes]).fetchall()) if hashes else {}
    wanted = {s["sequence_id"] for s in sequences} if kind == "sequence" else None
    return Lineage(ident, kind, records[0] if records else None, program, sequences, configs, export_rows(exports_dir, program_id, wanted))


def _provenance_note(sequence: dict, record: dict) -> str | None:
    """A line for a sequence whose recorded provenance is not the record shown, else None."""
    if "record_id" not in sequence:  # a warehouse without the provenance columns
        return None
    if sequence["record_id"] is None:
        return "provenance not recorded (sampled before provenance columns; the next load of its config fills it)"
    fields = ("record_id", "source", "source_revision", "source_row")
    if all(sequence.get(f) == record.get(f) for f in fields):
        return None
    return (f"sampled from record {sequence['record_id']}  source {sequence['source']}  "
            f"revision {sequence['source_revision']}  row {sequence['source_row']}")


def render(lineage: Lineage) -> str:
    """Plain text, one link of the chain per block."""
    out = []
    record = lineage.record or {"record_id": lineage.program["record_id"], "missing": True}
    if record.get("missing"):
        out.append(f"source record  {record['record_id']}  (no longer in raw_instructions)")
        if record.get("source") is not None:
            out.append(f"  source {record['source']}  revision {record['source_revision']}  row {record['source_row']}  (as recorded)")
    else:
        out.append(f"source record  {record['record_id']}")
        out.append(f"  source {record['source']}  revision {record['source_revision']}  row {record['source_row']}  run {record['run_id']}")
    p = lineage.program
    kept_from = "" if p["record_id"] == record["record_id"] else f", now kept from record {p['record_id']}"
    out.append(f"program        {p['program_id']}  ({p['n_lines']} lines, run {p['run_id']}{kept_from})")
    out.append(f"sequences      {len(lineage.sequences)}")
    for s in lineage.sequences:
        out.append(f"  {s['sequence_id']}  config {s['config_hash']}  sample {s['sample_index']}  seed {s['seed']}  {s['n_edits']} edits  run {s['run_id']}")
        note = _provenance_note(s, record)
        if note:
            out.append(f"    {note}")
    for chash, description in sorted(lineage.configs.items()):
        out.append(f"  config {chash}: {description}")
    out.append(f"export rows    {len(lineage.export_rows)}")
    for row in lineage.export_rows:
        seq = f"  sequence {row['sequence_id']}" if row["sequence_id"] else ""
        out.append(f"  {row['export']}/{row['file']} row {row['row']}{seq}")
    return "\n".join(out)
