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
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from .card import ExportStats, write_card, write_plots
from .formats import FORMAT_SPECS, MARKERS, ProgramItem, SequenceItem
from .length import LengthLimit, Outcome, shape_row
from .manifest import MANIFEST_NAME, write_manifest
from .settings import ExportError, ExportSettings
from .shards import ShardWriter
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


def _hub_token(settings: ExportSettings, given: str | None) -> str | None:
    """The Hub token, checked before any work so a doomed push fails fast."""
    if settings.push_to_hub is None:
        return None
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0", "false", "False"):
        raise ExportError("push_to_hub is set but HF_HUB_OFFLINE is on")
    token = given or next((os.environ[v] for v in TOKEN_VARIABLES if os.environ.get(v)), None)
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


@dataclass
class Inputs:
    """The sequences to export joined with their programs, and the programs themselves,
    both sorted by id; `excluded` programs hold a format marker in their instruction."""

    sequences: pl.DataFrame
    programs: pl.DataFrame
    excluded: int
    paths_file: Path | None = None  # edit paths streamed from here when `sequences` lacks them

    def _slices(self, batch: int) -> Iterator[pl.DataFrame]:
        if self.paths_file is None:
            yield from self.sequences.iter_slices(batch)
            return
        # Both sides are sorted by sequence_id: an inner join per batch keeps that order.
        for record_batch in pq.ParquetFile(self.paths_file).iter_batches(batch_size=batch, columns=["sequence_id", "edit_path"]):
            paths = pl.from_arrow(record_batch)
            yield paths.join(self.sequences, on="sequence_id", how="inner", maintain_order="left")

    def sequence_items(self, batch: int = 10_000) -> Iterator[SequenceItem]:
        """Rows as items, a slice at a time (the frame stays columnar in memory).

        Program text joins a slice at a time: joined up front, every program's text would
        be held once per sample (5 copies at s=5, most of the export's memory at scale)."""
        for frame in self._slices(batch):
            frame = frame.join(self.programs, on="program_id", how="left", maintain_order="left")
            for r in frame.iter_rows(named=True):
                yield SequenceItem(r["sequence_id"], r["program_id"], int(r["sample_index"]), r["config_hash"],
                                   r["source"], r["instruction"], r["program"], tuple(r["edit_path"]))

    def program_items(self) -> Iterator[ProgramItem]:
        for r in self.programs.iter_rows(named=True):
            yield ProgramItem(r["program_id"], r["source"], r["instruction"], r["program"])


def join_inputs(sequences: pl.DataFrame, programs: pl.DataFrame) -> Inputs:
    """Join, de-duplicate and sort the inputs; refuse sequences whose program is missing."""
    # One row per program (the warehouse should already ensure it) and per sequence; an empty
    # source or instruction upstream becomes a value, so grouping and marker checks work.
    programs = (
        programs.select(PROGRAM_COLUMNS)
        .with_columns(pl.col("source").fill_null("unknown"), pl.col("instruction").fill_null(""))
        .sort("program_id", "source")
        .unique("program_id", keep="first", maintain_order=True)
    )
    sequences = sequences.select([c for c in SEQUENCE_COLUMNS if c in sequences.columns]).sort("sequence_id").unique("sequence_id", keep="first", maintain_order=True)
    # Ids only here; the program text is joined a slice at a time (Inputs.sequence_items).
    referenced = sequences.get_column("program_id").unique()
    present = programs.filter(pl.col("program").is_not_null()).get_column("program_id")
    orphans = referenced.filter(~referenced.is_in(present.implode())).sort().to_list()
    if orphans:
        raise ExportError(f"{len(orphans)} programs referenced by sequences are missing, e.g. {orphans[0]}")
    marked = pl.any_horizontal(pl.col("instruction").str.contains(m, literal=True) for m in MARKERS)
    marked_ids = programs.filter(marked).get_column("program_id")
    excluded = int(marked_ids.is_in(referenced.implode()).sum())
    kept = sequences.filter(~pl.col("program_id").is_in(marked_ids.implode())).sort("sequence_id")
    used = programs.filter(pl.col("program_id").is_in(kept.get_column("program_id").unique().implode())).sort("program_id")
    return Inputs(kept, used, excluded)


class _FormatWriter:
    """Rows of one format through length control into per-split shard writers."""

    def __init__(self, name: str, root: Path, settings: ExportSettings, limit: LengthLimit) -> None:
        self.spec = FORMAT_SPECS[name]
        self.settings, self.limit = settings, limit
        jsonl = root / "jsonl" / name if settings.jsonl else None
        self.writers = {s: ShardWriter(root / name, s, self.spec.schema, settings.shard_rows, jsonl) for s in settings.splits}
        self.tally = {o.value: dict.fromkeys(settings.splits, 0) for o in Outcome}

    def add(self, item, split: str) -> None:
        candidate = self.spec.candidate(item, self.settings.split_seed)
        row, outcome = shape_row(candidate, self.limit, self.settings.overlong)
        self.tally[outcome.value][split] += 1
        if row is not None:
            self.writers[split].add(row)

    def close(self) -> dict[str, list[Path]]:
        """Parquet shards per split; a split without rows has none (`datasets` cannot read
        an empty Parquet file)."""
        return {s: paths for s, w in self.writers.items() if (paths := w.close())}


def _swap_into_place(tmp: Path, out_dir: Path) -> None:
    """Replace out_dir by tmp with renames only (the old export stays whole until the end)."""
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(out_dir, old)
        os.replace(tmp, out_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out_dir)


def _write_all(tmp: Path, inputs: Inputs, settings: ExportSettings, limit: LengthLimit, config_hash: str, lineage: dict) -> tuple[dict, dict, list[Path], Path]:
    """Everything of one export into `tmp`: data, copies, plots, card, manifest."""
    splits = list(settings.splits)
    split_of = assign_splits(inputs.programs.get_column("program_id").to_list(), settings.split_seed, settings.splits)
    writers = {name: _FormatWriter(name, tmp, settings, limit) for name in settings.formats}
    by_unit = {unit: [w for w in writers.values() if w.spec.unit == unit] for unit in ("program", "sequence")}
    stats = ExportStats()
    for item in inputs.program_items():
        stats.add_program(item)
        for writer in by_unit["program"]:
            writer.add(item, split_of[item.program_id])
    for item in inputs.sequence_items():
        stats.add_sequence(item)
        for writer in by_unit["sequence"]:
            writer.add(item, split_of[item.program_id])
    data_files = {name: writer.close() for name, writer in writers.items()}
    counts: dict = {
        "input": {"sequences": inputs.sequences.height, "programs": inputs.programs.height,
                  "programs_excluded_marker_in_instruction": inputs.excluded},
        "programs_per_split": {s: sum(1 for v in split_of.values() if v == s) for s in splits},
        "rows": {n: {s: w.tally[Outcome.KEPT.value][s] + w.tally[Outcome.TRUNCATED.value][s] for s in splits} for n, w in writers.items()},
        "truncated": {n: w.tally[Outcome.TRUNCATED.value] for n, w in writers.items()},
        "dropped": {n: w.tally[Outcome.DROPPED.value] for n, w in writers.items()},
    }
    if settings.save_to_disk:
        _save_to_disk(data_files, tmp / "disk")
    plots = write_plots(stats, tmp / "plots")
    card = write_card(tmp, settings=settings, config_hash=config_hash, counts=counts, stats=stats, data_files=data_files, plots=plots, lineage=lineage)
    files_rows = {p.relative_to(tmp).as_posix(): pq.ParquetFile(p).metadata.num_rows for by in data_files.values() for ps in by.values() for p in ps}
    write_manifest(tmp, settings=settings.to_dict(), lineage=lineage, counts=counts, config_hash=config_hash, files_rows=files_rows)
    return counts, data_files, plots, card


def write_exports(sequences: pl.DataFrame | Path, programs: pl.DataFrame, out_dir: Path, settings: ExportSettings, lineage: dict, *, hub_token: str | None = None) -> ExportResult:
    """Write the training export described by `settings` to `out_dir` (replacing it whole).

    sequences: a frame, or a Parquet file sorted by (unique) sequence_id; from a file only
    the id columns are loaded and edit paths are streamed a batch at a time, so memory does
    not grow with the number of sequences (the warehouse's export at paper scale).

    hub_token: for `push_to_hub`; when None, HF_TOKEN / HUGGING_FACE_HUB_TOKEN are used, as
    huggingface_hub itself would.
    """
    out_dir = Path(out_dir)
    token = _hub_token(settings, hub_token)
    limit = LengthLimit.from_settings(settings)
    paths_file = None
    if isinstance(sequences, (str, Path)):
        paths_file = Path(sequences)
        _require(pl.scan_parquet(paths_file).head(0).collect(), SEQUENCE_COLUMNS, "sequences")
        sequences = pl.scan_parquet(paths_file).select([c for c in SEQUENCE_COLUMNS if c != "edit_path"]).collect()
    else:
        _require(sequences, SEQUENCE_COLUMNS, "sequences")
    _require(programs, PROGRAM_COLUMNS, "programs")
    if sequences.height == 0:
        raise ExportError("no edit sequences to export")
    selected, config_hash = select_config(sequences, settings.config_hash)
    inputs = join_inputs(selected, programs)
    inputs.paths_file = paths_file
    if inputs.sequences.height == 0:
        raise ExportError("no exportable sequences (every instruction contains a format marker)")

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.with_name(f".{out_dir.name}.tmp-{uuid.uuid4().hex[:8]}")
    tmp.mkdir()
    try:
        counts, data_files, plots, card = _write_all(tmp, inputs, settings, limit, config_hash, lineage)
        relative_files = sorted(p.relative_to(tmp) for p in tmp.rglob("*") if p.is_file())
        _swap_into_place(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise

    def moved(path: Path) -> Path:
        return out_dir / path.relative_to(tmp)

    result = ExportResult(
        out_dir=out_dir,
        config_hash=config_hash,
        files=[out_dir / p for p in relative_files],
        counts=counts,
        manifest_path=out_dir / MANIFEST_NAME,
        card_path=moved(card),
        plots=[moved(p) for p in plots],
        data_files={f: {s: [moved(p) for p in ps] for s, ps in by.items()} for f, by in data_files.items()},
    )
    if token is not None:
        result.pushed_to = push_export(out_dir, settings, config_hash, token)
    return result


def _save_to_disk(data_files: dict[str, dict[str, list[Path]]], root: Path) -> None:
    """A `DatasetDict.load_from_disk`-ready copy per format, read back from the shards (one
    format at a time is held in memory)."""
    from datasets import Dataset, DatasetDict
    from datasets.table import InMemoryTable

    for name, by_split in data_files.items():
        if by_split:
            splits = {s: Dataset(InMemoryTable(pa.concat_tables(pq.read_table(p) for p in paths))) for s, paths in by_split.items()}
            DatasetDict(splits).save_to_disk(str(root / name))


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
