"""`lintseq sql`: reads the warehouse in three formats, refuses anything that writes."""

from __future__ import annotations

import csv
import io
import json

import pytest

from lintseq_assets.cli.main import main
from resources.connect import connect_writer


@pytest.fixture
def warehouse(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("LINTSEQ_HOME", str(home))
    path = home / "lintseq.duckdb"
    conn = connect_writer(path)
    conn.execute(
        "INSERT INTO edit_sequences (sequence_id, program_id, sample_index, seed, config_hash, n_edits, edit_path, run_id) VALUES ('s1', 'p1', 0, 18446744073709551615, 'c', 2, ['@@ -0,0 +1 @@\n+x = 1', '@@ -1,0 +2 @@\n+y = x'], 'r')"
    )
    conn.close()
    return path


def test_sql_prints_a_table(warehouse, capsys):
    assert main(["sql", "SELECT sequence_id, seed, n_edits FROM edit_sequences"]) == 0
    out = capsys.readouterr().out
    assert "| s1 " in out and "18446744073709551615" in out and "(1 row)" in out


def test_sql_csv_and_json(warehouse, capsys):
    assert main(["sql", "SELECT step, lines_added FROM edits ORDER BY step", "--format", "csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows == [["step", "lines_added"], ["0", "1"], ["1", "1"]]
    assert main(["sql", "SELECT sequence_id, edit_path FROM edit_sequences", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data[0]["sequence_id"] == "s1" and len(data[0]["edit_path"]) == 2


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM edit_sequences",
        "INSERT INTO rejects VALUES ('a', 's', 'x', 'y', 'z', 'w', 'r')",
        "DROP TABLE programs",
        "CREATE TABLE t AS SELECT 1",
        "COPY edit_sequences TO 'out.csv'",
        "SELECT 1; DELETE FROM edit_sequences",
    ],
)
def test_sql_refuses_writes(warehouse, statement, capsys):
    assert main(["sql", statement]) != 0
    assert "read-only" in capsys.readouterr().err
    assert main(["sql", "SELECT count(*) AS n FROM edit_sequences", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"n": 1}]


def test_sql_without_a_warehouse_says_what_to_do(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LINTSEQ_HOME", str(tmp_path / "empty"))
    assert main(["sql", "SELECT 1"]) == 2
    assert "make run" in capsys.readouterr().err


def test_sql_csv_lines_end_in_lf_so_a_value_feeds_another_command(warehouse, capsys):
    """`lintseq lineage $(lintseq sql --format csv "..." | tail -1)`: no CR in the value."""
    assert main(["sql", "SELECT sequence_id FROM edit_sequences", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert "\r" not in out
    assert out.splitlines()[-1] == "s1" and out.endswith("s1\n")


def test_missing_warehouse_says_where_it_looked_and_how_to_point_elsewhere(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("LINTSEQ_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["sql", "SELECT 1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"no warehouse at {tmp_path / 'data' / 'lintseq.duckdb'}" in err
    assert f"from {tmp_path} up to /" in err and "LINTSEQ_HOME" in err
