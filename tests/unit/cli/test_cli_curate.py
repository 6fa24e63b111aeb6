"""`lintseq curate`: raw answers in, programs (ready for `lintseq sample`) and rejects out."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

LINTSEQ = [sys.executable, "-m", "lintseq_assets.cli.main"]
EMBEDDED = Path(__file__).resolve().parents[3] / "lintseq_assets" / "data" / "instructions.yaml"


def _records() -> list[dict]:
    document = yaml.safe_load(EMBEDDED.read_text(encoding="utf-8"))
    return next(iter(document.values())) if isinstance(document, dict) else document


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_every_record_is_kept_or_rejected_and_the_programs_sample(tmp_path):
    records = _records()
    source = tmp_path / "answers.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in records) + "{broken json\n", encoding="utf-8")
    out = tmp_path / "programs.jsonl"
    done = subprocess.run([*LINTSEQ, "curate", str(source), "-o", str(out), "--id-field", "id", "-q"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    programs, rejects = _jsonl(out), _jsonl(tmp_path / "programs.rejects.jsonl")
    assert len(programs) + len(rejects) == len(records) + 1  # the broken line is a reject too
    assert {r["reason"] for r in rejects} >= {"no_code"} and any(r["stage"] == "ingest" for r in rejects)
    assert all(p["program"].strip() and p["id"].startswith("local:") for p in programs)

    sequences = tmp_path / "sequences.jsonl"
    sampled = subprocess.run([*LINTSEQ, "sample", str(out), "-o", str(sequences), "-q"], capture_output=True, text=True)
    assert sampled.returncode == 0, sampled.stderr
    verified = subprocess.run([*LINTSEQ, "verify", str(out), str(sequences)], capture_output=True, text=True)
    assert verified.returncode == 0, verified.stdout[-2000:]


def test_settings_change_the_funnel(tmp_path):
    source = tmp_path / "answers.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in _records()), encoding="utf-8")
    counts = {}
    for label, extra in (("default", []), ("strict", ["--setting", "min_statements=30"])):
        out = tmp_path / f"{label}.jsonl"
        done = subprocess.run([*LINTSEQ, "curate", str(source), "-o", str(out), "--id-field", "id", "-q", *extra], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        counts[label] = len(_jsonl(out))
    assert counts["strict"] < counts["default"]


def test_mistakes_are_one_line_and_exit_2(tmp_path):
    source = tmp_path / "answers.jsonl"
    source.write_text(json.dumps({"instruction": "x", "response": "x = 1"}) + "\n", encoding="utf-8")
    cases = [
        [str(tmp_path / "missing.jsonl"), "-o", str(tmp_path / "out.jsonl")],
        [str(source), "-o", str(source)],
        [str(source), "-o", str(tmp_path / "out.jsonl"), "--setting", "no_such_setting=1"],
        [str(tmp_path / "notes.txt"), "-o", str(tmp_path / "out.jsonl")],
    ]
    (tmp_path / "notes.txt").write_text("hello", encoding="utf-8")
    for args in cases:
        done = subprocess.run([*LINTSEQ, "curate", *args], capture_output=True, text=True)
        assert done.returncode == 2, (args, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith("lintseq curate: "), done.stderr
    assert source.read_text(encoding="utf-8").startswith("{")  # never overwritten
