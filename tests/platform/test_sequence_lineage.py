"""Every edit_sequences row carries its program's provenance, and the shards' data version is a
fingerprint of the sampling result.

Real Dagster (the platform's own instance under a temporary home), real DuckDB file, the small
offline sources of the other platform tests, one sample per program. One module-scoped graph,
re-run as the tests go (they run in file order):

1. a full run (2 workers);
2. an identical re-run, incremental: it samples nothing and reports the same data versions;
3. the local source gains a first line, so its records' `source_row` (and the file's revision)
   move: the skipped programs' rows get the new provenance, and only those rows change;
4. a full re-sample with 1 worker (`incremental: false`): same rows, same data version.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from support.platform import small_check_settings, small_settings, table_snapshot

from lintseq_assets.definitions import build_definitions
from lintseq_assets.platform.runner import materialize_all
from resources.connect import connect_reader

PROVENANCE = ("record_id", "source", "source_revision", "source_row")

# Rows whose provenance is not their program's, or not the source record's.
MISMATCHES = f"""
    SELECT s.sequence_id, {", ".join("s." + c for c in PROVENANCE)},
           {", ".join("p." + c for c in PROVENANCE)}, r.record_id, r.source_revision, r.source_row
    FROM edit_sequences s
    LEFT JOIN programs p USING (program_id)
    LEFT JOIN raw_instructions r ON r.record_id = s.record_id
    WHERE {" OR ".join(f"s.{c} IS DISTINCT FROM p.{c} OR s.{c} IS DISTINCT FROM r.{c}" for c in PROVENANCE)}
       OR r.record_id IS NULL
    ORDER BY s.sequence_id"""


def run(settings, monkeypatch, **sampling):
    checks = replace(small_check_settings(settings), with_gx=False, replay_max_rows=5)  # GX has its own tests
    config = {"ops": {"edit_sequence_shards": {"config": {"samples": 1, "workers": 2, **sampling}}}}
    monkeypatch.setenv("DAGSTER_HOME", str(settings.dagster_home))  # materialize_all points it at the home
    result = materialize_all(build_definitions(settings, checks), settings, config, log=lambda line: None)
    assert result.success, [e.step_key for e in result.all_events if e.is_step_failure]
    return result


def materialized(result, key: str) -> tuple[str, dict]:
    """(data version, metadata values) of the asset's materialization in this run."""
    (event,) = [e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == key]
    materialization = event.event_specific_data.materialization
    return materialization.tags["dagster/data_version"], {k: v.value for k, v in materialization.metadata.items()}


def sequences(settings) -> list[tuple]:
    with connect_reader(settings.warehouse_path) as conn:
        return table_snapshot(conn, "edit_sequences", with_run_id=True)


def columns(settings) -> list[str]:
    with connect_reader(settings.warehouse_path) as conn:
        return [r[0] for r in conn.execute("DESCRIBE edit_sequences").fetchall()]


def mismatches(settings) -> list[tuple]:
    with connect_reader(settings.warehouse_path) as conn:
        return conn.execute(MISMATCHES).fetchall()


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    settings = small_settings(tmp_path_factory.mktemp("lineage_home"), stdlib_limit=3, embedded_limit=4)
    with pytest.MonkeyPatch.context() as monkeypatch:
        first = run(settings, monkeypatch)
        yield settings, monkeypatch, {"first": first}


def test_every_sequence_carries_its_programs_provenance(graph):
    settings, _, runs = graph
    with connect_reader(settings.warehouse_path) as conn:
        by_source = dict(conn.execute("SELECT source, count(*) FROM edit_sequences GROUP BY 1").fetchall())
        missing = conn.execute(f"SELECT count(*) FROM edit_sequences WHERE {' OR '.join(c + ' IS NULL' for c in PROVENANCE)}").fetchone()[0]
    assert set(by_source) == {"stdlib", "embedded", "local"}  # every source reached the sequences
    assert missing == 0
    assert mismatches(settings) == []
    _, meta = materialized(runs["first"], "edit_sequence_shards")
    assert meta["programs_to_sample"] > 0 and meta["sampling_fingerprint"]


def test_identical_rerun_reports_the_same_data_versions(graph):
    settings, monkeypatch, runs = graph
    before = sequences(settings)
    runs["again"] = again = run(settings, monkeypatch)
    version, meta = materialized(again, "edit_sequence_shards")
    assert meta["programs_to_sample"] == 0 and meta["sequences_staged"] == 0  # nothing sampled ...
    assert version == materialized(runs["first"], "edit_sequence_shards")[0]  # ... same result
    assert materialized(again, "edit_sequences")[0] == materialized(runs["first"], "edit_sequences")[0]
    assert materialized(again, "edit_sequences")[1]["provenance_refreshed"] == 0
    assert sequences(settings) == before  # not even run_id moved


def test_moved_source_rows_refresh_the_skipped_programs_provenance(graph):
    settings, monkeypatch, runs = graph
    cols = columns(settings)
    rows = {r[cols.index("sequence_id")]: dict(zip(cols, r, strict=True)) for r in sequences(settings)}
    local = settings.home / "local.jsonl"
    # A first line every later record shifts under (too short to become a program itself).
    local.write_text(json.dumps({"id": "new-first", "question": "q", "answer": "x = 1"}) + "\n" + local.read_text(encoding="utf-8"), encoding="utf-8")

    runs["moved"] = moved = run(settings, monkeypatch)
    shards_version, shards_meta = materialized(moved, "edit_sequence_shards")
    assert shards_meta["programs_to_sample"] == 0  # the programs are the same: nothing is re-sampled
    assert shards_version != materialized(runs["first"], "edit_sequence_shards")[0]  # but their provenance moved
    assert mismatches(settings) == []
    after = {r[cols.index("sequence_id")]: dict(zip(cols, r, strict=True)) for r in sequences(settings)}
    assert after.keys() == rows.keys()
    changed = {sid for sid in rows if rows[sid] != after[sid]}
    assert changed == {sid for sid, row in rows.items() if row["source"] == "local"} and changed
    moved_columns = ("source_row", "source_revision", "run_id")  # a local file's revision is its content hash
    for sid in changed:
        old, new = rows[sid], after[sid]
        assert new["source_row"] == old["source_row"] + 1 and new["run_id"] == moved.run_id
        assert new["source_revision"] != old["source_revision"]
        assert {k: v for k, v in new.items() if k not in moved_columns} == {k: v for k, v in old.items() if k not in moved_columns}
    assert materialized(moved, "edit_sequences")[1]["provenance_refreshed"] == len(changed)


def test_full_resample_on_one_worker_is_the_same_result(graph):
    settings, monkeypatch, runs = graph
    before = sequences(settings)
    full = run(settings, monkeypatch, incremental=False, workers=1)
    version, meta = materialized(full, "edit_sequence_shards")
    assert meta["programs_skipped"] == 0 and meta["programs_to_sample"] == meta["programs_in"] > 0
    assert version == materialized(runs["moved"], "edit_sequence_shards")[0]
    assert sequences(settings) == before  # byte-identical rows: the merge finds nothing to change


def test_lineage_shows_where_a_sequence_was_sampled_from(tmp_path):
    """`trace`/`render` on a hand-made warehouse: the sequence's own record first, and a note on
    sequences whose recorded provenance is not the record shown."""
    from lintseq_assets.lineage.provenance import warehouse_lineage
    from lintseq_assets.lineage.trace import render, trace
    from resources.connect import connect_writer

    conn = connect_writer(tmp_path / "w.duckdb")
    conn.execute(
        """INSERT INTO raw_instructions (record_id, source, source_revision, source_row, run_id) VALUES
           ('a:1', 'a', 'r2', 5, 'run-a'), ('b:7', 'b', 'r9', 7, 'run-b')"""
    )
    conn.execute("INSERT INTO programs (program_id, record_id, source, source_revision, source_row, program, n_lines, run_id) VALUES ('p', 'a:1', 'a', 'r2', 5, 'x = 1', 1, 'run-p')")
    conn.execute(
        """INSERT INTO edit_sequences (sequence_id, program_id, sample_index, seed, config_hash, n_edits, edit_path,
                                       record_id, source, source_revision, source_row, run_id) VALUES
           ('s0', 'p', 0, 1, 'c1', 1, ['@@ -0,0 +1 @@'], 'a:1', 'a', 'r2', 5, 'run-s'),
           ('s1', 'p', 0, 1, 'c0', 1, ['@@ -0,0 +1 @@'], 'b:7', 'b', 'r9', 7, 'run-old'),
           ('s2', 'p', 1, 2, 'c0', 1, ['@@ -0,0 +1 @@'], NULL, NULL, NULL, NULL, 'run-older')"""
    )
    try:
        by_program = render(trace(conn, tmp_path / "exports", "p"))
        by_old_sequence = render(trace(conn, tmp_path / "exports", "s1"))
        manifest = warehouse_lineage(conn, "c0", tmp_path / "w.duckdb", "run-x")
    finally:
        conn.close()
    lines = by_program.splitlines()
    assert lines[0] == "source record  a:1" and "sequences      3" in lines
    note_s1 = lines[lines.index(next(line for line in lines if line.startswith("  s1"))) + 1]
    assert note_s1.strip() == "sampled from record b:7  source b  revision r9  row 7"
    assert "provenance not recorded" in by_program and by_program.count("sampled from") == 1  # s0 matches: no note
    old = by_old_sequence.splitlines()
    assert old[0] == "source record  b:7" and old[1].startswith("  source b  revision r9  row 7")
    assert "now kept from record a:1" in old[2] and "sampled from" not in by_old_sequence
    assert manifest["sampled_from"] == [{"source": "b", "revision": "r9", "programs": 1, "sequences": 1},
                                        {"source": None, "revision": None, "programs": 1, "sequences": 1}]
