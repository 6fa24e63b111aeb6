"""Rows in, shard files out, with at most `shard_rows` rows held in memory.

Shards are named as the Hub names them (`<split>-0000i-of-0000n.parquet`), which is how
`datasets` tells splits apart in a folder. The total `n` is only known at the end (length
control decides how many rows survive), so shards are written under part names and renamed
when the split is closed. Parquet options are fixed so the same rows give the same bytes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROW_GROUP_ROWS = 10_000


class SplitShardWriter:
    """One format's split: Parquet shards, and JSONL shards alongside when asked.

    Rows are written a row group (ROW_GROUP_ROWS) at a time into the open shard, so memory
    is bounded by the row group, not by `shard_rows` (100K training texts held as Python
    dicts cost gigabytes at paper scale)."""

    def __init__(self, folder: Path, split: str, schema: pa.Schema, shard_rows: int, jsonl_folder: Path | None = None) -> None:
        self.folder, self.split, self.schema, self.shard_rows = folder, split, schema, shard_rows
        self.jsonl_folder = jsonl_folder
        self.buffer: list[dict] = []
        self.parts: list[tuple[Path, ...]] = []
        self.rows = 0
        self._in_shard = 0
        self._parquet: pq.ParquetWriter | None = None
        self._jsonl = None

    def add(self, row: dict) -> None:
        self.buffer.append(row)
        if self._in_shard + len(self.buffer) >= self.shard_rows or len(self.buffer) >= ROW_GROUP_ROWS:
            self._flush()

    def _open_shard(self) -> None:
        index = len(self.parts)
        self.folder.mkdir(parents=True, exist_ok=True)
        parquet = self.folder / f".{self.split}-{index:05d}.parquet.part"
        self._parquet = pq.ParquetWriter(parquet, self.schema, compression="zstd")
        part: tuple[Path, ...] = (parquet,)
        if self.jsonl_folder is not None:
            self.jsonl_folder.mkdir(parents=True, exist_ok=True)
            jsonl = self.jsonl_folder / f".{self.split}-{index:05d}.jsonl.part"
            self._jsonl = jsonl.open("w", encoding="utf-8")
            part += (jsonl,)
        self.parts.append(part)
        self._in_shard = 0

    def _flush(self) -> None:
        if not self.buffer:
            return
        if self._parquet is None:
            self._open_shard()
        table = pa.Table.from_pylist(self.buffer, schema=self.schema)
        self._parquet.write_table(table, row_group_size=ROW_GROUP_ROWS)
        if self._jsonl is not None:
            for row in self.buffer:  # rows are built in schema column order
                self._jsonl.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._in_shard += len(self.buffer)
        self.rows += len(self.buffer)
        self.buffer = []
        if self._in_shard >= self.shard_rows:
            self._close_shard()

    def _close_shard(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None
        if self._jsonl is not None:
            self._jsonl.close()
            self._jsonl = None

    def close(self) -> list[Path]:
        """Flush, give the shards their final names; return the Parquet paths (none if empty)."""
        self._flush()
        self._close_shard()
        total = len(self.parts)
        finals = []
        for index, part in enumerate(self.parts):
            for path in part:
                suffix = "parquet" if path.name.endswith(".parquet.part") else "jsonl"
                final = path.with_name(f"{self.split}-{index:05d}-of-{total:05d}.{suffix}")
                path.rename(final)
                if suffix == "parquet":
                    finals.append(final)
        return finals
