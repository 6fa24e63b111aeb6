"""Parquet staging shards: how parallel work hands rows to the single warehouse writer.

Layout: `$LINTSEQ_HOME/staging/<table>/<partition>/shard-00000.parquet` plus a
`_manifest.json` naming the complete set. Every file is written under a temporary name and
renamed, and the manifest is written last, so a reader never sees half a shard nor half a
set: a crash leaves either the previous complete set or no manifest at all (and the loader
then refuses to load, instead of loading part of the data).

The staging root may also be an fsspec URL (`LINTSEQ_STAGING_URL`, e.g. `s3://bucket/prefix`,
credentials and endpoint from the usual AWS_* variables), so steps on different machines
hand sets to the loader through a bucket. Object stores have no rename, but a single object
appears whole or not at all (a killed multipart upload leaves nothing), and the writer
removes the old manifest before its first shard and writes the new one last: the loader,
which only loads what a manifest names, never sees half a set there either.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from lintseq_assets.runtime.files import atomic_path, write_text_atomic

StagingRoot = Path | str  # a local folder, or an fsspec URL such as s3://bucket/prefix

MANIFEST = "_manifest.json"
_SAFE = re.compile(r"[^A-Za-z0-9._=-]+")
_SHARD_NAME = re.compile(r"shard-\d{5,}\.parquet")


class StagingError(RuntimeError):
    """A staged partition is incomplete or missing: loading it would lose rows."""


def safe_component(name: str) -> str:
    """A path component that cannot escape the staging folder, whatever the source name is."""
    cleaned = _SAFE.sub("_", name).strip("._") or "_"
    return cleaned[:120]


@dataclass(frozen=True)
class StagedPartition:
    """A complete set of shards for one (table, partition); URLs (str) on a remote root."""

    table: str
    partition: str
    folder: Path | str
    shards: tuple[Path | str, ...]
    rows: int


def is_remote(staging_root: StagingRoot) -> bool:
    """True for a URL with a scheme other than file:// (a bucket); local folders stay Paths."""
    text = str(staging_root)
    return "://" in text and not text.startswith("file://")


def _remote_fs(url: str):
    import fsspec  # only remote staging needs it

    fs, _ = fsspec.core.url_to_fs(url)
    return fs


def partition_dir(staging_root: StagingRoot, table: str, partition: str) -> Path:
    return Path(staging_root) / safe_component(table) / safe_component(partition)


def partition_url(staging_root: str, table: str, partition: str) -> str:
    return f"{str(staging_root).rstrip('/')}/{safe_component(table)}/{safe_component(partition)}"


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

    def __new__(cls, staging_root: StagingRoot, table: str, partition: str):
        if cls is ShardWriter and is_remote(staging_root):
            return super().__new__(RemoteShardWriter)
        return super().__new__(cls)

    def __init__(self, staging_root: StagingRoot, table: str, partition: str) -> None:
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
        name = shard_name(len(self._shards))
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


class RemoteShardWriter(ShardWriter):
    """`ShardWriter` on an object store: each shard is one PUT (whole or absent), the old
    manifest is deleted before the first shard and the new one is PUT last."""

    def __init__(self, staging_root: StagingRoot, table: str, partition: str) -> None:
        self.table = table
        self.partition = partition
        self.folder = partition_url(str(staging_root), table, partition)
        self.fs = _remote_fs(self.folder)
        manifest = f"{self.folder}/{MANIFEST}"
        if self.fs.exists(manifest):
            self.fs.rm(manifest)
        self._shards = []

    def write(self, frame: pl.DataFrame) -> str | None:
        if frame.height == 0:
            return None
        name = shard_name(len(self._shards))
        put_shard(frame, f"{self.folder}/{name}", self.fs)
        self._shards.append((name, frame.height))
        return f"{self.folder}/{name}"

    def adopt(self, name: str, rows: int) -> str:
        """Count a shard another process put in this folder (`put_shard`: a Ray worker on
        another node) as the set's next one. Only names the manifest lists are loaded, and the
        manifest is PUT last, by `seal`, after every worker's shard is whole."""
        if not _SHARD_NAME.fullmatch(name) or any(name == known for known, _ in self._shards):
            raise StagingError(f"{self.folder}: cannot adopt shard {name!r} (not a shard name, or adopted twice)")
        self._shards.append((name, rows))
        return f"{self.folder}/{name}"

    def seal(self) -> StagedPartition:
        keep = {name for name, _ in self._shards}
        self.fs.invalidate_cache()
        for stale in self.fs.glob(f"{self.folder}/shard-*.parquet"):
            if stale.rsplit("/", 1)[-1] not in keep:
                self.fs.rm(stale)
        manifest = {"table": self.table, "partition": self.partition, "shards": [{"file": n, "rows": r} for n, r in self._shards]}
        self.fs.pipe(f"{self.folder}/{MANIFEST}", json.dumps(manifest, indent=1).encode("utf-8"))
        shards = tuple(f"{self.folder}/{name}" for name, _ in self._shards)
        return StagedPartition(self.table, self.partition, self.folder, shards, sum(rows for _, rows in self._shards))


def put_shard(frame: pl.DataFrame, url: str, fs=None) -> str:
    """One shard to an object store in a single PUT: it appears whole or not at all (a killed
    upload leaves nothing), so a writer needs no rename. Used by `RemoteShardWriter` and by
    workers that stage their own shards (`lintseq_assets.sampling.worker_staging`)."""
    buffer = io.BytesIO()  # one shard (a few MB): uploaded in one piece, visible only when whole
    frame.write_parquet(buffer, compression="zstd")
    (fs or _remote_fs(url)).pipe(url, buffer.getvalue())
    return url


def shard_name(index: int) -> str:
    return f"shard-{index:05d}.parquet"


def write_partition(staging_root: StagingRoot, table: str, partition: str, frames: Iterable[pl.DataFrame]) -> StagedPartition:
    writer = ShardWriter(staging_root, table, partition)
    for frame in frames:
        writer.write(frame)
    return writer.seal()


def read_partition(staging_root: StagingRoot, table: str, partition: str) -> StagedPartition:
    """The sealed shard set of a partition; raises StagingError if it is not sealed or a shard is gone."""
    if is_remote(staging_root):
        return _read_remote_partition(str(staging_root), table, partition)
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


def _read_remote_partition(staging_root: str, table: str, partition: str) -> StagedPartition:
    folder = partition_url(staging_root, table, partition)
    fs = _remote_fs(folder)
    fs.invalidate_cache()
    try:
        manifest = json.loads(fs.cat_file(f"{folder}/{MANIFEST}").decode("utf-8"))
    except FileNotFoundError:
        raise StagingError(f"{folder}: no {MANIFEST}; the staging step did not finish") from None
    shards = tuple(f"{folder}/{entry['file']}" for entry in manifest["shards"])
    present = {p.rsplit("/", 1)[-1] for p in fs.glob(f"{folder}/shard-*.parquet")}
    missing = [p.rsplit("/", 1)[-1] for p in shards if p.rsplit("/", 1)[-1] not in present]
    if missing:
        raise StagingError(f"{folder}: manifest names missing shards {missing[:3]}")
    return StagedPartition(table, partition, folder, shards, sum(e["rows"] for e in manifest["shards"]))


def wait_for_partition(staging_root: StagingRoot, table: str, partition: str, timeout: float = 600.0, poll: float = 1.0) -> StagedPartition:
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


def clear_table(staging_root: StagingRoot, table: str) -> None:
    """Remove every staged partition of a table (used by `clean`-style maintenance only)."""
    if is_remote(staging_root):
        url = f"{str(staging_root).rstrip('/')}/{safe_component(table)}"
        fs = _remote_fs(url)
        if fs.exists(url):
            fs.rm(url, recursive=True)
        return
    shutil.rmtree(Path(staging_root) / safe_component(table), ignore_errors=True)
