"""`lintseq curate INPUT -o OUT.jsonl`: raw instruction answers in, curated programs out.

The same two halves the platform runs (docs/curation.md): the source is opened exactly as the
`raw_instructions` asset opens a local source (`lintseq_assets.sources.ingest.open_source`),
then `curate_programs` runs the per-record half (`curate_records`, which `source_programs`
runs per partition) and the set half (`select_programs`, which `programs` runs globally).
Every record ends in OUT (programs, ready for `lintseq sample`) or in the rejects file with
its stage, reason and detail.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import polars as pl
import yaml

from lintseq_assets.curation import CurationSettings, curate_programs
from lintseq_assets.runtime.executors import make_executor
from lintseq_assets.runtime.files import write_jsonl_atomic
from lintseq_assets.sources.ingest import IngestReject, RawRow, SourceUnavailable, open_source
from lintseq_assets.sources.spec import ColumnMap, SourceSpec

SUFFIX_LOADERS = {".jsonl": "jsonl", ".json": "jsonl", ".parquet": "parquet", ".arrow": "arrow"}


def _loader_for(path: Path) -> str:
    if path.is_dir():
        return "python"
    loader = SUFFIX_LOADERS.get(path.suffix.lower())
    if loader is None:
        raise ValueError(f"{path}: cannot tell the format from the name; expected .jsonl, .parquet, .arrow or a folder of .py files")
    return loader


def _settings(pairs: list[str]) -> CurationSettings:
    """`--setting key=value` pairs (values read as YAML scalars) over the defaults."""
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--setting {pair!r}: expected KEY=VALUE, e.g. --setting near_dedup=false")
        overrides[key.strip()] = yaml.safe_load(value)
    return CurationSettings.from_dict(overrides)


def cmd_curate(args: argparse.Namespace) -> int:
    source, out = Path(args.input), Path(args.output)
    rejects_path = Path(args.rejects) if args.rejects else out.with_name(out.name.removesuffix(".jsonl") + ".rejects.jsonl")
    try:
        if source.resolve() in (out.resolve(), rejects_path.resolve()):
            raise ValueError(f"{out}: the output would overwrite the input; choose another -o")
        settings = _settings(args.setting)
        spec = SourceSpec(
            name=args.source_name, loader=_loader_for(source), path=str(source.resolve()),
            columns=ColumnMap(instruction=args.instruction_field, response=args.response_field, id=args.id_field),
        )
        opened = open_source(spec)
    except (ValueError, SourceUnavailable) as err:
        print(f"lintseq curate: {err}", file=sys.stderr)
        return 2
    rows, ingest_rejects = [], []
    for item in opened.records:
        if isinstance(item, RawRow):
            rows.append(item.__dict__)
        elif isinstance(item, IngestReject):
            ingest_rejects.append({"id": item.record_id, "stage": "ingest", "reason": item.reason, "detail": item.detail})
    raw = pl.DataFrame(rows, schema={"record_id": pl.String, "source": pl.String, "source_revision": pl.String,
                                     "source_row": pl.Int64, "instruction": pl.String, "response": pl.String})
    result = curate_programs(raw, settings, make_executor("local", args.workers, start_method="fork"))
    programs = ({"id": r["record_id"], **{k: v for k, v in r.items() if k != "record_id"}} for r in result.programs.iter_rows(named=True))
    kept = write_jsonl_atomic(out, programs)
    curation_rejects = ({"id": r["record_id"], "stage": r["stage"], "reason": r["reason"], "detail": r["detail"]} for r in result.rejects.iter_rows(named=True))
    write_jsonl_atomic(rejects_path, [*ingest_rejects, *curation_rejects])
    if not args.quiet:
        print(result.to_markdown(), file=sys.stderr)
    print(f"kept {kept} programs, rejected {len(ingest_rejects) + result.rejects.height} records; wrote {out} and {rejects_path}", file=sys.stderr)
    return 0


def add_curate_command(sub) -> None:
    curate = sub.add_parser(
        "curate", help="extract, filter, de-duplicate and decontaminate the programs in INPUT",
    )
    curate.add_argument("input", help=".jsonl, .parquet or .arrow of instruction/response records, or a folder of .py files")
    curate.add_argument("-o", "--output", required=True, help="programs .jsonl (id, program, instruction, ...), the input of `lintseq sample`")
    curate.add_argument("--rejects", help="rejects .jsonl (default: OUT with .rejects.jsonl)")
    curate.add_argument("--instruction-field", default="instruction")
    curate.add_argument("--response-field", default="response")
    curate.add_argument("--id-field", default=None, help="field holding the record id (row number if absent)")
    curate.add_argument("--source-name", default="local", help="the source part of every record id")
    curate.add_argument("--setting", action="append", default=[], metavar="KEY=VALUE", help="a curation setting (docs/curation.md), e.g. near_dedup=false; repeatable")
    curate.add_argument("-j", "--workers", type=int, default=1)
    curate.add_argument("-q", "--quiet", action="store_true", help="no funnel table")
    curate.set_defaults(func=cmd_curate)
