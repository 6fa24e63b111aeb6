"""Parquet staging shards: how parallel work hands rows to the single warehouse writer.

Layout: `$LINTSEQ_HOME/staging/<table>/<partition>/shard-00000.parquet` plus a
`_manifest.json` naming the complete set. Every file is written under a temporary name and
renamed, and the manifest is written last, so a reader never sees half a shard nor half a
set: a crash leaves either the previous complete set or no manifest at all (and the loader
then refuses to load, instead of loading part of the data).
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from lintseq_assets.runtime.files import atomic_path, write_text_atomic

MANIFEST = "_manifest.json"
_SAFE = re.compile(r"[^A-Za-z0-9._=-]+")


class StagingError(RuntimeError):
    """A staged partition is incomplete or missing: loading it would lose rows."""


def safe_component(name: str) -> str:
    """A path component that cannot escape the staging folder, whatever the source name is."""
    cleaned = _SAFE.sub("_", name).strip("._") or "_"
    return cleaned[:120]


@dataclass(frozen=True)
class StagedPartition:
    """A complete set of shards for one (table, partition)."""

    table: str
    partition: str
    folder: Path
    shards: tuple[Path, ...]
    rows: int


def partition_dir(staging_root: Path, table: str, partition: str) -> Path:
    return Path(staging_root) / safe_component(table) / safe_component(partition)


def write_parquet_atomic(frame: pl.DataFrame, path: Path) -> Path:
    """Write `frame` to `path` through a temporary name in the same folder, then rename."""
    with atomic_path(path) as tmp:
        frame.write_parquet(tmp, compression="zstd")
    return path


class ShardWriter:
    """Writes one partition's shards in order, then seals them with a manifest.

    Opening a writer removes the previous manifest first: from that moment until `seal()`
    the partition counts as incomplete.
    """

    def __init__(self, staging_root: Path, table: str, partition: str) -> None:
        self.table = table
        self.partition = partition
        self.folder = partition_dir(staging_root, table, partition)
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / MANIFEST).unlink(missing_ok=True)
        self._shards: list[tuple[str, int]] = []

    def write(self, frame: pl.DataFrame) -> Path | None:
        """Stage one shard; empty frames are skipped (an empty shard carries no schema worth keeping)."""
        if frame.height == 0:
            return None
        name = f"shard-{len(self._shards):05d}.parquet"
        write_parquet_atomic(frame, self.folder / name)
        self._shards.append((name, frame.height))
        return self.folder / name

    def seal(self) -> StagedPartition:
        """Drop stale shards from earlier, larger runs and write the manifest last."""
        keep = {name for name, _ in self._shards}
        for stale in self.folder.glob("shard-*.parquet"):
            if stale.name not in keep:
                stale.unlink()
        manifest = {"table": self.table, "partition": self.partition, "shards": [{"file": n, "rows": r} for n, r in self._shards]}
        write_text_atomic(self.folder / MANIFEST, json.dumps(manifest, indent=1))
        # What this writer wrote, not a re-read: another run staging the same (deterministic)
        # set at the same moment may have removed the manifest again by now.
        shards = tuple(self.folder / name for name, _ in self._shards)
        return StagedPartition(self.table, self.partition, self.folder, shards, sum(rows for _, rows in self._shards))


def write_partition(staging_root: Path, table: str, partition: str, frames: Iterable[pl.DataFrame]) -> StagedPartition:
    writer = ShardWriter(staging_root, table, partition)
    for frame in frames:
        writer.write(frame)
    return writer.seal()


def read_partition(staging_root: Path, table: str, partition: str) -> StagedPartition:
    """The sealed shard set of a partition; raises StagingError if it is not sealed or a shard is gone."""
    folder = partition_dir(staging_root, table, partition)
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StagingError(f"{folder}: no {MANIFEST}; the staging step did not finish") from None
    shards = tuple(folder / entry["file"] for entry in manifest["shards"])
    missing = [p.name for p in shards if not p.is_file()]
    if missing:
        raise StagingError(f"{folder}: manifest names missing shards {missing[:3]}")
    return StagedPartition(table, partition, folder, shards, sum(e["rows"] for e in manifest["shards"]))


def wait_for_partition(staging_root: Path, table: str, partition: str, timeout: float = 600.0, poll: float = 1.0) -> StagedPartition:
    """`read_partition`, waiting while the set is unsealed: another run may be rewriting it.

    Two runs at once stage the same (table, partition) (sampling is outside the warehouse
    pool): a loader that finds the manifest gone waits for the writer to seal its set (the
    same rows: staging is deterministic) instead of failing. A set nobody seals (a killed
    writer) still fails, after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return read_partition(staging_root, table, partition)
        except StagingError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(poll)


def batched(rows: Iterable[dict], size: int) -> Iterator[list[dict]]:
    """Group row dicts into lists of at most `size` (the shard size)."""
    batch: list[dict] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def clear_table(staging_root: Path, table: str) -> None:
    """Remove every staged partition of a table (used by `clean`-style maintenance only)."""
    shutil.rmtree(Path(staging_root) / safe_component(table), ignore_errors=True)
