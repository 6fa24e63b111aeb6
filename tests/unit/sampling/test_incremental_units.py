"""The drop-folder rules, the hub check and the sampling plan on their own (no Dagster, no network)."""

from __future__ import annotations

import tracemalloc

import yaml

from lintseq_assets.runtime.staging import read_partition
from lintseq_assets.sampling.plan import (
    SKIPS_TABLE,
    SamplingFingerprint,
    plan_sampling,
    provenance_refresh,
)
from lintseq_assets.sources.dropfolder import content_hash, register_drop, scan_incoming
from lintseq_assets.sources.hub_revisions import check_hub_sources
from lintseq_assets.sources.spec import SourceSpec, load_sources
from resources.connect import connect_reader, connect_writer
from resources.merge import merge


def test_folder_drop_is_one_python_source_with_a_stable_hash(tmp_path):
    incoming = tmp_path / "incoming"
    (incoming / "pkg" / "sub").mkdir(parents=True)
    (incoming / "pkg" / "a.py").write_text("x = 1\n")
    (incoming / "pkg" / "sub" / "b.py").write_text("y = 2\n")
    (incoming / "notes.txt").write_text("not a source")
    (incoming / ".hidden.jsonl").write_text("{}\n")
    (incoming / "big.jsonl.part").write_text("{")
    items = scan_incoming(incoming, settle_seconds=0)
    assert [(i.path.name, i.loader) for i in items] == [("pkg", "python")]
    before = items[0].content_hash
    assert content_hash(incoming / "pkg") == before
    (incoming / "pkg" / "sub" / "b.py").write_text("y = 3\n")
    assert content_hash(incoming / "pkg") != before


def test_marker_columns_reach_the_sources_file(tmp_path):
    drop = tmp_path / "qa.jsonl"
    drop.write_text('{"q": "Add.", "a": "x = 1"}\n')
    (tmp_path / "qa.jsonl.done").write_text(yaml.safe_dump({"columns": {"instruction": "q", "response": "a"}}))
    (item,) = scan_incoming(tmp_path, settle_seconds=3600)  # the marker makes it ready at once
    (spec,) = load_sources(register_drop(item, tmp_path / "drops"))
    assert spec.name == item.source_name and spec.loader == "jsonl" and spec.columns.instruction == "q"


def test_hub_check_offline_and_without_hub_sources():
    hub = SourceSpec(name="h", loader="hub", dataset="someone/data")
    offline = check_hub_sources([hub], {})
    assert offline.offline and offline.unreachable[0][0] == "h" and not offline.changed
    assert not check_hub_sources([SourceSpec(name="s", loader="stdlib")], {}).offline


# --- the sampling plan, on a real DuckDB file (no Dagster) -----------------------------------

def _warehouse(path, n_programs: int, text_lines: int = 3):
    """`n_programs` programs (ids p0000.., inserted in reverse order), p0000-p0003 with ledger rows:
    p0000 sampled (2 sequences), p0001 sampled but one sequence gone, p0002 refused by the engine,
    p0003 sampled with another sample count."""
    conn = connect_writer(path)
    conn.execute(
        f"""INSERT INTO programs (program_id, record_id, source, source_revision, source_row, program, n_lines)
            SELECT printf('p%04d', i), 'src:' || i, 'src', 'rev1', i, repeat('x_' || i || ' = ' || i || chr(10), {text_lines}), {text_lines}
            FROM range({n_programs}) r(i) ORDER BY i DESC"""
    )
    conn.execute(
        """INSERT INTO sampling_ledger VALUES ('p0000', 'cfg', 0, 2, 'sampled', 'r0'), ('p0001', 'cfg', 0, 2, 'sampled', 'r0'),
                                              ('p0002', 'cfg', 0, 2, 'too_long', 'r0'), ('p0003', 'cfg', 0, 3, 'sampled', 'r0')"""
    )
    conn.execute(
        """INSERT INTO edit_sequences (sequence_id, program_id, sample_index, seed, config_hash, n_edits, edit_path,
                                       record_id, source, source_revision, source_row, run_id)
           SELECT 's' || p || k, p, k, k, 'cfg', 1, ['@@ -0,0 +1 @@'], 'src:' || right(p, 1)::INT, 'src', 'rev0', right(p, 1)::INT, 'r0'
           FROM (VALUES ('p0000', 0), ('p0000', 1), ('p0001', 0), ('p0003', 0), ('p0003', 1), ('p0003', 2)) v(p, k)"""
    )
    conn.close()


def test_plan_splits_done_from_todo_in_program_id_order(tmp_path):
    db, staging = tmp_path / "w.duckdb", tmp_path / "staging"
    _warehouse(db, 6)
    with connect_reader(db) as conn:
        plan = plan_sampling(conn, staging, "cfg", 2, 0)
        full = plan_sampling(conn, tmp_path / "full", "cfg", 2, 0, incremental=False)
        other_seed = plan_sampling(conn, tmp_path / "seed", "cfg", 2, 1)
    todo = list(plan.todo(batch_rows=2))
    assert [r.program_id for r in todo] == ["p0001", "p0003", "p0004", "p0005"]  # ordered, whatever the insert order
    assert todo[0] == ("p0001", "src:1", "src", "rev1", 1, "x_1 = 1\n" * 3)
    assert plan.n_todo == 4 and plan.skipped == 2
    kept = read_partition(staging, SKIPS_TABLE, "cfg")
    with connect_reader(db) as conn:
        staged = conn.execute(f"SELECT * FROM read_parquet('{kept.shards[0]}')").fetchall()
    assert staged == [("p0000", "src:0", "src", "rev1", 0, "sampled"), ("p0002", "src:2", "src", "rev1", 2, "too_long")]
    assert [r.program_id for r in full.todo()] == [f"p{i:04d}" for i in range(6)] and full.skipped == 0
    assert other_seed.skipped == 0
    plan.discard()
    assert not plan.todo_dir.exists() and kept.shards[0].exists()  # the scratch goes, the staged skips stay


def test_fingerprint_is_the_same_for_a_full_and_an_incremental_plan(tmp_path):
    """A plan's fingerprint plus the outcomes of its todo programs: equal whatever was skipped."""
    db = tmp_path / "w.duckdb"
    _warehouse(db, 6)
    outcomes = {"p0000": "sampled", "p0002": "too_long"} | {f"p{i:04d}": "sampled" for i in (1, 3, 4, 5)}
    digests = []
    with connect_reader(db) as conn:
        for name, incremental in (("inc", True), ("full", False)):
            plan = plan_sampling(conn, tmp_path / name, "cfg", 2, 0, incremental=incremental)
            for row in reversed(list(plan.todo())):  # order does not matter either
                plan.fingerprint.add(*row[:5], outcomes[row.program_id])
            digests.append(plan.fingerprint.hexdigest())
    assert digests[0] == digests[1]
    other = SamplingFingerprint("cfg", 2, 0)
    for pid, outcome in outcomes.items():
        i = int(pid[1:])
        other.add(pid, f"src:{i}", "src", "rev1", i + (pid == "p0005"), outcome)  # one row moved
    assert other.hexdigest() != digests[0]


def test_provenance_refresh_updates_only_moved_skipped_rows(tmp_path):
    db, staging = tmp_path / "w.duckdb", tmp_path / "staging"
    _warehouse(db, 6)
    with connect_reader(db) as conn:
        plan = plan_sampling(conn, staging, "cfg", 2, 0)
    conn = connect_writer(db)
    try:
        stats = merge(conn, "edit_sequences", provenance_refresh(plan.kept, "cfg"), run_id="r1")
        rows = conn.execute("SELECT sequence_id, source_revision, run_id, edit_path FROM edit_sequences ORDER BY 1").fetchall()
        again = merge(conn, "edit_sequences", provenance_refresh(plan.kept, "cfg"), run_id="r2")
    finally:
        conn.close()
    # p0000's two rows were sampled from rev0, and the program is kept now from rev1: refreshed.
    # p0001 and p0003 are not skipped (they are re-sampled), so the refresh leaves them alone.
    assert (stats.updated, stats.inserted, stats.deleted) == (2, 0, 0) and again.updated == 0
    assert [r[:3] for r in rows if r[2] == "r1"] == [("sp00000", "rev1", "r1"), ("sp00001", "rev1", "r1")]
    assert all(r[3] == ["@@ -0,0 +1 @@"] for r in rows)


def test_plan_holds_no_program_text_in_python(tmp_path):
    """20K programs of about 2 KB: the plan and a full pass over it stay far below the text's size."""
    db = tmp_path / "w.duckdb"
    _warehouse(db, 20_000, text_lines=150)
    with connect_reader(db) as conn:
        text = conn.execute("SELECT sum(length(program)) FROM programs").fetchone()[0]
        tracemalloc.start()
        try:
            plan = plan_sampling(conn, tmp_path / "staging", "cfg", 2, 0)
            seen = sum(len(row.program) for row in plan.todo())
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert seen > 0.99 * text > 40_000_000
    assert peak < 4_000_000, peak  # the whole todo list of before held all of it (and more)
