"""Hostile input: every bad record becomes a reject with a reason, the run exits 0, and memory
stays bounded (peak RSS measured in a subprocess; no timing assertions).

Covers None, numbers, lists, binary blobs, NUL bytes, non-UTF-8 bytes, a 50 MB row,
100 000-deep nesting of several kinds, a line that is not JSON and a record without the
program field, through `sample_many` (what the assets call) and `lintseq sample` (the CLI).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lintseq_assets.core import verify_edit_path
from lintseq_assets.sampling.batch import ProgramInput, sample_many

DEEP = 100_000
FIFTY_MB = 50 * 1024 * 1024
GOOD = "import os\n\n\ndef home():\n    return os.path.expanduser('~')\n\n\nprint(home())\n"

HOSTILE: dict[str, tuple[object, str]] = {
    "none": (None, "not_text"),
    "int": (42, "not_text"),
    "float": (1.5, "not_text"),
    "list": (["x = 1"], "not_text"),
    "blob": (bytes(range(256)) * 64, "not_text"),
    "nul_bytes": ("x = 1\x00\x00\x01", "binary"),
    "non_utf8": (b"x = '\xff\xfe\xfd'\n", "not_text"),
    "fifty_mb": ("x = 1\n" * (FIFTY_MB // 6), "too_long"),
    "parens": ("(" * DEEP + ")" * DEEP, "too_deep"),
    "brackets": ("x = " + "[" * DEEP + "]" * DEEP, "too_deep"),
    "unary": ("x = " + "-" * DEEP + "1", "too_deep"),
    "attributes": ("x = a" + ".b" * DEEP, "too_deep"),
    "calls": ("x = f" + "()" * DEEP, "too_deep"),
    "empty": ("\n \n", "empty"),
    "prose": ("hello world", "syntax_error"),
}


def test_sample_many_turns_every_hostile_value_into_a_reject():
    items = [ProgramInput("good-first", GOOD)]
    items += [ProgramInput(name, value) for name, (value, _) in HOSTILE.items()]
    items += [ProgramInput("good-last", GOOD)]
    results = list(sample_many(items, samples=2, chunk_size=4))
    assert [r.record_id for r in results] == [i.record_id for i in items]  # nothing lost, order kept
    by_id = {r.record_id: r for r in results}
    for name, (_, reason) in HOSTILE.items():
        result = by_id[name]
        assert result.rejected and not result.sequences, name
        assert result.reject_reason == reason, (name, result.reject_reason, result.reject_detail)
        assert result.reject_detail and len(result.reject_detail) < 500, name  # a reason, not the payload
    for name in ("good-first", "good-last"):
        result = by_id[name]
        assert not result.rejected and len(result.sequences) == 2
        assert all(verify_edit_path(GOOD, s.edit_path).ok for s in result.sequences)


PEAK_RSS = (
    "import resource, subprocess, sys\n"
    "code = subprocess.run(sys.argv[1:]).returncode\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.exit(code)\n"
)


def run_measured(args: list[str]) -> tuple[int, int, str]:
    """(exit code, peak RSS in MB of the command and its workers, stderr)."""
    done = subprocess.run([sys.executable, "-c", PEAK_RSS, *args], capture_output=True, text=True, timeout=600)
    return done.returncode, int(done.stdout.strip().splitlines()[-1]) // 1024, done.stderr


@pytest.fixture(scope="module")
def hostile_jsonl(tmp_path_factory) -> Path:
    """One JSONL file: every JSON-representable hostile value, plus raw bytes and broken lines."""
    path = tmp_path_factory.mktemp("hostile") / "hostile.jsonl"
    with open(path, "wb") as handle:
        handle.write(json.dumps({"id": "good-first", "program": GOOD}).encode() + b"\n")
        for name, (value, _) in HOSTILE.items():
            if isinstance(value, bytes):
                continue  # bytes cannot be JSON values: see the raw lines below and the Parquet test
            handle.write(json.dumps({"id": name, "program": value}).encode() + b"\n")
        handle.write(b'{"id": "raw_non_utf8", "program": "x = \xff\xfe"}\n')  # not UTF-8: not JSON
        handle.write(b"\x00\x01\x02 binary garbage line\n")
        handle.write(b'{"id": "no_program", "code": "x = 1"}\n')
        handle.write(b'["not", "an", "object"]\n')
        handle.write(json.dumps({"id": "good-last", "program": GOOD}).encode() + b"\n")
    return path


def test_cli_rejects_hostile_jsonl_exits_0_with_bounded_memory(hostile_jsonl, tmp_path):
    out = tmp_path / "out.jsonl"
    rejects = tmp_path / "rejects.jsonl"
    code, peak_mb, stderr = run_measured(
        [sys.executable, "-m", "lintseq_assets.cli.main", "sample", str(hostile_jsonl), "-o", str(out),
         "--rejects", str(rejects), "-s", "2", "-j", "2", "-q"]
    )
    assert code == 0, stderr
    accepted = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert sorted({row["id"] for row in accepted}) == ["good-first", "good-last"]
    reasons = {}
    for line in rejects.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        reasons[row["id"]] = row["reason"]
        assert row["detail"] and len(row["detail"]) < 1000
    expected = {name: reason for name, (value, reason) in HOSTILE.items() if not isinstance(value, bytes)}
    for name, reason in expected.items():
        assert reasons.get(name) == reason, (name, reasons.get(name))
    assert reasons.get("no_program") == "missing_field"
    assert list(reasons.values()).count("malformed_record") == 3  # raw non-UTF-8, binary line, JSON array
    # Peak covers the CLI and its worker processes (about 190 MB measured: Python and its
    # imports, plus the 50 MB row as bytes and as text). A reader that kept every row, or a
    # parse of the 50 MB program, would go far past the bound.
    assert peak_mb < 450, f"peak RSS {peak_mb} MB"


def test_cli_rejects_binary_and_wrongly_typed_parquet_columns(tmp_path):
    path = tmp_path / "hostile.parquet"
    table = pa.table({
        "id": ["good", "blob", "non_utf8", "nul", "null"],
        "program": pa.array([GOOD.encode(), bytes(range(256)), b"x = '\xff'", b"x = 1\x00", None], type=pa.binary()),
    })
    pq.write_table(table, path)
    out = tmp_path / "out.jsonl"
    code, peak_mb, stderr = run_measured(
        [sys.executable, "-m", "lintseq_assets.cli.main", "sample", str(path), "-o", str(out), "-q"]
    )
    assert code == 0, stderr
    rejects = {json.loads(x)["id"]: json.loads(x)["reason"] for x in (tmp_path / "out.rejects.jsonl").read_text().splitlines()}
    assert rejects == {"blob": "not_text", "non_utf8": "not_text", "nul": "binary", "null": "not_text"}
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == ["good"]
    assert peak_mb < 450, f"peak RSS {peak_mb} MB"
