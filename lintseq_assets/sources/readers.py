"""Reading program records from local files: JSONL, Parquet, or a folder of .py files.

One reader for every door (the CLI and the assets): it yields every record, good or bad, in
a deterministic order; a record that cannot be read carries an `error` instead of code, so
the caller records a reject and goes on. Nothing here is imported or executed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PY_SUFFIXES = (".py",)
JSONL_SUFFIXES = (".jsonl", ".jsonlines", ".ndjson")
PARQUET_SUFFIXES = (".parquet",)


@dataclass(frozen=True)
class RawRecord:
    """One input record: `code` is whatever the field held (may be any type, or None)."""

    record_id: str
    row: int
    code: object
    fields: dict
    error: tuple[str, str] | None = None  # (reason code, detail) when the record is unreadable


class InputError(ValueError):
    """The input as a whole cannot be read (missing path, unknown format)."""


def iter_records(path: str | os.PathLike, code_field: str = "program", id_field: str | None = "id") -> Iterator[RawRecord]:
    """Records of a .jsonl/.parquet file or a folder of .py files, in a stable order."""
    path = Path(path)
    if path.is_dir():
        yield from _iter_py_folder(path)
    elif not path.exists():
        raise InputError(f"{path}: no such file or folder")
    elif path.suffix in JSONL_SUFFIXES:
        yield from _iter_jsonl(path, code_field, id_field)
    elif path.suffix in PARQUET_SUFFIXES:
        yield from _iter_parquet(path, code_field, id_field)
    elif path.suffix in PY_SUFFIXES:
        yield _py_record(path, path.name)
    else:
        raise InputError(f"{path}: expected .jsonl, .parquet, a .py file or a folder of .py files")


def _record_id(fields: dict, id_field: str | None, row: int) -> str:
    value = fields.get(id_field) if id_field else None
    return str(value) if value is not None else f"row-{row}"


def _iter_jsonl(path: Path, code_field: str, id_field: str | None) -> Iterator[RawRecord]:
    with open(path, "rb") as handle:
        for row, raw in enumerate(handle):
            if not raw.strip():
                continue
            try:
                fields = json.loads(raw)
            except (UnicodeDecodeError, json.JSONDecodeError) as err:
                yield RawRecord(f"row-{row}", row, None, {}, ("malformed_record", f"line {row + 1}: {err}"[:300]))
                continue
            if not isinstance(fields, dict):
                yield RawRecord(f"row-{row}", row, None, {}, ("malformed_record", f"line {row + 1}: not a JSON object"))
                continue
            yield _field_record(fields, code_field, id_field, row)


def _field_record(fields: dict, code_field: str, id_field: str | None, row: int) -> RawRecord:
    record_id = _record_id(fields, id_field, row)
    if code_field not in fields:
        return RawRecord(record_id, row, None, fields, ("missing_field", f"no {code_field!r} field"))
    return RawRecord(record_id, row, fields[code_field], fields)


def _iter_parquet(path: Path, code_field: str, id_field: str | None) -> Iterator[RawRecord]:
    import pyarrow.parquet as pq  # imported here: pyarrow costs most of the CLI's start-up

    parquet = pq.ParquetFile(path)
    if code_field not in parquet.schema_arrow.names:
        raise InputError(f"{path}: no column {code_field!r} (columns: {', '.join(parquet.schema_arrow.names)})")
    row = 0
    for batch in parquet.iter_batches(batch_size=1024):
        for fields in batch.to_pylist():
            yield _field_record(fields, code_field, id_field, row)
            row += 1


def _iter_py_folder(folder: Path) -> Iterator[RawRecord]:
    files = sorted(p for p in folder.rglob("*.py") if p.is_file())
    for row, file in enumerate(files):
        yield _py_record(file, file.relative_to(folder).as_posix(), row)


def _py_record(file: Path, record_id: str, row: int = 0) -> RawRecord:
    data = file.read_bytes()
    try:
        code: object = data.decode("utf-8")
    except UnicodeDecodeError:
        code = data  # the engine rejects it with a clear reason
    return RawRecord(record_id, row, code, {"path": str(file)})
