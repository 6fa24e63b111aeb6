"""The dataset card (`README.md` with the Hub's YAML header) and its PNG plots.

The YAML `configs:` list is what makes `load_dataset(out_dir, name="lintseq")` (and the Hub
viewer) find each format's shards without a loading script. Plots are drawn on a bare
`Figure` with the Agg canvas, never through pyplot's global state, so exports can run in a
threaded Dagster process; PNGs carry no software metadata, so they are stable across runs.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import yaml
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from lintseq_assets.exports.config import ExportSettings
from lintseq_assets.exports.formats import FORMAT_SPECS

# The split names `datasets` recognises in file names when loading with `data_dir=`.
STANDARD_SPLITS = ("train", "validation", "test")
TAGS = ["code", "python", "synthetic", "lintseq", "edit-sequences", "diffs"]


@dataclass
class ExportStats:
    """What the card and the plots describe: the exported inputs, before length control.

    Distributions are kept as value -> count histograms, so memory does not grow with the
    number of sequences or edits.
    """

    edits_per_sequence: Counter = field(default_factory=Counter)
    lines_per_edit: Counter = field(default_factory=Counter)
    program_lines: Counter = field(default_factory=Counter)
    programs_per_source: Counter = field(default_factory=Counter)
    sequences_per_source: Counter = field(default_factory=Counter)

    def add_sequences(self, batch: pl.DataFrame) -> None:
        """A batch of sequences (`edit_path`, `source`): counted by polars, not row by row."""
        _add_counts(self.edits_per_sequence, batch.get_column("edit_path").list.len())
        _add_counts(self.sequences_per_source, batch.get_column("source"))
        # Lines inserted per edit: the diff's lines that start with "+".
        diffs = batch.get_column("edit_path").explode(empty_as_null=False).drop_nulls()
        plus_lines = diffs.str.starts_with("+").cast(pl.Int64) + diffs.str.count_matches("\n+", literal=True)
        _add_counts(self.lines_per_edit, plus_lines)

    def add_programs(self, batch: pl.DataFrame) -> None:
        """A batch of programs (`program`, `source`)."""
        _add_counts(self.program_lines, batch.get_column("program").str.count_matches("\n", literal=True) + 1)
        _add_counts(self.programs_per_source, batch.get_column("source"))


def _add_counts(histogram: Counter, values: pl.Series) -> None:
    for value, n in values.value_counts().iter_rows():
        histogram[value] += n


def _summary(histogram: Counter) -> str:
    """min, median, mean, max of a value -> count histogram, as table cells."""
    total = sum(histogram.values())
    if not total:
        return "| – | – | – | – |"
    values = sorted(histogram)
    mean = sum(v * n for v, n in histogram.items()) / total

    def nth(k: int) -> int:  # the k-th smallest value, 0-based
        seen = 0
        for v in values:
            seen += histogram[v]
            if seen > k:
                return v
        return values[-1]

    median = (nth((total - 1) // 2) + nth(total // 2)) / 2
    return f"| {values[0]} | {median:g} | {mean:.1f} | {values[-1]} |"


def _quantile(histogram: Counter, q: float) -> int:
    total, seen = sum(histogram.values()), 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= q * total:
            return value
    return max(histogram)


def _histogram(histogram: Counter, title: str, xlabel: str, path: Path) -> Path:
    """Long tails (a few huge edits) would squash the plot: values above the 99th percentile
    are drawn in the last bin (the title says so) and the count axis goes logarithmic."""
    figure = Figure(figsize=(6, 3.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    if histogram:
        cap = _quantile(histogram, 0.99)
        clipped: Counter = Counter()
        for value, n in histogram.items():
            clipped[min(value, cap)] += n
        values = sorted(clipped)
        low, high = values[0], values[-1]
        bins = range(low, high + 2) if high - low <= 60 else 60
        axes.hist(values, bins=bins, weights=[clipped[v] for v in values], color="#4C72B0", edgecolor="white")
        if cap < max(histogram):
            title += f" (values over {cap} drawn at {cap})"
        if max(clipped.values()) > 50 * min(clipped.values()):
            axes.set_yscale("log")
    axes.set_title(title, fontsize=10)
    axes.set_xlabel(xlabel)
    axes.set_ylabel("count")
    figure.tight_layout()
    figure.savefig(path, format="png", metadata={"Software": None})
    return path


def _bars(counts: Counter, title: str, path: Path) -> Path:
    figure = Figure(figsize=(6, max(2.5, 0.4 * len(counts) + 1.5)), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    names = sorted(counts)
    axes.barh(names, [counts[n] for n in names], color="#55A868")
    axes.invert_yaxis()
    axes.set_title(title)
    axes.set_xlabel("programs")
    figure.tight_layout()
    figure.savefig(path, format="png", metadata={"Software": None})
    return path


def write_plots(stats: ExportStats, folder: Path) -> list[Path]:
    """Edits per sequence, lines per edit, program length, programs per source."""
    folder.mkdir(parents=True, exist_ok=True)
    return [
        _histogram(stats.edits_per_sequence, "Edits per sequence", "edits", folder / "edits_per_sequence.png"),
        _histogram(stats.lines_per_edit, "Lines inserted per edit", "lines", folder / "lines_per_edit.png"),
        _histogram(stats.program_lines, "Program length", "lines", folder / "program_lines.png"),
        _bars(stats.programs_per_source, "Programs per source", folder / "programs_per_source.png"),
    ]


def size_category(rows: int) -> str:
    """The Hub's `size_categories` label for a dataset of `rows` examples."""
    for bound, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")):
        if rows < bound:
            return label
    return "10M<n<100M"


def dataset_rows(counts: dict) -> int:
    """The number of examples the card's `size_categories` describes: the largest config's rows
    over all its splits. Every format is a view of the same sequences, so adding the formats up
    would count each example once per format (597 rows in two formats read as 1K<n<10K)."""
    return max((sum(by_split.values()) for by_split in counts["rows"].values()), default=0)


def card_header(settings: ExportSettings, data_files: dict[str, dict[str, list[Path]]], root: Path, total_rows: int) -> dict:
    """The Hub card metadata; `configs` maps each format to its shards by split; `total_rows`
    is `dataset_rows(counts)`."""
    configs = []
    for name, by_split in data_files.items():
        if not by_split:
            continue  # every row dropped: a config without files would not load
        entry: dict = {"config_name": name}
        if not configs:
            entry["default"] = True
        entry["data_files"] = [{"split": s, "path": f"{name}/{s}-*.parquet"} for s in by_split]
        configs.append(entry)
    return {
        "license": settings.license,
        "pretty_name": f"LintSeq edit sequences ({settings.name})",
        "language": ["en", "code"],
        "task_categories": ["text-generation"],
        "tags": TAGS,
        "size_categories": [size_category(total_rows)],
        "configs": configs,
    }


METHOD = """\
Each row is built from a program and a **LintSeq** edit sequence for it (Piterbarg, Pinto and
Fergus, *Training Language Models on Synthetic Edit Sequences Improves Code Synthesis*,
ICLR 2025, arXiv:2410.02749). LintSeq samples a program's deletions backwards: it removes a
random unit, a line or a statement (see "edit unit" below), with its block, and then whatever that leaves broken for the linter
(pyflakes), until the program is empty. Reversed, the deletions are insertions that rebuild
the program through states that are all lint-clean. Each insertion is written as a unified
diff with zero context lines and no file headers; the training text joins them with
`<|diff|>` exactly as the reference code does:
`instruction + "\\n<|diff|>" + "\\n<|diff|>".join(edit_path)`.
Splits are by program: all samples of a program are in the same split."""


UNIT_TEXT = {
    "line": "physical lines, as in the paper: a multi-line statement is written a few lines at a time",
    "statement": "whole statements: a multi-line statement is always written in one edit",
}


def _format_table(settings: ExportSettings, counts: dict) -> list[str]:
    splits = list(settings.splits)
    lines = [
        "| format | " + " | ".join(splits) + " | truncated | dropped | description |",
        "|---" * (len(splits) + 4) + "|",
    ]
    for name in settings.formats:
        rows = " | ".join(str(counts["rows"][name][s]) for s in splits)
        truncated, dropped = sum(counts["truncated"][name].values()), sum(counts["dropped"][name].values())
        lines.append(f"| `{name}` | {rows} | {truncated} | {dropped} | {FORMAT_SPECS[name].description} |")
    return lines


def render_card(*, settings: ExportSettings, config_hash: str, counts: dict, stats: ExportStats, data_files: dict, plots: list[Path], root: Path, lineage: dict) -> str:
    header = yaml.safe_dump(card_header(settings, data_files, root, dataset_rows(counts)), sort_keys=False, allow_unicode=True)
    first = next((n for n, by in data_files.items() if by), settings.formats[0])
    out = ["---", header.rstrip(), "---", "", f"# LintSeq edit sequences: `{settings.name}`", "", METHOD, ""]
    out += ["## Loading", "", "```python", "from datasets import load_dataset", "",
            f'ds = load_dataset("path/to/this/folder", name="{first}")  # or the Hub repo id',
            f'ds = load_dataset("parquet", data_dir="path/to/this/folder/{first}")', "```", ""]
    unusual = [s for s in settings.splits if s not in STANDARD_SPLITS]
    if unusual:
        out += [f"`data_dir=` loading infers splits from file names and only knows {', '.join(STANDARD_SPLITS)}: "
                f"load split(s) {', '.join(unusual)} through the card (`name=`) or with `data_files=`.", ""]
    out += ["## Formats", "", *_format_table(settings, counts), ""]
    limit = []
    if settings.max_chars is not None:
        limit.append(f"{settings.max_chars} characters")
    if settings.max_tokens is not None:
        limit.append(f"{settings.max_tokens} tokens of `{settings.tokenizer}`")
    handling = {"drop": "dropped", "truncate": "cut at an edit boundary (never inside a diff; `baseline` rows are dropped)"}
    out += ["Length limit: " + (" and ".join(limit) + f"; over-long examples are {handling[settings.overlong]}" if limit else "none") + ".", ""]
    empty = [s for s, n in counts["programs_per_split"].items() if n == 0]
    if empty:
        out += [f"Splits with no program (and so no files): {', '.join(empty)}.", ""]
    sampler = (lineage or {}).get("sampler_config")
    unit = sampler.get("unit", "statement") if isinstance(sampler, dict) else None  # configs without one predate line units
    out += ["## Configuration", "", f"- sampler config hash: `{config_hash}`",
            *([f"- edit unit: `{unit}` ({UNIT_TEXT.get(unit, unit)})"] if unit else []),
            f"- programs: {counts['input']['programs']}, edit sequences: {counts['input']['sequences']}",
            "- programs per split: " + ", ".join(f"{s} {n}" for s, n in counts["programs_per_split"].items()),
            "", "Export settings:", "", "```json", json.dumps(settings.to_dict(), indent=2), "```", ""]
    if lineage:
        out += ["Lineage (full detail with file checksums in `manifest.json`):", "", "```json",
                json.dumps(lineage, indent=2, sort_keys=True, default=str), "```", ""]
    out += ["## Statistics", "", "| quantity | min | median | mean | max |", "|---|---|---|---|---|",
            "| edits per sequence " + _summary(stats.edits_per_sequence),
            "| lines per edit " + _summary(stats.lines_per_edit),
            "| program lines " + _summary(stats.program_lines), "",
            "| source | programs | sequences |", "|---|---|---|"]
    out += [f"| {s} | {stats.programs_per_source[s]} | {stats.sequences_per_source[s]} |" for s in sorted(stats.programs_per_source)]
    out += [""] + [f"![{p.stem.replace('_', ' ')}](plots/{p.name})" for p in plots] + [""]
    return "\n".join(out)


def write_card(root: Path, **kwargs) -> Path:
    path = root / "README.md"
    path.write_text(render_card(root=root, **kwargs), encoding="utf-8")
    return path
