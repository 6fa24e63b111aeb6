"""`training_exports`: the warehouse's sequences written in trainer formats, with card and manifest.

The writing is `lintseq_assets.exports` (no Dagster): in a short read-only connection DuckDB
selects the sequences of the config that was just sampled, joins them with their programs
and writes both, sorted, to scratch Parquet files (`stage_from_warehouse`); the connection
closes and `write_staged_exports` streams the files into the export, so memory stays flat
whatever the number of sequences. It writes files only, so it is not in the warehouse pool.
"""

import base64
import shutil
import tempfile
import time
from pathlib import Path

from dagster import AssetExecutionContext, DataVersion, MaterializeResult, MetadataValue, asset

from lintseq_assets.assets.automation import FOLLOW_UPSTREAM
from lintseq_assets.assets.metadata import markdown_table
from lintseq_assets.assets.sequences import edit_sequences, staged_config_hash
from lintseq_assets.exports import ExportSettings, write_staged_exports
from lintseq_assets.exports.manifest import content_version
from lintseq_assets.exports.staged import stage_from_warehouse
from lintseq_assets.lineage.provenance import warehouse_lineage
from lintseq_assets.platform.progress import Stage
from lintseq_assets.platform.run_config import ExportsConfig
from lintseq_assets.runtime.memory import release_unused_memory
from resources.settings_resource import SettingsResource
from resources.warehouse import WarehouseResource


@asset(
    deps=[edit_sequences],
    group_name="exports",
    code_version="1",
    kinds={"parquet", "huggingface"},
    automation_condition=FOLLOW_UPSTREAM,
    description="Training-ready datasets under $LINTSEQ_HOME/exports/<name>/, with dataset card and manifest.",
)
def training_exports(
    context: AssetExecutionContext,
    config: ExportsConfig,
    warehouse: WarehouseResource,
    lintseq_settings: SettingsResource,
) -> MaterializeResult:
    started = time.perf_counter()
    config_hash = config.config_hash or staged_config_hash(context)
    chosen_by = "run config" if config.config_hash else "last sampled (set config_hash to choose another)"
    settings = ExportSettings.from_dict({"config_hash": config_hash, **config.export})
    progress = Stage(context, config_hash=config_hash, formats=",".join(settings.formats))
    # DuckDB selects, joins and sorts into scratch Parquet files a key range at a time; the
    # writer streams them, so neither side holds every edit path or program text at once.
    lintseq_settings.exports_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".scratch-", dir=lintseq_settings.exports_dir))
    try:
        with warehouse.read_connection() as conn:
            available = [r[0] for r in conn.execute("SELECT DISTINCT config_hash FROM edit_sequences ORDER BY 1").fetchall()]
            context.log.info(f"exporting config {config_hash} ({chosen_by}); the warehouse holds {available}")
            inputs = stage_from_warehouse(conn, config_hash, scratch)
            lineage = warehouse_lineage(conn, config_hash, warehouse.database, context.run.run_id)
        out_dir = lintseq_settings.exports_dir / settings.name
        release_unused_memory()  # the staging's Arrow batches, before the writer's own
        result = write_staged_exports(inputs, out_dir, settings, lineage)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    version = content_version(result.manifest_path)
    rows_by_format = {name: sum(by_split.values()) for name, by_split in result.counts["rows"].items()}
    progress.done(**rows_by_format, data_version=version)
    metadata = {
        "data_version": version,
        "dagster/row_count": sum(sum(by_split.values()) for by_split in result.counts["rows"].values()),
        "export_dir": MetadataValue.path(str(result.out_dir)),
        "config_hash": result.config_hash,
        "config_hash_chosen_by": chosen_by,
        "configs_in_warehouse": MetadataValue.json(available),
        "counts": MetadataValue.md(result.counts_markdown()),
        "programs_per_split": MetadataValue.json(result.counts["programs_per_split"]),
        "files": MetadataValue.md(markdown_table(["file"], [[str(p.relative_to(result.out_dir))] for p in result.files], width=120)),
        "manifest": MetadataValue.path(str(result.manifest_path)),
        "dataset_card": MetadataValue.path(str(result.card_path)),
        "export_seconds": round(time.perf_counter() - started, 2),
    }
    for plot in result.plots:
        metadata[f"plot_{plot.stem}"] = MetadataValue.path(str(plot))
    if result.plots:
        metadata["plots"] = MetadataValue.md(_inline_images(result.plots))
    return MaterializeResult(data_version=DataVersion(version), metadata=metadata)


def _inline_images(paths, max_bytes: int = 300_000) -> str:
    """PNG plots inlined as data URIs so the UI shows them without a file server."""
    parts = []
    for path in paths:
        data = path.read_bytes()
        if len(data) <= max_bytes:
            parts.append(f"**{path.stem}**\n\n![{path.stem}](data:image/png;base64,{base64.b64encode(data).decode()})")
        else:
            parts.append(f"**{path.stem}**: {path}")
    return "\n\n".join(parts)
