"""Crash safety and concurrency, on the platform's real job in subprocesses.

Crash: `kill -9` in the middle of sampling and in the middle of loading, then run again: the
warehouse ends identical to an uninterrupted run (same rows, no duplicates, nothing missing,
no half-written shard read). Concurrency: two runs at once on one $LINTSEQ_HOME while
`lintseq sql` reads in a loop: both finish, no lock error escapes, same warehouse.

Each run is the platform's real job in a subprocess (its own process group, so the kill
takes the sampling workers too) on the same $LINTSEQ_HOME and Dagster instance; the kill is
sent when a first shard is staged (sampling) or the loader step starts (loading). GX checks are left out to keep it quick
(every other check runs). Each run takes ~20 s on 2 cores, so the module is marked slow
(`pytest -m "not slow"` skips it; `make test` runs it).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from lintseq_assets.tables import KEYS

pytest.importorskip("lintseq_assets.definitions")
pytestmark = pytest.mark.slow

SOURCES = "sources:\n  - name: stdlib\n    loader: stdlib\n    limit: 20\n"
TABLES = {name: ", ".join(KEYS[name]) for name in ("raw_instructions", "programs", "rejects", "edit_sequences")}
DRIVER = """
import sys
from checks import CheckSettings
from lintseq_assets.platform.run_config import SamplingConfig
from lintseq_assets.definitions import build_definitions
from lintseq_assets.platform.runner import materialize_all
from lintseq_assets.runtime.environment import load_settings

settings = load_settings()
checks = CheckSettings(sampler_configs=(SamplingConfig().sampler(),), exports_dir=str(settings.exports_dir), with_gx=False)
config = {"ops": {"edit_sequence_shards": {"config": {"samples": 1, "workers": 2, "shard_programs": 1}}},
          "loggers": {"console": {"config": {"log_level": "DEBUG"}}}}
# The platform's own entry point: it recovers runs killed mid-way before starting.
result = materialize_all(build_definitions(settings, checks), settings, config)
sys.exit(0 if result.success else 1)
"""


def environment(root: Path, home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "LINTSEQ_"))}
    env.update(LINTSEQ_HOME=str(home), LINTSEQ_SOURCES=str(root / "sources.yaml"), LINTSEQ_WORKERS="2",
               DAGSTER_HOME=str(home / "dagster"), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    return env


BLOCKED = "blocked by limit for pool"


def start(root: Path, home: Path) -> tuple[subprocess.Popen, Path]:
    log = home.parent / f"{home.name}-{time.monotonic_ns()}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", DRIVER], env=environment(root, home), stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    return proc, log


def run(root: Path, home: Path, kill_when=None, timeout: float = 240) -> tuple[int | str, str]:
    """Run the job. With `kill_when(read_log)`, SIGKILL the whole process group once it holds
    (returns "killed"). A step waiting for a pool slot nobody can give back returns "blocked"."""
    proc, log = start(root, home)
    deadline = time.monotonic() + timeout
    outcome: int | str = "timeout"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            outcome = proc.returncode
            break
        if kill_when is not None:
            if kill_when(lambda: log.read_text(errors="replace")):
                outcome = "killed"
                break
        elif BLOCKED in log.read_text(errors="replace"):
            time.sleep(5)  # a live run frees its slot within seconds; a dead one never does
            if proc.poll() is None:
                outcome = "blocked"
                break
        time.sleep(0.005)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return outcome, log.read_text(errors="replace")


def mid_sampling(home: Path):
    """Once a first shard is staged and the set is not sealed yet: workers are mid-way.

    Sampling is fast (about 0.1 s for these 20 modules at s=1), so the window is narrow: a shard
    holds one program and a chunk never spans more than a shard, which spreads the shards over
    the whole sampling time, and the check only globs the folder (no log read) every 5 ms.
    """
    def ready(_read_log) -> bool:
        staged = home / "staging" / "edit_sequences"
        return any(staged.glob("*/shard-*.parquet")) and not any(staged.glob("*/_manifest.json"))
    return ready


def mid_loading(_home: Path):
    """When the loader step (the only writer of edit_sequences) has started."""
    return lambda read_log: " - edit_sequences - STEP_START" in read_log()


def snapshot(home: Path) -> dict[str, list[tuple]]:
    conn = duckdb.connect(str(home / "lintseq.duckdb"), read_only=True)
    try:
        out = {}
        for table, key in TABLES.items():
            columns = [r[0] for r in conn.execute(f"DESCRIBE {table}").fetchall() if r[0] != "run_id"]
            out[table] = conn.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {key}").fetchall()
            total, distinct = conn.execute(f"SELECT count(*), count(DISTINCT ({key})) FROM {table}").fetchone()
            assert total == distinct, f"duplicates in {table}"
        return out
    finally:
        conn.close()


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("crash")
    (root / "sources.yaml").write_text(SOURCES, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def reference(root) -> dict:
    home = root / "reference"
    code, log = run(root, home)
    assert code == 0, log[-4000:]
    return snapshot(home)


def test_kill_9_while_sampling_then_rerun_equals_an_uninterrupted_run(root, reference):
    for attempt in range(3):  # a run that finishes inside the poll interval is missed, not wrong
        home = root / f"killed-sampling-{attempt}"
        outcome, log = run(root, home, kill_when=mid_sampling(home))
        if outcome == "killed":
            break
        assert outcome == 0, f"the run failed before it could be killed mid-sampling ({outcome}):\n{log[-3000:]}"
    assert outcome == "killed", f"3 runs ended before they were caught mid-sampling:\n{log[-3000:]}"
    outcome, log = run(root, home)
    assert outcome == 0, log[-4000:]
    assert snapshot(home) == reference
    assert reference["edit_sequences"], "the reference run sampled nothing"


def test_kill_9_while_loading_then_rerun_equals_an_uninterrupted_run(root, reference):
    home = root / "killed-loading"
    outcome, log = run(root, home, kill_when=mid_loading(home))
    assert outcome == "killed", f"the run ended before loading started ({outcome}):\n{log[-3000:]}"
    outcome, log = run(root, home)  # recovers the dead run's pool slot, then loads
    assert outcome == 0, f"rerun: {outcome}\n{log[-4000:]}"
    assert "was killed mid-way" in log
    assert snapshot(home) == reference


def test_two_runs_at_once_and_a_reader_all_finish_cleanly(root, reference):
    home = root / "concurrent"
    home.mkdir()
    runs = [start(root, home) for _ in range(2)]
    env = environment(root, home)
    reads = failures = 0
    errors: list[str] = []
    deadline = time.monotonic() + 400
    while any(proc.poll() is None for proc, _ in runs) and time.monotonic() < deadline:
        done = subprocess.run([sys.executable, "-m", "lintseq_assets.cli.main", "sql",
                               "SELECT count(*) FROM edit_sequences"], capture_output=True, text=True, env=env)
        reads += 1
        if done.returncode != 0 and "no warehouse" not in done.stderr:  # before the first load
            failures += 1
            errors.append(done.stderr[-500:])
            assert "lock" not in done.stderr.lower(), done.stderr
    for proc, _log in runs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    logs = [log.read_text(errors="replace") for _, log in runs]
    assert [proc.returncode for proc, _ in runs] == [0, 0], "\n\n".join(text[-3000:] for text in logs)
    assert reads >= 3 and failures == 0, errors
    assert snapshot(home) == reference
