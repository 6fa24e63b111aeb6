"""`manifest.json`: what an export was made from and what it contains, checkably.

The manifest names the inputs (the caller's lineage: source partitions and revisions, run
id, sampler config), the export settings, the code version, row counts, and the sha256 and
size of every other file in the export, so a consumer can verify a copy byte for byte.
It holds no timestamp of its own: the same inputs give the same manifest.
"""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import Path
from typing import Any

MANIFEST_NAME = "manifest.json"
# Bump when a format's columns or text change, so consumers can tell exports apart.
EXPORT_FORMAT_VERSION = 1


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def code_version() -> dict[str, Any]:
    """The installed package version and the export format version."""
    try:
        package = metadata.version("lintseq-platform")
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        package = "unknown"
    return {"package": package, "export_format": EXPORT_FORMAT_VERSION}


def file_entries(root: Path) -> list[dict[str, Any]]:
    """Every file under root except the manifest itself, sorted, with sha256 and size."""
    entries = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root).as_posix()
        if relative == MANIFEST_NAME:
            continue
        entries.append({"path": relative, "sha256": sha256_file(path), "bytes": path.stat().st_size})
    return entries


def write_manifest(root: Path, *, settings: dict, lineage: dict, counts: dict, config_hash: str, files_rows: dict[str, int]) -> Path:
    """Write `root/manifest.json`; `files_rows` gives the row count of each data file."""
    entries = file_entries(root)
    for entry in entries:
        if entry["path"] in files_rows:
            entry["rows"] = files_rows[entry["path"]]
    manifest = {
        "name": settings["name"],
        "config_hash": config_hash,
        "code_version": code_version(),
        "settings": settings,
        "lineage": lineage,
        "counts": counts,
        "files": entries,
    }
    path = root / MANIFEST_NAME
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    return path


def content_version(manifest_path: Path) -> str:
    """The export's data version: a hash of what a trainer reads (config, settings, format
    version and every Parquet data file's sha256), not of when or by which run it was made,
    so re-exporting the same sequences gives the same version and any changed row a new one."""
    manifest = json.loads(Path(manifest_path).read_text(encoding="utf-8"))
    content = {
        "config_hash": manifest["config_hash"],
        "export_format": manifest["code_version"]["export_format"],
        "settings": manifest["settings"],
        "files": sorted((e["path"], e["sha256"]) for e in manifest["files"] if e["path"].endswith(".parquet")),
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()[:24]


def verify_manifest(root: Path) -> list[str]:
    """Problems found checking the files against the manifest (empty when all match)."""
    manifest = json.loads((root / MANIFEST_NAME).read_text(encoding="utf-8"))
    problems = []
    listed = set()
    for entry in manifest["files"]:
        listed.add(entry["path"])
        path = root / entry["path"]
        if not path.is_file():
            problems.append(f"missing: {entry['path']}")
        elif sha256_file(path) != entry["sha256"]:
            problems.append(f"checksum differs: {entry['path']}")
    for entry in file_entries(root):
        if entry["path"] not in listed:
            problems.append(f"not in manifest: {entry['path']}")
    return problems
