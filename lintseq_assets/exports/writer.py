"""`write_exports`: from warehouse frames to a folder trainers load as it is.

The steps are small and in order: pick the sampler config, join sequences with their
programs, split by program, build each format's rows under the length limit, write sharded
Parquet (and JSONL / a save_to_disk copy on request), plots, the card and the manifest.
Everything is written into a temporary sibling folder that is renamed into place at the
end, so a crash never leaves a half export where a trainer would find it. Rows are sorted
by id, and Parquet is written with fixed options, so the same inputs give the same bytes.

Two ways in, one writer: `write_exports` takes frames (and joins them here, in polars);
`write_staged_exports` takes `StagedInputs`, Parquet files the warehouse side already
selected, joined and sorted (`exports.staged.stage_from_warehouse`), and streams them a
batch at a time, so its memory does not grow with the export. Same inputs, same bytes.
"""

from __future__ import annotations

import base64
import os
import shutil
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from lintseq_assets.exports.batch_rows import (
    PROGRAM_BATCH_COLUMNS,
    SEQUENCE_BATCH_COLUMNS,
    build_rows,
    split_column,
)
from lintseq_assets.exports.card import ExportStats, write_card, write_plots
from lintseq_assets.exports.config import ExportError, ExportSettings
from lintseq_assets.exports.formats import FORMAT_SPECS, MARKERS
from lintseq_assets.exports.length import LengthLimit, Outcome
from lintseq_assets.exports.manifest import MANIFEST_NAME, write_manifest
from lintseq_assets.exports.shards import SplitShardWriter

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


READ_BATCH_ROWS = 4_096  # input rows whose training rows are built together


@dataclass
class Inputs:
    """The sequences to export joined with their programs, and the programs themselves,
    both sorted by id; `excluded` programs hold a format marker in their instruction."""

    sequences: pl.DataFrame
    programs: pl.DataFrame
    excluded: int

    @property
    def n_sequences(self) -> int:
        return self.sequences.height

    @property
    def n_programs(self) -> int:
        return self.programs.height

    def sequence_batches(self, batch: int = READ_BATCH_ROWS) -> Iterator[pl.DataFrame]:
        """SEQUENCE_BATCH_COLUMNS, a slice at a time (the frame stays columnar in memory).

        The instruction joins a slice at a time: joined up front, every program's instruction
        would be held once per sample (5 copies at s=5)."""
        described = self.programs.select("program_id", "instruction", "source")
        for frame in self.sequences.iter_slices(batch):
            yield frame.join(described, on="program_id", how="left", maintain_order="left").select(SEQUENCE_BATCH_COLUMNS)

    def program_batches(self, batch: int = READ_BATCH_ROWS) -> Iterator[pl.DataFrame]:
        for frame in self.programs.iter_slices(batch):
            yield frame.select(PROGRAM_BATCH_COLUMNS)


SEQUENCE_FILE_COLUMNS = SEQUENCE_BATCH_COLUMNS


@dataclass
class StagedInputs:
    """Export inputs already selected, joined and sorted, in Parquet files read in order.

    sequence_files: the exported sequences (one config, unique, sorted by sequence_id across
        the files), each row with its program's instruction and source.
    program_files: their programs (unique, sorted by program_id across the files).
    Nulls are already filled (instruction '', source 'unknown'), and sequences of programs
    with a format marker in their instruction are already left out (`excluded` counts those
    programs). Only a batch of rows is in memory at a time.
    """

    config_hash: str
    sequence_files: list[Path]
    program_files: list[Path]
    excluded: int
    n_sequences: int
    n_programs: int

    def sequence_batches(self, batch: int = READ_BATCH_ROWS) -> Iterator[pl.DataFrame]:
        yield from _read_batches(self.sequence_files, SEQUENCE_BATCH_COLUMNS, batch)

    def program_batches(self, batch: int = READ_BATCH_ROWS) -> Iterator[pl.DataFrame]:
        yield from _read_batches(self.program_files, PROGRAM_BATCH_COLUMNS, batch)


def _read_batches(files: list[Path], columns: tuple[str, ...], batch: int) -> Iterator[pl.DataFrame]:
    for path in files:
        for record_batch in pq.ParquetFile(path).iter_batches(batch_size=batch, columns=list(columns)):
            yield pl.from_arrow(record_batch)


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
        self.writers = {s: SplitShardWriter(root / name, s, self.spec.schema, settings.shard_rows, jsonl) for s in settings.splits}
        self.tally = {o.value: dict.fromkeys(settings.splits, 0) for o in Outcome}

    def add_batch(self, frame: pl.DataFrame, split: pl.Series) -> None:
        """The rows of an input batch; `split` holds each input row's split."""
        rows = build_rows(self.spec, frame, self.settings.split_seed, self.limit, self.settings.overlong)
        for (name, outcome), n in Counter(zip(split.to_list(), rows.outcomes, strict=True)).items():
            self.tally[outcome][name] += n
        row_splits = split.gather(rows.inputs)
        for name, writer in self.writers.items():
            writer.add_table(rows.table.filter(row_splits.eq(name).to_arrow()))

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


def _write_all(tmp: Path, inputs: Inputs | StagedInputs, settings: ExportSettings, limit: LengthLimit, config_hash: str, lineage: dict) -> tuple[dict, dict, list[Path], Path]:
    """Everything of one export into `tmp`: data, copies, plots, card, manifest."""
    splits = list(settings.splits)
    writers = {name: _FormatWriter(name, tmp, settings, limit) for name in settings.formats}
    by_unit = {unit: [w for w in writers.values() if w.spec.unit == unit] for unit in ("program", "sequence")}
    stats = ExportStats()
    programs_per_split = dict.fromkeys(splits, 0)
    # A program's split is a pure function of its id, so it is computed where needed, not kept.
    for frame in inputs.program_batches():
        split = split_column(frame.get_column("program_id"), settings.split_seed, settings.splits)
        for name, n in split.value_counts().iter_rows():
            programs_per_split[name] += n
        stats.add_programs(frame)
        for writer in by_unit["program"]:
            writer.add_batch(frame, split)
    # Each format writes its own files, so the formats of a batch are built and written in
    # parallel (polars and Parquet's compression release the GIL); a format's rows still
    # reach its files in input order, so the bytes are the same as one after another.
    with ThreadPoolExecutor(max_workers=max(1, len(by_unit["sequence"]))) as pool:
        for frame in inputs.sequence_batches():
            split = split_column(frame.get_column("program_id"), settings.split_seed, settings.splits)
            pending = [pool.submit(writer.add_batch, frame, split) for writer in by_unit["sequence"]]
            stats.add_sequences(frame)
            for future in pending:
                future.result()
    data_files = {name: writer.close() for name, writer in writers.items()}
    counts: dict = {
        "input": {"sequences": inputs.n_sequences, "programs": inputs.n_programs,
                  "programs_excluded_marker_in_instruction": inputs.excluded},
        "programs_per_split": programs_per_split,
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


def write_exports(sequences: pl.DataFrame, programs: pl.DataFrame, out_dir: Path, settings: ExportSettings, lineage: dict, *, hub_token: str | None = None) -> ExportResult:
    """Write the training export described by `settings` to `out_dir` (replacing it whole).

    sequences and programs: frames (see SEQUENCE_COLUMNS, PROGRAM_COLUMNS); they are joined
    and sorted here. For exports too big for memory, use `write_staged_exports`.

    hub_token: for `push_to_hub`; when None, HF_TOKEN / HUGGING_FACE_HUB_TOKEN are used, as
    huggingface_hub itself would.
    """
    token = _hub_token(settings, hub_token)
    limit = LengthLimit.from_settings(settings)
    _require(sequences, SEQUENCE_COLUMNS, "sequences")
    _require(programs, PROGRAM_COLUMNS, "programs")
    if sequences.height == 0:
        raise ExportError("no edit sequences to export")
    selected, config_hash = select_config(sequences, settings.config_hash)
    inputs = join_inputs(selected, programs)
    return _export(inputs, config_hash, Path(out_dir), settings, limit, lineage, token)


def write_staged_exports(inputs: StagedInputs, out_dir: Path, settings: ExportSettings, lineage: dict, *, hub_token: str | None = None) -> ExportResult:
    """`write_exports` from inputs the warehouse already prepared (`StagedInputs`): the
    files are streamed, so memory does not grow with the number of sequences or programs."""
    token = _hub_token(settings, hub_token)
    limit = LengthLimit.from_settings(settings)
    if settings.config_hash is not None and settings.config_hash != inputs.config_hash:
        raise ExportError(f"config_hash {settings.config_hash!r} not in the sequences (they hold {[inputs.config_hash]})")
    return _export(inputs, inputs.config_hash, Path(out_dir), settings, limit, lineage, token)


def _export(inputs: Inputs | StagedInputs, config_hash: str, out_dir: Path, settings: ExportSettings, limit: LengthLimit, lineage: dict, token: str | None) -> ExportResult:
    if inputs.n_sequences == 0:
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
