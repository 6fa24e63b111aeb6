"""A source that cannot be read fails its partition, in one line, and keeps the rows it loaded
before (issue 14: it logged a WARNING, then `partition mine: ok`, and exit 0)."""

from __future__ import annotations

import json

from dagster import DagsterInstance
from support.platform import small_check_settings

from lintseq_assets.definitions import build_definitions
from lintseq_assets.platform.jobs import SOURCE_JOB
from lintseq_assets.platform.partitions import register_sources
from lintseq_assets.platform.runner import failure_reason
from lintseq_assets.runtime.environment import load_settings
from resources.connect import connect_reader


def test_unreadable_source_fails_its_partition_and_keeps_earlier_rows(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    data = home / "mine.jsonl"
    data.write_text("".join(json.dumps({"instruction": f"q{i}", "response": f"x = {i}\ny = x\nprint(y)\n"}) + "\n" for i in range(4)), encoding="utf-8")
    sources = home / "sources.yaml"
    sources.write_text("sources:\n  - name: mine\n    loader: jsonl\n    path: mine.jsonl\n", encoding="utf-8")
    settings = load_settings({"LINTSEQ_HOME": str(home), "LINTSEQ_SOURCES": str(sources), "LINTSEQ_WORKERS": "1"})
    defs = build_definitions(settings, small_check_settings(settings))
    job = defs.resolve_job_def(SOURCE_JOB)
    instance = DagsterInstance.ephemeral()
    assert register_sources(instance, home, sources) == ["mine"]

    first = job.execute_in_process(instance=instance, partition_key="mine", raise_on_error=False)
    assert first.success
    data.unlink()  # the file goes away (or the hub goes offline)
    second = job.execute_in_process(instance=instance, partition_key="mine", raise_on_error=False)

    assert not second.success
    reason = failure_reason(second)
    assert reason.startswith("raw_instructions: source 'mine' cannot be read:") and str(data) in reason and "\n" not in reason
    with connect_reader(settings.warehouse_path) as conn:
        assert conn.execute("SELECT count(*) FROM raw_instructions WHERE source = 'mine'").fetchone()[0] == 4
        assert conn.execute("SELECT reason FROM rejects WHERE source = 'mine' AND stage = 'ingest'").fetchall() == [("source_unavailable",)]
