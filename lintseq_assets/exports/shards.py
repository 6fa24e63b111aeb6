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

    Rows come as Arrow tables (a batch of a format's rows) and are written a row group
    (ROW_GROUP_ROWS) at a time into the open shard, so memory is bounded by the row group
    and the batch, not by `shard_rows`."""

    def __init__(self, folder: Path, split: str, schema: pa.Schema, shard_rows: int, jsonl_folder: Path | None = None) -> None:
        self.folder, self.split, self.schema, self.shard_rows = folder, split, schema, shard_rows
        self.jsonl_folder = jsonl_folder
        self.buffer: list[pa.Table] = []
        self._buffered = 0
        self.parts: list[tuple[Path, ...]] = []
        self.rows = 0
        self._in_shard = 0
        self._parquet: pq.ParquetWriter | None = None
        self._jsonl = None

    def add_table(self, table: pa.Table) -> None:
        """Rows of `self.schema`, in order. They are flushed at exactly the row counts at which
        rows added one at a time would be (a flush is due once the open shard plus the buffer
        reach `shard_rows`, or the buffer ROW_GROUP_ROWS), because each flush is one Parquet
        row group and the bytes depend on where row groups end."""
        start = 0
        while start < table.num_rows:
            due = max(1, min(self.shard_rows - self._in_shard - self._buffered, ROW_GROUP_ROWS - self._buffered))
            take = min(due, table.num_rows - start)
            self.buffer.append(table.slice(start, take))
            self._buffered += take
            start += take
            if take == due:
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
        table = pa.concat_tables(self.buffer).combine_chunks()
        self._parquet.write_table(table, row_group_size=ROW_GROUP_ROWS)
        if self._jsonl is not None:
            for row in table.to_pylist():  # dicts in schema column order
                self._jsonl.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._in_shard += table.num_rows
        self.rows += table.num_rows
        self.buffer, self._buffered = [], 0
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
