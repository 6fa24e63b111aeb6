"""Readers wait for the writer and never fail for it (issue 14).

The failure seen about one run in nine (tests/e2e/test_hostile_runs.py, two runs and a
`lintseq sql` reader): the reader opened the warehouse in the instant the first writer had
created the file but not yet written its header, and DuckDB said "exists, but it is not a valid
DuckDB database file", an error that names no lock, so the reader did not retry it. Readers now
wait on the loader's write lock (shared) before they open the file, and retry that error too.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from lintseq_assets.cli.main import main
from resources.connect import connect_reader, connect_writer
from resources.loader import load, write_lock

ROOT = Path(__file__).resolve().parents[3]


def _writer(database: Path, ready: Path, script: str) -> subprocess.Popen:
    """Another process that takes the write lock, touches `ready`, then runs `script`."""
    code = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from pathlib import Path
        from resources.loader import write_lock
        from resources.connect import connect_writer
        database = Path({str(database)!r})
        with write_lock(database):
            Path({str(ready)!r}).touch()
    """) + textwrap.indent(textwrap.dedent(script), "    ")
    return subprocess.Popen([sys.executable, "-c", code])


def _wait_for(path: Path, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while not path.exists():
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)


def test_a_reader_waits_while_the_first_writer_creates_the_warehouse(tmp_path):
    database, ready = tmp_path / "lintseq.duckdb", tmp_path / "ready"
    # The loader's first load: the file exists (created, no header yet) under the write lock.
    proc = _writer(database, ready, """
        database.touch()
        time.sleep(1.5)
        database.unlink()
        conn = connect_writer(database)
        conn.execute("INSERT INTO sampler_configs VALUES ('c1', '{}', 'r1')")
        conn.close()
    """)
    try:
        _wait_for(ready, proc)
        assert database.exists() and database.stat().st_size == 0
        with connect_reader(database) as conn:
            assert conn.execute("SELECT count(*) FROM sampler_configs").fetchone()[0] == 1
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == 0


def test_a_reader_waits_for_a_merge_longer_than_the_old_retry_budget_would_allow(tmp_path):
    database, ready = tmp_path / "lintseq.duckdb", tmp_path / "ready"
    connect_writer(database).close()
    proc = _writer(database, ready, """
        conn = connect_writer(database)
        conn.execute("INSERT INTO sampler_configs VALUES ('c1', '{}', 'r1')")
        time.sleep(3)
        conn.close()
    """)
    try:
        _wait_for(ready, proc)
        started = time.monotonic()
        # retries=0 used to fail on the first lock conflict; a reader now waits by time.
        with connect_reader(database, retries=0) as conn:
            assert conn.execute("SELECT count(*) FROM sampler_configs").fetchone()[0] == 1
        assert time.monotonic() - started > 1.0
    finally:
        proc.wait(timeout=60)


def test_a_reader_in_the_writing_process_does_not_wait_for_itself(tmp_path):
    """The write lock is a flock: a reader of the same process must not queue behind it."""
    database = tmp_path / "lintseq.duckdb"
    connect_writer(database).close()
    started = time.monotonic()
    with write_lock(database):
        with pytest.raises(duckdb.Error):  # DuckDB's own rule, not a wait
            conn = connect_writer(database)
            try:
                connect_reader(database).close()
            finally:
                conn.close()
    assert time.monotonic() - started < 30
    load(database, [], run_id="r")  # and the lock is free again


def test_lintseq_sql_memory_limit_is_settable(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LINTSEQ_HOME", str(tmp_path))
    connect_writer(tmp_path / "lintseq.duckdb").close()
    query = "SELECT current_setting('memory_limit') AS m"
    assert main(["sql", query, "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("244")  # 256MB, DuckDB prints MiB
    monkeypatch.setenv("LINTSEQ_SQL_MEMORY_LIMIT", "512MB")
    assert main(["sql", query, "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("488")
    assert main(["sql", query, "--format", "csv", "--memory-limit", "1GB"]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("953")
