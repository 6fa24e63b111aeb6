"""Hostile input and planted code through the whole platform: one `lintseq materialize`.

Sources: a JSONL of hostile records (nulls, wrong types, a missing column, NUL bytes, a
50 MB answer, 100 000-deep nesting, non-UTF-8 bytes, lines that are not JSON) plus a
folder of planted programs that would write a marker file if run or imported. A secret
token sits in the environment. The run must exit 0 with every check passing, put each bad
record in `rejects` with a reason, sample the planted programs without running them,
keep peak memory bounded, and leave the token in no file under $LINTSEQ_HOME.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

pytest.importorskip("lintseq_assets.definitions")

GOOD = "import os\n\n\ndef home():\n    return os.path.expanduser('~')\n\n\nprint(home())"
CANARY = "hf_CanaryTokenThatMustNeverBeWritten0123"
DEEP = 100_000


def fence(code: str) -> str:
    return f"Here is the code:\n\n```python\n{code}\n```\n"


HOSTILE_ROWS = {
    "null_response": None,
    "int_response": 42,
    "list_response": ["x = 1"],
    "nul_bytes": fence("x = 1\x00\x01"),
    "fifty_mb": fence("x = 1\n" * (50 * 1024 * 1024 // 6)),
    "deep_parens": fence("x = " + "(" * DEEP + ")" * DEEP),
    "deep_attributes": fence("x = a" + ".b" * DEEP),
    "prose_only": "I cannot help with that.",
}


def planted(marker: Path, tag: str) -> str:
    return (
        "import pathlib\n\n\n"
        "def plant():\n"
        f"    pathlib.Path({str(marker)!r}).write_text({tag!r})\n\n\n"
        "plant()\n"
    )


PEAK_RSS = (
    "import resource, subprocess, sys\n"
    "code = subprocess.run(sys.argv[1:]).returncode\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.exit(code)\n"
)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile_platform")
    marker = root / "markers" / "ran"
    marker.parent.mkdir()
    with open(root / "hostile.jsonl", "wb") as handle:
        handle.write(json.dumps({"id": "good", "instruction": "Print the home folder.", "response": fence(GOOD)}).encode() + b"\n")
        handle.write(json.dumps({"id": "int_instruction", "instruction": 7, "response": fence("print(1 + 1)")}).encode() + b"\n")
        handle.write(json.dumps({"id": "no_response", "instruction": "x"}).encode() + b"\n")
        for name, response in HOSTILE_ROWS.items():
            handle.write(json.dumps({"id": name, "instruction": "x", "response": response}).encode() + b"\n")
        handle.write(json.dumps({"id": "planted_jsonl", "instruction": "Plant.", "response": fence(planted(marker, "jsonl"))}).encode() + b"\n")
        handle.write(b'{"id": "raw_non_utf8", "instruction": "x", "response": "x = \xff"}\n')
        handle.write(b"\x00\x01 not json\n")
    evil = root / "evil"
    evil.mkdir()
    for name in ("__init__.py", "conftest.py", "sitecustomize.py", "setup.py"):
        (evil / name).write_text(planted(marker, name))
    (root / "sources.yaml").write_text(
        "sources:\n"
        "  - name: hostile\n    loader: jsonl\n    path: hostile.jsonl\n"
        "    columns: {instruction: instruction, response: response, id: id}\n"
        "  - name: planted\n    loader: python\n    path: evil\n",
        encoding="utf-8",
    )
    home = root / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "LINTSEQ_"))}
    env.update(LINTSEQ_HOME=str(home), LINTSEQ_SOURCES=str(root / "sources.yaml"), LINTSEQ_WORKERS="2",
               HF_TOKEN=CANARY, HUGGING_FACE_HUB_TOKEN=CANARY, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    done = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, sys.executable, "-m", "lintseq_assets.cli.main", "materialize", "--samples", "1"],
        capture_output=True, text=True, env=env, cwd=evil, timeout=900,
    )
    peak_mb = int(done.stdout.strip().splitlines()[-1]) // 1024
    return home, marker, done, peak_mb


def query(home: Path, sql: str) -> list[tuple]:
    conn = duckdb.connect(str(home / "lintseq.duckdb"), read_only=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_the_run_succeeds_with_bounded_memory(run):
    _home, _marker, done, peak_mb = run
    assert done.returncode == 0, done.stderr[-3000:]
    # Dagster, DuckDB, GX and two sampling workers, plus the 50 MB answer held while it is
    # refused (about 470 MB measured); holding every row or parsing the 50 MB program would not fit.
    assert peak_mb < 1200, f"peak RSS {peak_mb} MB"


def test_every_bad_record_is_a_reject_with_a_reason(run):
    home, *_ = run
    rejects = {rid.split(":", 1)[1]: reason for rid, reason in query(home, "SELECT record_id, reason FROM rejects WHERE source = 'hostile'")}
    for name in [*HOSTILE_ROWS, "int_instruction", "no_response"]:
        assert name in rejects, (name, rejects)
    assert rejects["nul_bytes"] == "binary" and rejects["prose_only"] == "no_code"
    assert {rejects["null_response"], rejects["no_response"]} == {"missing_field"}
    assert {rejects["int_response"], rejects["list_response"], rejects["int_instruction"]} == {"not_text"}
    assert rejects["fifty_mb"] == "too_long"
    assert rejects["deep_parens"] in ("too_long", "too_deep") and rejects["deep_attributes"] in ("too_long", "too_deep")
    assert sorted(r for r in rejects.values() if r == "malformed_record") == ["malformed_record"] * 2
    assert all(detail for (detail,) in query(home, "SELECT detail FROM rejects"))
    kept = {rid for (rid,) in query(home, "SELECT record_id FROM programs WHERE source = 'hostile'")}
    assert kept == {"hostile:good", "hostile:planted_jsonl"}


def test_planted_programs_were_sampled_and_never_run(run):
    home, marker, _done, _peak = run
    planted = query(home, "SELECT count(DISTINCT p.program_id) FROM programs p JOIN edit_sequences s USING (program_id) "
                          "WHERE p.source = 'planted' OR p.record_id = 'hostile:planted_jsonl'")[0][0]
    assert planted >= 1  # identical plants are deduplicated to one program; it was sampled
    assert not marker.exists() and list(marker.parent.iterdir()) == []


def test_every_check_ran_and_passed(run, monkeypatch):
    """Read the run's check evaluations back from the Dagster instance it wrote under $LINTSEQ_HOME."""
    from dagster import DagsterInstance

    from checks import build_asset_checks

    home, *_ = run
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))  # the instance's dagster.yaml reads it
    keys = [key for check in build_asset_checks() for key in check.check_keys]
    with DagsterInstance.get() as instance:
        records = {key.to_user_string(): instance.get_latest_asset_check_evaluation_record(key) for key in keys}
    assert all(records.values()), [k for k, r in records.items() if r is None]
    failed = {k: r.event.dagster_event.event_specific_data.description for k, r in records.items()
              if not r.event.dagster_event.event_specific_data.passed}
    assert failed == {}


def test_the_token_is_written_nowhere(run):
    home, *_ = run
    leaks = [str(p.relative_to(home)) for p in home.rglob("*") if p.is_file() and CANARY.encode() in p.read_bytes()]
    assert leaks == []
