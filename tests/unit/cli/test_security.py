"""Security: input code is never executed or imported, `lintseq sql` only reads, the UI binds
to loopback by default, and configured names cannot make the platform write outside
$LINTSEQ_HOME. (Tokens never reaching logs or metadata, and planted code through the whole
platform, are in test_hostile_platform.py, which runs `lintseq materialize`.)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from support.warehouse import build_warehouse

LINTSEQ = [sys.executable, "-m", "lintseq_assets.cli.main"]


def planted(marker: Path, how: str) -> str:
    """A valid, lint-clean program that would create `marker` if it were ever run or imported."""
    return (
        "import os\n"
        "import pathlib\n\n\n"
        "def plant():\n"
        f"    pathlib.Path({str(marker)!r}).write_text({how!r})\n"
        f"    os.system('touch ' + {str(marker) + '.sh'!r})\n\n\n"
        "plant()\n"
        "if __name__ == '__main__':\n"
        "    plant()\n"
    )


# Names Python or tools treat specially when a folder is imported, run or put on sys.path.
SPECIAL_NAMES = ("__init__.py", "__main__.py", "conftest.py", "sitecustomize.py", "usercustomize.py", "setup.py")


def test_planted_programs_are_sampled_but_never_run(tmp_path):
    marker = tmp_path / "markers" / "ran"
    marker.parent.mkdir()
    folder = tmp_path / "evil"
    (folder / "pkg").mkdir(parents=True)
    for name in SPECIAL_NAMES:
        (folder / "pkg" / name).write_text(planted(marker, name))
    jsonl = tmp_path / "evil.jsonl"
    jsonl.write_text(json.dumps({"id": "jsonl", "program": planted(marker, "jsonl")}) + "\n")
    parquet = tmp_path / "evil.parquet"
    pq.write_table(pa.table({"id": ["parquet"], "program": [planted(marker, "parquet")]}), parquet)

    for source, expected in ((folder, len(SPECIAL_NAMES)), (jsonl, 1), (parquet, 1)):
        out = tmp_path / f"{Path(source).stem}.out.jsonl"
        done = subprocess.run([*LINTSEQ, "sample", str(source), "-o", str(out), "-s", "2", "-j", "2"],
                              capture_output=True, text=True, cwd=folder / "pkg")
        assert done.returncode == 0, done.stderr
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        assert len({r["id"] for r in rows}) == expected  # accepted and sampled, not skipped
        verified = subprocess.run([*LINTSEQ, "verify", str(source), str(out)], capture_output=True, text=True,
                                  cwd=folder / "pkg")
        assert verified.returncode == 0, verified.stdout
    assert list(marker.parent.iterdir()) == []


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("sqlhome")
    build_warehouse(home / "lintseq.duckdb", samples=1, sources={"keyword": "import sys\n\nprint(sys.argv)\n"})
    return home


WRITES = [
    "INSERT INTO programs SELECT * FROM programs",
    "DELETE FROM edit_sequences",
    "UPDATE programs SET program = 'x = 1'",
    "DROP TABLE programs",
    "SELECT 1; DROP TABLE programs",
    "CREATE TABLE t AS SELECT 1",
    "CREATE TEMP TABLE t AS SELECT 1",
    "COPY programs TO '{out}/copy.csv'",
    "COPY (SELECT 1) TO '{out}/copy.parquet' (FORMAT parquet)",
    "EXPORT DATABASE '{out}/export'",
    "ATTACH '{out}/other.duckdb' AS other",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET threads = 1",
    "PRAGMA enable_profiling = 'json'; PRAGMA profiling_output = '{out}/profile.json'; SELECT 1",
    "CALL pragma_version()",
    "CHECKPOINT",
    "VACUUM",
]


@pytest.mark.parametrize("statement", WRITES)
def test_lintseq_sql_refuses_writes(home, tmp_path, statement, monkeypatch, capsys):
    """In-process through the CLI's own `main` (the subprocess path is covered below)."""
    from lintseq_assets.cli.main import main

    monkeypatch.setenv("LINTSEQ_HOME", str(home))
    database = home / "lintseq.duckdb"
    before = database.read_bytes()
    query = statement.format(out=tmp_path)
    code = main(["sql", query])
    err = capsys.readouterr().err
    assert code != 0, query
    assert "read-only" in err or "refused" in err, err
    assert database.read_bytes() == before
    assert list(tmp_path.iterdir()) == []  # nothing written outside either


def test_lintseq_sql_reads_and_refuses_as_a_subprocess(home):
    ok = subprocess.run([*LINTSEQ, "sql", "SELECT count(*) AS n FROM programs", "--format", "json"],
                        capture_output=True, text=True, env=_env(home))
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == [{"n": 1}]
    refused = subprocess.run([*LINTSEQ, "sql", "DELETE FROM programs"], capture_output=True, text=True, env=_env(home))
    assert refused.returncode != 0 and "read-only" in refused.stderr


def test_lintseq_sql_cannot_read_other_files(home, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read me")
    query = f"SELECT * FROM read_text('{secret}')"
    result = subprocess.run([*LINTSEQ, "sql", query], capture_output=True, text=True, env=_env(home))
    assert result.returncode != 0 and "do not read me" not in result.stdout
    assert "disabled by configuration" in result.stderr


def _env(home: Path) -> dict:
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "LINTSEQ_SOURCES")}
    env["LINTSEQ_HOME"] = str(home)
    return env


def test_ui_binds_to_loopback_by_default():
    from lintseq_assets.cli.main import build_parser

    args = build_parser().parse_args(["ui"])
    assert args.host == "127.0.0.1"


@pytest.mark.parametrize("name", ["../escape", "..", "/etc", "a/../../b", "~root", ".hidden", "x\x00y", "a\\b"])
def test_export_names_cannot_leave_the_exports_folder(name):
    from lintseq_assets.exports import ExportError, ExportSettings

    with pytest.raises(ExportError):
        ExportSettings(name=name)


@pytest.mark.parametrize("name", ["../../etc", "..", "/abs/path", "a/../../b", "~", "..\\..\\x", "\x00"])
def test_staging_paths_stay_inside_staging(tmp_path, name):
    from lintseq_assets.runtime.staging import partition_dir

    root = tmp_path / "staging"
    path = partition_dir(root, name, name).resolve()
    assert path.is_relative_to(root.resolve()) and path != root.resolve()


def test_the_warehouse_fixture_is_untouched_by_refusals(home):
    conn = duckdb.connect(str(home / "lintseq.duckdb"), read_only=True)
    assert conn.execute("SELECT count(*) FROM programs").fetchone()[0] == 1
    conn.close()
