"""The `lintseq` command: a thin door onto the same functions the assets call.

    lintseq sample INPUT -o OUT.jsonl [--code-field program] [--id-field id] [-s N] [--seed N]
                   [-j WORKERS] [--linter pyflakes|none] [--unit line|statement] [--rejects REJECTS.jsonl]
    lintseq verify INPUT OUT.jsonl
    lintseq curate INPUT -o PROGRAMS.jsonl   (lintseq_assets.cli.curate)
    lintseq materialize | sql | lineage   (platform commands, see lintseq_assets.cli.platform_commands)
    lintseq decode | eval                 (evaluation commands, see lintseq_assets.cli.evaluate)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

from lintseq_assets.cli.errors import CliError, HelpFormatter, positive_int, run_command
from lintseq_assets.core import SamplerConfig, verify_edit_path
from lintseq_assets.runtime.files import write_jsonl_atomic
from lintseq_assets.sampling.batch import ProgramInput, SampledProgram, sample_many
from lintseq_assets.sources.readers import InputError, iter_records


def _default_rejects_path(out: Path) -> Path:
    stem = out.name[: -len(".jsonl")] if out.name.endswith(".jsonl") else out.name
    return out.with_name(stem + ".rejects.jsonl")


def _refuse_overwriting(source: str | Path, *outputs: Path) -> None:
    """An output path that is the input file would destroy it before it is read."""
    source = Path(source).resolve()
    for out in outputs:
        if out.resolve() == source:
            raise CliError(f"{out}: would overwrite the input {source}; choose another output path")


def cmd_sample(args: argparse.Namespace) -> int:
    config = SamplerConfig(linter=args.linter, indent_bias=args.indent_bias, max_lines=args.max_lines, max_bytes=args.max_bytes,
                           unit=args.unit)
    out = Path(args.output)
    rejects_path = Path(args.rejects) if args.rejects else _default_rejects_path(out)
    _refuse_overwriting(args.input, out, rejects_path)
    if out.resolve() == rejects_path.resolve():
        raise CliError(f"{out}: the output and the rejects file are the same path; choose another --rejects")
    rejects: list[dict] = []
    reasons: Counter = Counter()
    accepted = sequences = 0
    started = time.perf_counter()

    def inputs():
        for record in iter_records(args.input, args.code_field, args.id_field):
            if record.error:
                reasons[record.error[0]] += 1
                rejects.append({"id": record.record_id, "reason": record.error[0], "detail": record.error[1]})
                continue
            yield ProgramInput(record.record_id, record.code)

    def rows():
        nonlocal accepted, sequences
        result: SampledProgram
        for result in sample_many(
            inputs(), config=config, samples=args.samples, seed=args.seed, workers=args.workers, start_method="fork"
        ):
            if result.rejected:
                reasons[result.reject_reason] += 1
                rejects.append({"id": result.record_id, "reason": result.reject_reason, "detail": result.reject_detail})
                continue
            accepted += 1
            for seq in result.sequences:
                sequences += 1
                yield {
                    "id": result.record_id,
                    "sample": seq.sample_index,
                    "edit_path": seq.edit_path,
                    "program_id": seq.program_id,
                    "sequence_id": seq.sequence_id,
                    "seed": seq.seed,
                    "config_hash": seq.config_hash,
                    "n_edits": seq.n_edits,
                }
            if not args.quiet and accepted % 500 == 0:
                print(f"  ... {accepted} programs, {sequences} sequences", file=sys.stderr)

    try:
        write_jsonl_atomic(out, rows())
    except InputError as err:
        print(f"lintseq sample: {err}", file=sys.stderr)
        return 2
    write_jsonl_atomic(rejects_path, rejects)
    elapsed = time.perf_counter() - started
    detail = ", ".join(f"{reason}={count}" for reason, count in sorted(reasons.items()))
    print(
        f"accepted {accepted} programs ({sequences} sequences), rejected {len(rejects)}"
        + (f" ({detail})" if detail else "")
        + f" in {elapsed:.1f}s; wrote {out} and {rejects_path}",
        file=sys.stderr,
    )
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    try:
        programs = {r.record_id: r.code for r in iter_records(args.input, args.code_field, args.id_field) if not r.error}
    except InputError as err:
        print(f"lintseq verify: {err}", file=sys.stderr)
        return 2
    checked = failed = 0
    try:
        handle = open(args.sequences, encoding="utf-8")
    except OSError as err:
        raise CliError(f"{args.sequences}: cannot read it ({err.strerror or err}); give the output of `lintseq sample`") from None
    with handle:
        for line_no, line in enumerate(handle, start=1):
            try:
                row = json.loads(line)
                row["id"], row["edit_path"]  # noqa: B018 - both are required
            except (json.JSONDecodeError, TypeError, KeyError) as err:
                raise CliError(f"{args.sequences}:{line_no}: not a row of `lintseq sample` output ({type(err).__name__}: {err})") from None
            program = programs.get(str(row["id"]))
            checked += 1
            if program is None:
                failed += 1
                print(f"line {line_no}: id {row['id']!r} not in {args.input}")
                continue
            result = verify_edit_path(program, row["edit_path"], linter=args.linter)
            if not result.ok:
                failed += 1
                print(f"line {line_no}: id {row['id']!r} sample {row.get('sample')}: " + "; ".join(result.problems[:3]))
    print(f"verified {checked} edit paths: {checked - failed} ok, {failed} failed")
    return 1 if failed else 0


def _add_input_fields(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--code-field", default="program", help="field holding the program (JSONL/Parquet)")
    parser.add_argument("--id-field", default="id", help="field holding the record id (row-N if absent)")


class _VersionAction(argparse._VersionAction):
    """`--version`, with the version looked up only when asked: importing importlib.metadata
    costs about a tenth of `lintseq sample`'s start-up, which counts in short engine runs."""

    def __call__(self, parser, namespace, values, option_string=None):
        self.version = f"%(prog)s {_version()}"
        super().__call__(parser, namespace, values, option_string)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lintseq-platform")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def build_parser(platform: bool = True) -> argparse.ArgumentParser:
    """All subcommands; `platform=False` leaves out all but sample and verify (and their imports:
    start-up counts in short engine runs)."""
    parser = argparse.ArgumentParser(prog="lintseq", description="LintSeq synthetic edit sequences", formatter_class=HelpFormatter)
    parser.add_argument("--version", action=_VersionAction, help="show the version and exit")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_SubParser)

    sample = sub.add_parser("sample", help="sample edit paths for every program in INPUT")
    sample.add_argument("input", help=".jsonl, .parquet, or a folder of .py files")
    sample.add_argument("-o", "--output", required=True, help="output .jsonl (never the input)")
    _add_input_fields(sample)
    sample.add_argument("-s", "--samples", type=positive_int, default=1, help="edit paths per program")
    sample.add_argument("--seed", type=int, default=0, help="global seed")
    sample.add_argument("-j", "--workers", type=positive_int, default=1, help="worker processes")
    sample.add_argument("--linter", choices=["pyflakes", "none"], default="pyflakes", help="none = RandSeq ablation")
    sample.add_argument("--indent-bias", type=float, default=1.0, help="how much more likely a deeper-indented unit is to be deleted (0: all equal)")
    sample.add_argument("--unit", choices=["line", "statement"], default=SamplerConfig.unit,
                        help="line = physical lines, as the paper; statement = never split a statement")
    sample.add_argument("--max-lines", type=positive_int, default=SamplerConfig.max_lines, help="longer programs are rejected")
    sample.add_argument("--max-bytes", type=positive_int, default=SamplerConfig.max_bytes, help="larger programs are rejected")
    sample.add_argument("--rejects", help="rejects .jsonl (default: OUT with .rejects.jsonl)")
    sample.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    sample.set_defaults(func=cmd_sample)

    verify = sub.add_parser("verify", help="replay every path and lint every state")
    verify.add_argument("input")
    verify.add_argument("sequences", help="output of lintseq sample")
    _add_input_fields(verify)
    verify.add_argument("--linter", choices=["pyflakes", "none"], default="pyflakes", help="the linter the paths were sampled with")
    verify.set_defaults(func=cmd_verify)

    if platform:
        from lintseq_assets.cli.curate import add_curate_command
        from lintseq_assets.cli.evaluate import add_evaluation_commands
        from lintseq_assets.cli.platform_commands import add_platform_commands
        from lintseq_assets.cli.prune import add_sources_command

        add_curate_command(sub)
        add_platform_commands(sub)
        add_sources_command(sub)
        add_evaluation_commands(sub)  # decode, eval (lintseq_assets/cli/evaluate.py)
    return parser


class _SubParser(argparse.ArgumentParser):
    """Every subcommand shows its defaults in --help."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    engine_only = bool(argv) and argv[0] in ("sample", "verify")  # start-up counts in short runs
    args = build_parser(platform=not engine_only).parse_args(argv)
    return run_command(args.func, args, f"lintseq {args.command}")


if __name__ == "__main__":
    sys.exit(main())
