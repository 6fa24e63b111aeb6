"""Progress lines of `lintseq materialize` (lintseq_assets/platform/progress.py): one line per
stage as it starts and ends, with counts, and sampling's done/total, rate and ETA."""

from __future__ import annotations

from lintseq_assets.platform import progress


class FakeLog:
    def __init__(self):
        self.lines: list[str] = []

    def info(self, line: str) -> None:
        self.lines.append(line)


class FakeContext:
    has_partition_key = False

    def __init__(self, name: str):
        self.log = FakeLog()
        self.op_def = type("Op", (), {"name": name})()


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_stage_reports_its_start_and_end_with_counts_to_the_step_log_and_the_console():
    context, printed, clock = FakeContext("edit_sequence_shards"), [], Clock()
    progress.set_console(printed.append)
    try:
        stage = progress.Stage(context, clock=clock, programs_to_sample=1200, workers=2)
        clock.now += 12.34
        stage.done(sequences=3600, rejects=2)
    finally:
        progress.set_console(None)
    assert context.log.lines == printed == [
        "edit_sequence_shards: started (programs_to_sample=1,200, workers=2)",
        "edit_sequence_shards: done in 12.3s (sequences=3,600, rejects=2)",
    ]


def test_without_a_console_only_the_step_log_gets_the_lines():
    context = FakeContext("programs")
    progress.Stage(context).done(programs=3)
    assert len(context.log.lines) == 2


def test_sampling_ticker_reports_done_total_rate_and_eta_at_most_every_interval():
    context, clock = FakeContext("edit_sequence_shards"), Clock()
    ticker = progress.Ticker(context, "sampling", total=1000, interval=5.0, clock=clock)
    clock.now += 1
    assert not ticker.update(10)  # too soon
    clock.now += 9  # 10 s in, 200 done: 20/s, 800 left: 40 s
    assert ticker.update(200)
    assert context.log.lines == ["sampling: 200/1,000 programs (20%), 20.0/s, ETA 40s"]
    clock.now += 1
    assert not ticker.update(210)
    assert ticker.update(1000, force=True)
    assert context.log.lines[-1].startswith("sampling: 1,000/1,000 programs (100%)")
    assert context.log.lines[-1].endswith("ETA 0s")


def test_long_etas_read_in_minutes_and_hours():
    context, clock = FakeContext("x"), Clock()
    ticker = progress.Ticker(context, "sampling", total=100_000, clock=clock)
    clock.now += 10
    assert ticker.line(100).endswith("ETA 2h46m")
    assert ticker.line(5_000).endswith("ETA 3m10s")
