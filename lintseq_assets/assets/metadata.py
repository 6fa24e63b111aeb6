"""Small views for asset metadata: markdown tables, previews and histograms.

The Dagster UI renders markdown metadata, so a table of counts or a bar-chart made of
characters is the cheapest "plot" that needs no files and shows on every materialization.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import polars as pl
from dagster import MetadataValue

BAR_WIDTH = 30


def _cell(value: object, width: int = 60) -> str:
    text = "" if value is None else str(value)
    text = text.replace("\n", "⏎").replace("|", "\\|")
    return text if len(text) <= width else text[: width - 1] + "…"


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]], width: int = 60) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(v, width) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def counts_table(counts: Mapping[str, int], key: str = "reason", value: str = "count") -> MetadataValue:
    """Counts by key, largest first; an explicit 'none' row when empty so the UI shows zero."""
    rows = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) or [("(none)", 0)]
    return MetadataValue.md(markdown_table([key, value], rows))


def preview(frame: pl.DataFrame, rows: int = 5, width: int = 60) -> MetadataValue:
    """The first rows of a frame, long text cut, newlines shown as ⏎."""
    head = frame.head(rows)
    return MetadataValue.md(markdown_table(head.columns, head.iter_rows(), width))


def histogram(values: Iterable[int], label: str, buckets: int = 12) -> MetadataValue:
    """A markdown bar chart of integer values (see `histogram_from_counts`)."""
    counts: dict[int, int] = {}
    for v in values:
        counts[int(v)] = counts.get(int(v), 0) + 1
    return histogram_from_counts(counts, label, buckets)


def histogram_from_counts(counts: Mapping[int, int], label: str, buckets: int = 12) -> MetadataValue:
    """Bars from {value: count} (so SQL can aggregate first): exact bins when few, ranges otherwise."""
    if not counts:
        return MetadataValue.md(f"(no {label})")
    low, high = min(counts), max(counts)
    step = max(1, -(-(high - low + 1) // buckets))
    bins: dict[int, int] = {}
    for v, c in counts.items():
        start = low + (v - low) // step * step
        bins[start] = bins.get(start, 0) + c
    peak = max(bins.values())
    rows = []
    for start in sorted(bins):
        name = str(start) if step == 1 else f"{start}–{start + step - 1}"
        rows.append((name, bins[start], "█" * max(1, round(bins[start] / peak * BAR_WIDTH))))
    n = sum(counts.values())
    mean = sum(v * c for v, c in counts.items()) / n
    summary = f"n={n}, min={low}, mean={mean:.1f}, max={high}"
    return MetadataValue.md(markdown_table([label, "count", ""], rows) + f"\n\n{summary}")
