"""Where a run is: one line per stage as it starts and ends (with counts), and while sampling a
periodic line with done/total, rate and ETA.

Every line goes to the step's log (`context.log.info`), so the UI shows it in the run's logs,
and to the console sink when one is set: `lintseq materialize` sets it to print on stderr,
because it runs the jobs in its own process with Dagster's own logs turned down to warnings.

    progress = Stage(context, programs=120)  # edit_sequence_shards: started (programs=120)
    ticker = Ticker(context, "sampling", total=120)
    for done in ...:
        ticker.update(done)                  # sampling: 40/120 programs (33%), 8.1/s, ETA 10s
    progress.done(sequences=360)             # edit_sequence_shards: done in 14.8s (sequences=360)
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

_console: Callable[[str], None] | None = None


def set_console(sink: Callable[[str], None] | None) -> None:
    """Also send progress lines to `sink` (None: only the step logs)."""
    global _console
    _console = sink


def print_to_stderr(line: str) -> None:
    print(f"lintseq: {line}", file=sys.stderr, flush=True)


def report(context, line: str) -> None:
    """One progress line to the step log and the console sink."""
    if context is not None:
        context.log.info(line)
    if _console is not None:
        _console(line)


def _counts(counts: dict) -> str:
    shown = [f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}" for k, v in counts.items() if v is not None]
    return f" ({', '.join(shown)})" if shown else ""


def stage_name(context, name: str | None = None) -> str:
    """`name`, or the asset the step materializes, with its partition when it has one."""
    if name is None:
        name = context.op_def.name if context is not None else "stage"
    if context is not None and getattr(context, "has_partition_key", False):
        name = f"{name}[{context.partition_key}]"
    return name


class Stage:
    """A stage's start line now, its end line (with counts) at `done`:

        progress = Stage(context, programs=120)   # "edit_sequence_shards: started (programs=120)"
        ...
        progress.done(sequences=360)             # "edit_sequence_shards: done in 12.3s (sequences=360)"

    A stage that raises ends with Dagster's own step-failure event instead.
    """

    def __init__(self, context, name: str | None = None, clock: Callable[[], float] = time.perf_counter, **counts):
        self.context, self.clock = context, clock
        self.name = stage_name(context, name)
        self.started = clock()
        report(context, f"{self.name}: started{_counts(counts)}")

    def done(self, **counts) -> float:
        seconds = self.clock() - self.started
        report(self.context, f"{self.name}: done in {seconds:.1f}s{_counts(counts)}")
        return seconds


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class Ticker:
    """A periodic `done/total (pct), rate/s, ETA` line, at most every `interval` seconds."""

    def __init__(self, context, name: str, total: int, unit: str = "programs", interval: float = 5.0,
                 clock: Callable[[], float] = time.monotonic):
        self.context, self.name, self.total, self.unit, self.interval, self.clock = context, name, total, unit, interval, clock
        self.started = clock()
        self.last = self.started

    def line(self, done: int) -> str:
        elapsed = self.clock() - self.started
        rate = done / elapsed if elapsed > 0 else 0.0
        pct = f" ({100 * done / self.total:.0f}%)" if self.total else ""
        eta = _duration((self.total - done) / rate) if rate > 0 and self.total >= done else "?"
        return f"{self.name}: {done:,}/{self.total:,} {self.unit}{pct}, {rate:,.1f}/s, ETA {eta}"

    def update(self, done: int, force: bool = False) -> bool:
        """Report `done` if `interval` passed since the last line (or `force`); True if it did."""
        now = self.clock()
        if not force and now - self.last < self.interval:
            return False
        self.last = now
        report(self.context, self.line(done))
        return True
