"""How an evaluation is shown: a terminal summary, a markdown table, a PNG of pass@k vs k.

The same numbers feed all three, so the terminal, the Dagster UI and the plot agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from .decode import MALFORMED_KINDS
from .runner import FAILURE_KINDS, EvaluationRun


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def summary_text(run: EvaluationRun) -> str:
    """The terminal summary: what was run, pass@k, failures and malformed edits by kind."""
    per_task = run.per_task()
    ns = sorted({n for n, _ in per_task.values()})
    lines = [
        f"{run.benchmark}: {len(run.results)} generations of {run.n_tasks}/{run.n_problems} tasks "
        f"({'n=' + str(ns[0]) if len(ns) == 1 else f'n={ns[0]}..{ns[-1]}'} per task), format {run.format}"
        + (f", malformed edits: {run.malformed_mode}" if run.format == "diffs" else "")
        + f", {run.seconds:.1f}s",
        f"sandbox: {run.sandbox.describe()}",
        "",
        f"  {'k':>5}  {'pass@k':>8}",
    ]
    lines += [f"  {k:>5}  {_pct(v):>8}" for k, v in run.pass_at_k.items()]
    passed = sum(r.passed for r in run.results)
    failures = run.failures()
    lines += ["", f"passed {passed}/{len(run.results)}; failed by kind: " + (", ".join(f"{k}={failures[k]}" for k in FAILURE_KINDS if failures[k]) or "none")]
    if run.format == "diffs":
        malformed = run.malformed()
        lines.append("malformed edits by kind: " + (", ".join(f"{k}={malformed[k]}" for k in MALFORMED_KINDS if malformed[k]) or "none"))
    if run.n_tasks < run.n_problems:
        lines.append(f"note: {run.n_problems - run.n_tasks} tasks have no generations; pass@k is over the {run.n_tasks} that do")
    return "\n".join(lines)


def markdown_table(series: Mapping[str, Mapping[int, float]]) -> str:
    """pass@k of one or more evaluations side by side (rows: k; columns: evaluations)."""
    if not series:
        return "(no evaluations yet)"
    ks = sorted({k for values in series.values() for k in values})
    names = list(series)
    lines = ["| k | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for k in ks:
        cells = [(_pct(series[name][k]) if k in series[name] else "") for name in names]
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_plot(series: Mapping[str, Mapping[int, float]], path: str | Path, title: str = "pass@k") -> Path:
    """A PNG of pass@k against k, one line per evaluation (e.g. a LintSeq model and its baseline)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    try:
        for name, values in series.items():
            ks = sorted(values)
            ax.plot(ks, [100 * values[k] for k in ks], marker="o", label=name)
        ax.set_xlabel("k")
        ax.set_ylabel("pass@k (%)")
        ax.set_ylim(0, 103)  # room for markers at 100%
        ks_all = sorted({k for values in series.values() for k in values})
        if ks_all:
            ax.set_xticks(ks_all)
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        if series:
            ax.legend(fontsize=8)
        fig.tight_layout()
        tmp = path.with_name(f".{path.name}.tmp")
        fig.savefig(tmp, format="png")
        tmp.replace(path)
    finally:
        plt.close(fig)
    return path
