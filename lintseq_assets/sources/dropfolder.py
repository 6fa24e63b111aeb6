"""The drop folder `$LINTSEQ_HOME/incoming/`: files and folders that become new sources.

No Dagster here (the sensor in `lintseq_assets.platform.sensors` is a thin wrapper), so the rules are
testable on their own:

- what counts: a `.jsonl`, `.parquet` or `.py` file, or a folder (of `.py` files); hidden
  names, `*.done` markers and temporary names (`*.tmp`, `*.part`, `*.partial`) are ignored;
- when it is ready: its `<name>.done` marker exists, or nothing in it changed for
  `settle_seconds` (a file still being copied keeps changing, so it is not picked up half-way);
- identity: the sha256 of its content (a folder: of every file's relative path and bytes), so
  the same data dropped twice, under any name, is one source, ingested once;
- the source: named `drop-<stem>-<hash prefix>`, written as a one-entry sources.yaml under
  `$LINTSEQ_HOME/drops/` that the ingest step reads. A `.done` marker may hold YAML with a
  `columns:` mapping (instruction/response/id) for JSONL and Parquet drops.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from lintseq_assets.runtime.files import write_text_atomic

SUFFIX_LOADERS = {".jsonl": "jsonl", ".parquet": "parquet", ".py": "python"}
MARKER = ".done"
TEMPORARY_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload")
DEFAULT_SETTLE_SECONDS = 60.0
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class DropItem:
    """One ready entry of the drop folder."""

    path: Path
    loader: str
    content_hash: str

    @property
    def source_name(self) -> str:
        stem = _UNSAFE.sub("_", self.path.stem if self.path.is_file() else self.path.name).strip("._")[:40] or "drop"
        return f"drop-{stem}-{self.content_hash[:10]}"


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*") if p.is_file() and not _ignored(p.name))


def _ignored(name: str) -> bool:
    return name.startswith(".") or name.endswith(MARKER) or name.endswith(TEMPORARY_SUFFIXES)


def content_hash(path: Path) -> str:
    """sha256 of a file's bytes, or of a folder's (relative path, bytes) pairs in sorted order."""
    digest = hashlib.sha256()
    for file in _files(path):
        if path.is_dir():
            digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()


def _settled(path: Path, now: float, settle_seconds: float) -> bool:
    if path.with_name(path.name + MARKER).exists():
        return True
    stats = [f.stat().st_mtime for f in _files(path)] + [path.stat().st_mtime]
    return now - max(stats) >= settle_seconds


def scan_incoming(folder: Path, settle_seconds: float = DEFAULT_SETTLE_SECONDS, now: float | None = None) -> list[DropItem]:
    """Ready drops in name order (a missing folder is simply empty)."""
    if not folder.is_dir():
        return []
    now = time.time() if now is None else now
    ready = []
    for path in sorted(folder.iterdir()):
        if _ignored(path.name):
            continue
        loader = "python" if path.is_dir() else SUFFIX_LOADERS.get(path.suffix.lower())
        if loader is None or (path.is_dir() and not _files(path)) or not _settled(path, now, settle_seconds):
            continue
        ready.append(DropItem(path, loader, content_hash(path)))
    return ready


def _marker_columns(path: Path) -> dict | None:
    marker = path.with_name(path.name + MARKER)
    if not marker.is_file():
        return None
    try:
        document = yaml.safe_load(marker.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        return None
    return document.get("columns") if isinstance(document, dict) else None


def register_drop(item: DropItem, drops_dir: Path) -> Path:
    """Write (idempotently) the one-source sources.yaml for a drop; returns its path."""
    entry: dict = {"name": item.source_name, "loader": item.loader, "path": str(item.path.resolve())}
    columns = _marker_columns(item.path)
    if columns and item.loader in ("jsonl", "parquet"):
        entry["columns"] = columns
    return write_text_atomic(drops_dir / f"{item.source_name}.yaml", yaml.safe_dump({"sources": [entry]}, sort_keys=False))
