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


class ShardWriter:
    """One format's split: Parquet shards, and JSONL shards alongside when asked."""

    def __init__(self, folder: Path, split: str, schema: pa.Schema, shard_rows: int, jsonl_folder: Path | None = None) -> None:
        self.folder, self.split, self.schema, self.shard_rows = folder, split, schema, shard_rows
        self.jsonl_folder = jsonl_folder
        self.buffer: list[dict] = []
        self.parts: list[tuple[Path, ...]] = []
        self.rows = 0

    def add(self, row: dict) -> None:
        self.buffer.append(row)
        if len(self.buffer) >= self.shard_rows:
            self._flush()

    def _flush(self) -> None:
        if not self.buffer:
            return
        index = len(self.parts)
        table = pa.Table.from_pylist(self.buffer, schema=self.schema)
        self.folder.mkdir(parents=True, exist_ok=True)
        parquet = self.folder / f".{self.split}-{index:05d}.parquet.part"
        pq.write_table(table, parquet, compression="zstd", row_group_size=ROW_GROUP_ROWS)
        part: tuple[Path, ...] = (parquet,)
        if self.jsonl_folder is not None:
            self.jsonl_folder.mkdir(parents=True, exist_ok=True)
            jsonl = self.jsonl_folder / f".{self.split}-{index:05d}.jsonl.part"
            with jsonl.open("w", encoding="utf-8") as handle:
                for row in self.buffer:  # rows are built in schema column order
                    handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            part += (jsonl,)
        self.parts.append(part)
        self.rows += len(self.buffer)
        self.buffer = []

    def close(self) -> list[Path]:
        """Flush, give the shards their final names; return the Parquet paths (none if empty)."""
        self._flush()
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
