"""`lintseq sample` / `lintseq verify` as a user runs them: real files, real subprocesses."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from support.corpus import stdlib_modules

LINTSEQ = [sys.executable, "-m", "lintseq_assets.cli.main"]


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([*LINTSEQ, *map(str, args)], capture_output=True, text=True, check=check)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def records() -> list[dict]:
    rows = [{"id": p.name, "program": p.read_text(encoding="utf-8")} for p in stdlib_modules(lo=30, hi=250, limit=12)]
    rows += [
        {"id": "syntax", "program": "def f(:\n    pass"},
        {"id": "empty", "program": "   \n\n"},
        {"id": "binary", "program": "x = 1\x00\x01"},
        {"id": "null", "program": None},
        {"id": "number", "program": 42},
        {"id": "prose", "program": "hello"},
        {"id": "deep", "program": "x = " + "(" * 5000 + ")" * 5000},
        {"id": "long", "program": "x = 1\n" * 20_001},
        {"id": "missing"},
    ]
    return rows


EXPECTED_REJECTS = {
    "syntax": "syntax_error",
    "empty": "empty",
    "binary": "binary",
    "null": "not_text",
    "number": "not_text",
    "prose": "not_python",
    "deep": "too_deep",
    "long": "too_long",
    "missing": "missing_field",
}


def write_inputs(tmp_path: Path, rows: list[dict]) -> dict[str, Path]:
    jsonl = tmp_path / "in.jsonl"
    with open(jsonl, "w") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")
        handle.write("{not json\n")
    parquet = tmp_path / "in.parquet"
    good = [r for r in rows if isinstance(r.get("program"), str)]
    pq.write_table(pa.table({"id": [r["id"] for r in good], "program": [r["program"] for r in good]}), parquet)
    folder = tmp_path / "folder"
    (folder / "pkg").mkdir(parents=True)
    for row in good[:5]:
        (folder / "pkg" / row["id"]).write_text(row["program"])
    (folder / "broken.py").write_bytes(b"\xff\xfe not utf-8")
    return {"jsonl": jsonl, "parquet": parquet, "folder": folder}


def test_sample_jsonl_records_every_reject_with_a_reason_and_exits_0(tmp_path, records):
    inputs = write_inputs(tmp_path, records)
    out = tmp_path / "out.jsonl"
    result = run("sample", inputs["jsonl"], "-o", out, "-s", "2", "-j", "2")
    assert "accepted 12 programs (24 sequences), rejected 10" in result.stderr
    rejects = {r["id"]: r for r in read_jsonl(tmp_path / "out.rejects.jsonl")}
    for record_id, reason in EXPECTED_REJECTS.items():
        assert rejects[record_id]["reason"] == reason, rejects[record_id]
        assert rejects[record_id]["detail"]
    assert rejects["row-21"]["reason"] == "malformed_record"
    rows = read_jsonl(out)
    assert {r["id"] for r in rows} == {r["id"] for r in records[:12]}
    assert all(set(r) >= {"id", "sample", "edit_path", "sequence_id", "config_hash", "seed"} for r in rows)
    verified = run("verify", inputs["jsonl"], out)
    assert "24 ok, 0 failed" in verified.stdout


def test_parquet_and_folder_inputs(tmp_path, records):
    inputs = write_inputs(tmp_path, records)
    run("sample", inputs["parquet"], "-o", tmp_path / "p.jsonl")
    assert len(read_jsonl(tmp_path / "p.jsonl")) == 12
    run("sample", inputs["folder"], "-o", tmp_path / "f.jsonl", "--rejects", tmp_path / "f-rejects.jsonl")
    assert sorted(r["id"] for r in read_jsonl(tmp_path / "f.jsonl")) == sorted(f"pkg/{r['id']}" for r in records[:5])
    assert read_jsonl(tmp_path / "f-rejects.jsonl") == [
        {"id": "broken.py", "reason": "not_text", "detail": "bytes that are not UTF-8 (invalid start byte at byte 0)"}
    ]
    assert "5 ok, 0 failed" in run("verify", inputs["folder"], tmp_path / "f.jsonl").stdout


def test_output_is_byte_identical_across_worker_counts_and_input_order(tmp_path, records):
    good = records[:12]
    inputs = write_inputs(tmp_path, good)
    run("sample", inputs["jsonl"], "-o", tmp_path / "j1.jsonl", "-s", "3", "-j", "1")
    run("sample", inputs["jsonl"], "-o", tmp_path / "j3.jsonl", "-s", "3", "-j", "3")
    assert (tmp_path / "j1.jsonl").read_bytes() == (tmp_path / "j3.jsonl").read_bytes()
    shuffled = good[:]
    random.Random(5).shuffle(shuffled)
    (tmp_path / "s").mkdir()
    inputs2 = write_inputs(tmp_path / "s", shuffled)
    run("sample", inputs2["jsonl"], "-o", tmp_path / "shuffled.jsonl", "-s", "3", "-j", "2")
    key = lambda r: (r["id"], r["sample"])  # noqa: E731
    assert sorted(read_jsonl(tmp_path / "shuffled.jsonl"), key=key) == sorted(read_jsonl(tmp_path / "j1.jsonl"), key=key)


def test_verify_catches_a_tampered_path(tmp_path, records):
    inputs = write_inputs(tmp_path, records[:3])
    out = tmp_path / "out.jsonl"
    run("sample", inputs["jsonl"], "-o", out)
    rows = read_jsonl(out)
    rows[0]["edit_path"][-1] = rows[0]["edit_path"][-1].replace("+", "-", 1)
    rows[1]["edit_path"] = rows[1]["edit_path"][1:]
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = run("verify", inputs["jsonl"], out, check=False)
    assert result.returncode == 1
    assert "1 ok, 2 failed" in result.stdout


def test_input_code_is_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    program = f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\nraise SystemExit(3)\n"
    (tmp_path / "evil").mkdir()
    (tmp_path / "evil" / "evil.py").write_text(program)
    run("sample", tmp_path / "evil", "-o", tmp_path / "out.jsonl", "-s", "3", "-j", "2")
    assert len(read_jsonl(tmp_path / "out.jsonl")) == 3
    assert not marker.exists()
