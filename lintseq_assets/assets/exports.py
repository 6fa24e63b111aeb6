"""`training_exports`: the warehouse's sequences written in trainer formats, with card and manifest.

The writing is `lintseq_assets.exports.write_exports` (no Dagster); this asset reads the
sequences of the config that was just sampled, plus their programs, from a short read-only
connection, and names its lineage. It writes files only, so it is not in the warehouse pool.
"""

import base64
import shutil
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from dagster import AssetExecutionContext, Config, MaterializeResult, MetadataValue, asset
from pydantic import Field

from lintseq_assets.exports import ExportSettings, write_exports
from lintseq_assets.lineage import warehouse_lineage
from resources.settings import SettingsResource
from resources.warehouse import WarehouseResource

from .automation import FOLLOW_UPSTREAM
from .metadata import markdown_table
from .sequences import edit_sequences, staged_config_hash

SEQUENCE_COLUMNS = "sequence_id, program_id, sample_index, seed, config_hash, n_edits, edit_path"
PROGRAM_COLUMNS = "program_id, instruction, program, source"
EXPORT_RANGE_ROWS = 20_000  # sequences sorted at once when staging them for the export


class ExportsConfig(Config):
    export: dict = Field(
        default_factory=dict,
        description="Export settings (see docs/exports.md), e.g. {name: default, formats: [lintseq, prompt_completion]}.",
    )
    config_hash: str | None = Field(default=None, description="Sampler config to export (default: the one last sampled).")


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
    # Sequences go through a Parquet file, sorted a key range at a time, so the export
    # streams edit paths instead of holding (or making DuckDB sort) every one at once.
    lintseq_settings.exports_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".scratch-", dir=lintseq_settings.exports_dir))
    sequences = scratch / "sequences.parquet"
    with warehouse.read_connection() as conn:
        _sorted_sequences_file(conn, config_hash, sequences)
        program_rows = conn.sql(f"SELECT {PROGRAM_COLUMNS} FROM programs ORDER BY program_id").pl()
        lineage = warehouse_lineage(conn, config_hash, warehouse.database, context.run.run_id)
        available = [r[0] for r in conn.execute("SELECT DISTINCT config_hash FROM edit_sequences ORDER BY 1").fetchall()]
    context.log.info(f"exporting config {config_hash} ({chosen_by}); the warehouse holds {available}")
    out_dir = lintseq_settings.exports_dir / settings.name
    try:
        result = write_exports(sequences, program_rows, out_dir, settings, lineage)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    metadata = {
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
    return MaterializeResult(metadata=metadata)


def _sorted_sequences_file(conn, config_hash: str, path: Path, rows_per_range: int = EXPORT_RANGE_ROWS) -> None:
    """The config's sequences, ordered by sequence_id, into one Parquet file.

    Sorting every edit path in one ORDER BY needs memory in proportion to the data (DuckDB
    ran out at 380K sequences under its cap); sorting the ids alone is cheap, so the ids
    give range boundaries and each range is sorted and appended on its own."""
    ids = conn.sql("SELECT sequence_id FROM edit_sequences WHERE config_hash = ? ORDER BY sequence_id", params=[config_hash]).arrow()
    ids = ids.column(0) if isinstance(ids, pa.Table) else ids.read_all().column(0)
    bounds = [ids[i].as_py() for i in range(0, len(ids), rows_per_range)]
    query = f"SELECT {SEQUENCE_COLUMNS} FROM edit_sequences WHERE config_hash = ? AND sequence_id >= ? AND sequence_id < ? ORDER BY sequence_id"
    last = f"SELECT {SEQUENCE_COLUMNS} FROM edit_sequences WHERE config_hash = ? AND sequence_id >= ? ORDER BY sequence_id"
    writer = None
    try:
        for i, lo in enumerate(bounds or [""]):
            params = [config_hash, lo, bounds[i + 1]] if i + 1 < len(bounds) else [config_hash, lo]
            table = conn.sql(query if i + 1 < len(bounds) else last, params=params).arrow()
            table = table if isinstance(table, pa.Table) else table.read_all()
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table, row_group_size=10_000)
    finally:
        if writer is not None:
            writer.close()


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
