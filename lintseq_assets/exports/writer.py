"""`write_exports`: from warehouse frames to a folder trainers load as it is.

The steps are small and in order: pick the sampler config, join sequences with their
programs, split by program, build each format's rows under the length limit, write sharded
Parquet (and JSONL / a save_to_disk copy on request), plots, the card and the manifest.
Everything is written into a temporary sibling folder that is renamed into place at the
end, so a crash never leaves a half export where a trainer would find it. Rows are sorted
by id, and Parquet is written with fixed options, so the same inputs give the same bytes.
"""

from __future__ import annotations

import base64
import json
import math
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from .card import ExportStats, write_card, write_plots
from .formats import FORMAT_SPECS, MARKERS, ProgramItem, SequenceItem
from .length import LengthLimit, Outcome, shape_row
from .manifest import write_manifest
from .settings import ExportError, ExportSettings
from .splits import assign_splits

SEQUENCE_COLUMNS = ("sequence_id", "program_id", "sample_index", "config_hash", "edit_path")
PROGRAM_COLUMNS = ("program_id", "instruction", "program", "source")
TOKEN_VARIABLES = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")


def default_out_dir(home: Path, settings: ExportSettings) -> Path:
    """Where an export lives by convention: `$LINTSEQ_HOME/exports/<name>/`."""
    return Path(home) / "exports" / settings.name


@dataclass
class ExportResult:
    """What was written. Paths point into the final folder (after the rename).

    counts: {"input": {...}, "programs_per_split": {split: n},
             "rows" | "truncated" | "dropped": {format: {split: n}}}
    """

    out_dir: Path
    config_hash: str
    files: list[Path]
    counts: dict
    manifest_path: Path
    card_path: Path
    plots: list[Path]
    data_files: dict[str, dict[str, list[Path]]] = field(default_factory=dict)
    pushed_to: str | None = None

    def counts_markdown(self) -> str:
        """Rows per format and split, truncated and dropped: a table for the asset's metadata."""
        splits = list(self.counts["programs_per_split"])
        lines = ["| format | " + " | ".join(splits) + " | truncated | dropped |", "|---" * (len(splits) + 3) + "|"]
        for name, by_split in self.counts["rows"].items():
            cells = " | ".join(str(by_split[s]) for s in splits)
            truncated, dropped = sum(self.counts["truncated"][name].values()), sum(self.counts["dropped"][name].values())
            lines.append(f"| {name} | {cells} | {truncated} | {dropped} |")
        return "\n".join(lines)

    def plots_markdown(self) -> str:
        """The plots inlined as data URIs, so a UI that shows markdown shows them too."""
        return "\n\n".join(
            f"![{p.stem.replace('_', ' ')}](data:image/png;base64,{base64.b64encode(p.read_bytes()).decode()})" for p in self.plots
        )


def _hub_token(settings: ExportSettings) -> str | None:
    """The Hub token, checked before any work so a doomed push fails fast."""
    if settings.push_to_hub is None:
        return None
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0", "false", "False"):
        raise ExportError("push_to_hub is set but HF_HUB_OFFLINE is on")
    token = next((os.environ[v] for v in TOKEN_VARIABLES if os.environ.get(v)), None)
    if token is None:
        raise ExportError(f"push_to_hub={settings.push_to_hub!r} needs a token in {' or '.join(TOKEN_VARIABLES)}")
    return token


def select_config(sequences: pl.DataFrame, wanted: str | None) -> tuple[pl.DataFrame, str]:
    """The sequences of one sampler config: mixing configs in one export would be meaningless."""
    present = sorted(sequences.get_column("config_hash").unique().to_list())
    if wanted is None:
        if len(present) != 1:
            raise ExportError(f"sequences hold {len(present)} sampler configs {present}: set config_hash")
        wanted = present[0]
    elif wanted not in present:
        raise ExportError(f"config_hash {wanted!r} not in the sequences (they hold {present})")
    return sequences.filter(pl.col("config_hash") == wanted), wanted


def _require(frame: pl.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ExportError(f"{what} lack columns {missing} (have {frame.columns})")


def join_inputs(sequences: pl.DataFrame, programs: pl.DataFrame) -> tuple[list[SequenceItem], list[ProgramItem], int]:
    """Sequences joined with their programs, sorted by id; also the programs, and how many
    programs were left out because their instruction contains a format marker (their rows
    would not parse back)."""
    # One row per program (the warehouse should already ensure it) and per sequence; a source
    # left empty upstream is named, not None, so statistics can group and sort it.
    programs = (
        programs.select(PROGRAM_COLUMNS)
        .with_columns(pl.col("source").fill_null("unknown"))
        .sort("program_id", "source")
        .unique("program_id", keep="first", maintain_order=True)
    )
    sequences = sequences.select(SEQUENCE_COLUMNS).sort("sequence_id").unique("sequence_id", keep="first", maintain_order=True)
    joined = sequences.join(programs, on="program_id", how="left")
    orphans = joined.filter(pl.col("program").is_null()).get_column("program_id").unique().to_list()
    if orphans:
        raise ExportError(f"{len(orphans)} programs referenced by sequences are missing, e.g. {orphans[0]}")
    bad = {pid for pid, text in zip(programs["program_id"], programs["instruction"], strict=True) if any(m in text for m in MARKERS)}
    joined = joined.filter(~pl.col("program_id").is_in(list(bad))).sort("sequence_id")
    items = [
        SequenceItem(r["sequence_id"], r["program_id"], int(r["sample_index"]), r["config_hash"], r["source"], r["instruction"], r["program"], tuple(r["edit_path"]))
        for r in joined.iter_rows(named=True)
    ]
    used = programs.filter(pl.col("program_id").is_in(joined.get_column("program_id").unique().to_list()))
    program_items = [ProgramItem(r["program_id"], r["source"], r["instruction"], r["program"]) for r in used.sort("program_id").iter_rows(named=True)]
    excluded = programs.filter(pl.col("program_id").is_in(list(bad)) & pl.col("program_id").is_in(sequences.get_column("program_id").unique().to_list())).height
    return items, program_items, excluded


def _write_shards(table: pa.Table, folder: Path, split: str, shard_rows: int, suffix: str) -> list[Path]:
    """`<split>-0000i-of-0000n.<suffix>`: the Hub's shard naming, which `datasets` splits by."""
    n = max(1, math.ceil(table.num_rows / shard_rows))
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        shard = table.slice(i * shard_rows, shard_rows)
        path = folder / f"{split}-{i:05d}-of-{n:05d}.{suffix}"
        if suffix == "parquet":
            pq.write_table(shard, path, compression="zstd", row_group_size=10_000)
        else:
            with path.open("w", encoding="utf-8") as handle:
                for row in shard.to_pylist():
                    handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        paths.append(path)
    return paths


def _build_format(name: str, items: list, split_of: dict[str, str], splits: list[str], settings: ExportSettings, limit: LengthLimit) -> tuple[dict[str, list[dict]], dict[str, dict[str, int]]]:
    """Rows of one format per split, and the kept/truncated/dropped counts per split."""
    spec = FORMAT_SPECS[name]
    rows: dict[str, list[dict]] = {s: [] for s in splits}
    tally = {o.value: dict.fromkeys(splits, 0) for o in Outcome}
    for item in items:
        split = split_of[item.program_id]
        row, outcome = shape_row(spec.candidate(item, settings.split_seed), limit, settings.overlong)
        tally[outcome.value][split] += 1
        if row is not None:
            rows[split].append(row)
    return rows, tally


def _swap_into_place(tmp: Path, out_dir: Path) -> None:
    """Replace out_dir by tmp with renames only (the old export stays whole until the end)."""
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(out_dir, old)
        os.replace(tmp, out_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out_dir)


def write_exports(sequences: pl.DataFrame, programs: pl.DataFrame, out_dir: Path, settings: ExportSettings, lineage: dict) -> ExportResult:
    """Write the training export described by `settings` to `out_dir` (replacing it whole)."""
    out_dir = Path(out_dir)
    token = _hub_token(settings)
    limit = LengthLimit.from_settings(settings)
    _require(sequences, SEQUENCE_COLUMNS, "sequences")
    _require(programs, PROGRAM_COLUMNS, "programs")
    if sequences.height == 0:
        raise ExportError("no edit sequences to export")
    selected, config_hash = select_config(sequences, settings.config_hash)
    items, program_items, excluded = join_inputs(selected, programs)
    if not items:
        raise ExportError("no exportable sequences (every instruction contains a format marker)")
    splits = list(settings.splits)
    split_of = assign_splits([p.program_id for p in program_items], settings.split_seed, settings.splits)

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.with_name(f".{out_dir.name}.tmp-{uuid.uuid4().hex[:8]}")
    tmp.mkdir()
    try:
        counts: dict = {
            "input": {"sequences": len(items), "programs": len(program_items), "programs_excluded_marker_in_instruction": excluded},
            "programs_per_split": {s: sum(1 for v in split_of.values() if v == s) for s in splits},
            "rows": {}, "truncated": {}, "dropped": {},
        }
        data_files: dict[str, dict[str, list[Path]]] = {}
        files_rows: dict[str, int] = {}
        tables: dict[str, dict[str, pa.Table]] = {}
        for name in settings.formats:
            spec = FORMAT_SPECS[name]
            rows, tally = _build_format(name, program_items if spec.unit == "program" else items, split_of, splits, settings, limit)
            counts["rows"][name] = {s: len(rows[s]) for s in splits}
            counts["truncated"][name] = tally[Outcome.TRUNCATED.value]
            counts["dropped"][name] = tally[Outcome.DROPPED.value]
            data_files[name], tables[name] = {}, {}
            for split in splits:
                if not rows[split]:
                    continue  # `datasets` cannot read an empty Parquet file: no rows, no file
                table = pa.Table.from_pylist(rows[split], schema=spec.schema)
                tables[name][split] = table
                data_files[name][split] = _write_shards(table, tmp / name, split, settings.shard_rows, "parquet")
                for path in data_files[name][split]:
                    files_rows[path.relative_to(tmp).as_posix()] = pq.ParquetFile(path).metadata.num_rows
                if settings.jsonl:
                    _write_shards(table, tmp / "jsonl" / name, split, settings.shard_rows, "jsonl")
        if settings.save_to_disk:
            _save_to_disk(tables, tmp / "disk")
        stats = ExportStats.collect(items, program_items, split_of)
        plots = write_plots(stats, tmp / "plots")
        card = write_card(tmp, settings=settings, config_hash=config_hash, counts=counts, stats=stats, data_files=data_files, plots=plots, lineage=lineage)
        write_manifest(tmp, settings=settings.to_dict(), lineage=lineage, counts=counts, config_hash=config_hash, files_rows=files_rows)
        relative = {
            "files": sorted(p.relative_to(tmp) for p in tmp.rglob("*") if p.is_file()),
            "plots": [p.relative_to(tmp) for p in plots],
            "card": card.relative_to(tmp),
        }
        _swap_into_place(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    result = ExportResult(
        out_dir=out_dir,
        config_hash=config_hash,
        files=[out_dir / p for p in relative["files"]],
        counts=counts,
        manifest_path=out_dir / "manifest.json",
        card_path=out_dir / relative["card"],
        plots=[out_dir / p for p in relative["plots"]],
        data_files={f: {s: [out_dir / p.relative_to(tmp) for p in ps] for s, ps in by.items()} for f, by in data_files.items()},
    )
    if token is not None:
        result.pushed_to = push_export(out_dir, settings, config_hash, token)
    return result


def _save_to_disk(tables: dict[str, dict[str, pa.Table]], root: Path) -> None:
    """A `DatasetDict.load_from_disk`-ready copy per format (memory-mapped Arrow)."""
    from datasets import Dataset, DatasetDict
    from datasets.table import InMemoryTable

    for name, by_split in tables.items():
        if by_split:
            DatasetDict({s: Dataset(InMemoryTable(t)) for s, t in by_split.items()}).save_to_disk(str(root / name))


def push_export(out_dir: Path, settings: ExportSettings, config_hash: str, token: str) -> str:
    """Upload the export (Parquet, card, plots, manifest; not the disk copy) to a dataset repo."""
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    repo_id = settings.push_to_hub
    api.create_repo(repo_id, repo_type="dataset", private=settings.private, exist_ok=True)
    api.upload_folder(
        repo_id=repo_id, repo_type="dataset", folder_path=str(out_dir),
        ignore_patterns=["disk/**"], commit_message=f"LintSeq export {settings.name} (config {config_hash})",
    )
    return repo_id
