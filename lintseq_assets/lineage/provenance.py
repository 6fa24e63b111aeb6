"""What an export names as its inputs: sources and revisions, sampler config, code version.

Read from the warehouse, so the manifest describes the rows actually exported, not the
configuration someone meant to run.
"""

from __future__ import annotations

import json
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import duckdb

from lintseq_assets.runtime.environment import REPO_ROOT


def code_version() -> dict:
    """Package version and, in a git checkout, the commit (with a dirty flag)."""
    info: dict = {}
    try:
        info["package"] = version("lintseq-platform")
    except PackageNotFoundError:
        info["package"] = None
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=5).stdout.strip()
        info.update(git_commit=commit, git_dirty=bool(dirty))
    except (OSError, subprocess.SubprocessError):
        info["git_commit"] = None
    return info


def warehouse_lineage(conn: duckdb.DuckDBPyConnection, config_hash: str, warehouse_path: Path, run_id: str) -> dict:
    sources = conn.execute(
        "SELECT source, source_revision, count(*) FROM raw_instructions GROUP BY 1, 2 ORDER BY 1, 2"
    ).fetchall()
    # Where the exported config's sequences came from, by their own provenance columns.
    sampled = conn.execute(
        "SELECT source, source_revision, count(DISTINCT program_id), count(*) FROM edit_sequences "
        "WHERE config_hash = ? GROUP BY 1, 2 ORDER BY 1 NULLS LAST, 2 NULLS LAST",
        [config_hash],
    ).fetchall()
    described = conn.execute("SELECT description FROM sampler_configs WHERE config_hash = ?", [config_hash]).fetchone()
    return {
        "run_id": run_id,
        "warehouse": str(warehouse_path),
        "sources": [{"source": s, "revision": r, "records": n} for s, r, n in sources],
        "sampled_from": [{"source": s, "revision": r, "programs": p, "sequences": n} for s, r, p, n in sampled],
        "config_hash": config_hash,
        "sampler_config": json.loads(described[0]) if described else None,
        "code_version": code_version(),
    }
