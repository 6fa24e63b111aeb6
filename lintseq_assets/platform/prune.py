"""Sources that are no longer configured, and pruning them (`lintseq sources prune`).

A source removed from sources.yaml keeps its rows, its staged files and its `sources`
partitions until it is pruned. `unconfigured_sources` names them (summaries say so);
`plan_prune` lists what pruning one would remove, and `prune` removes it: the rows through the
loader (`Load.delete`, the one writer), then its staged and partition files, then its Dagster
partitions. Drops (`$LINTSEQ_HOME/drops/`) count as configured.

The global steps (programs, sampling, exports) still reflect the pruned source until they run
again; the ledger entries of its programs go too, so a duplicate of one of them in another
source is sampled again when it is selected.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from lintseq_assets.platform.partitions import SOURCE_PARTITIONS
from lintseq_assets.runtime.environment import PlatformSettings
from lintseq_assets.runtime.staging import safe_component
from lintseq_assets.sources.keys import SourceKey
from lintseq_assets.sources.spec import load_sources
from resources.connect import WarehouseMissing, connect_reader
from resources.loader import Load, load

# Tables with a `source` column, in delete order (the ledger goes first: it is found through them).
SOURCE_TABLES = ("edit_sequences", "programs", "candidates", "rejects", "raw_instructions")
LEDGER = "sampling_ledger"
LEDGER_SCOPE = ("t.program_id IN (SELECT program_id FROM edit_sequences WHERE source = ? "
                "UNION SELECT program_id FROM programs WHERE source = ?)")


@dataclass
class PrunePlan:
    """What pruning `source` removes."""

    source: str
    rows: dict[str, int] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    partitions: list[str] = field(default_factory=list)

    def describe(self) -> list[str]:
        rows = ", ".join(f"{table} {n:,}" for table, n in self.rows.items() if n) or "none"
        return [f"source {self.source!r}:", f"  rows: {rows}",
                f"  files: {len(self.files)}" + "".join(f"\n    {p}" for p in self.files),
                f"  Dagster partitions: {', '.join(self.partitions) or 'none'}"]


def configured_sources(settings: PlatformSettings, sources_file: Path | None = None) -> set[str]:
    """Source names of the sources file and of the drop folder's registered drops."""
    names = {spec.name for spec in load_sources(Path(sources_file or settings.sources_file))}
    drops = settings.home / "drops"
    if drops.is_dir():
        names |= {path.stem for path in drops.glob("*.yaml")}
    return names


def warehouse_sources(settings: PlatformSettings) -> dict[str, int]:
    """Source -> raw rows in the warehouse (empty before the first run)."""
    try:
        conn = connect_reader(settings.warehouse_path)
    except WarehouseMissing:
        return {}
    try:
        return dict(conn.execute("SELECT source, count(*) FROM raw_instructions GROUP BY source ORDER BY source").fetchall())
    finally:
        conn.close()


def unconfigured_sources(settings: PlatformSettings, sources_file: Path | None = None, instance=None) -> list[str]:
    """Sources with rows in the warehouse (or partitions in `instance`) that the sources file no
    longer names, sorted."""
    configured = configured_sources(settings, sources_file)
    found = set(warehouse_sources(settings))
    if instance is not None:
        found |= {_source_of(key) for key in instance.get_dynamic_partitions(SOURCE_PARTITIONS.name)} - {None}
    return sorted(found - configured)


def _source_of(key: str) -> str | None:
    try:
        return SourceKey.parse(key).name
    except ValueError:
        return None


def _names_source(path: Path, source: str) -> bool:
    """A one-source YAML (a partition's or a drop's) that defines `source`."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return [entry.get("name") for entry in document.get("sources", [])] == [source]
    except (OSError, yaml.YAMLError, AttributeError):
        return False


def plan_prune(settings: PlatformSettings, source: str, instance=None) -> PrunePlan:
    plan = PrunePlan(source)
    if instance is not None:
        plan.partitions = [k for k in instance.get_dynamic_partitions(SOURCE_PARTITIONS.name) if _source_of(k) == source]
    try:
        conn = connect_reader(settings.warehouse_path)
    except WarehouseMissing:
        conn = None
    if conn is not None:
        try:
            plan.rows[LEDGER] = conn.execute(f"SELECT count(*) FROM {LEDGER} t WHERE {LEDGER_SCOPE}", [source, source]).fetchone()[0]
            for table in SOURCE_TABLES:
                plan.rows[table] = conn.execute(f"SELECT count(*) FROM {table} WHERE source = ?", [source]).fetchone()[0]
        finally:
            conn.close()
    # Its partitions' files are named by the partition key (a safe path component of it).
    for folder in (settings.home / "partitions", settings.home / "drops"):
        if folder.is_dir():
            plan.files += sorted(p for p in folder.glob("*.yaml") if _names_source(p, source))
    keys = {safe_component(k) for k in plan.partitions} | {p.stem for p in plan.files} | {safe_component(source)}
    owned = keys | {f"{asset}-{key}" for key in keys for asset in ("raw_instructions", "source_programs")}
    staging = settings.staging_dir
    if staging.is_dir():
        for table_dir in sorted(p for p in staging.iterdir() if p.is_dir() and p.name != "scratch"):
            plan.files += sorted(p for p in table_dir.iterdir() if p.name in owned)
    return plan


def prune(settings: PlatformSettings, plan: PrunePlan, instance=None, run_id: str = "prune") -> dict[str, int]:
    """Remove what `plan` lists; returns rows deleted per table."""
    deleted: dict[str, int] = {}
    if settings.warehouse_path.exists() and any(plan.rows.values()):
        loads = [Load.delete(LEDGER, LEDGER_SCOPE, (plan.source, plan.source))]
        loads += [Load.delete(table, "t.source = ?", (plan.source,)) for table in SOURCE_TABLES]
        for item, stats in zip(loads, load(settings.warehouse_path, loads, run_id=run_id, config={"memory_limit": settings.loader_memory_limit}), strict=True):
            deleted[item.table] = stats.deleted
    for path in plan.files:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    if instance is not None:
        for key in plan.partitions:
            instance.delete_dynamic_partition(SOURCE_PARTITIONS.name, key)
    return deleted
