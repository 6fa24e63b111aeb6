"""One curation funnel: the function `lintseq curate` runs gives what the two curation assets
(`source_programs` per partition, `programs` globally) loaded into the warehouse."""

from __future__ import annotations

from lintseq_assets.curation import CurationSettings, curate_programs
from lintseq_assets.platform.run_config import last_run_settings
from resources.connect import connect_reader

CURATION_STAGES = ("extract", "filter", "decontaminate", "dedup_exact", "dedup_near")


def test_curate_programs_on_the_raw_table_equals_the_assets(small_graph):
    settings, instance, result = small_graph
    assert result.success
    curation = CurationSettings.from_dict(last_run_settings(instance, "programs")["curation"])
    with connect_reader(settings.warehouse_path) as conn:
        raw = conn.sql("SELECT record_id, source, source_revision, source_row, instruction, response FROM raw_instructions").pl()
        kept = {row[0] for row in conn.execute("SELECT record_id FROM programs").fetchall()}
        rejected = set(conn.execute(
            f"SELECT record_id, stage, reason FROM rejects WHERE stage IN {CURATION_STAGES}").fetchall())
    assert kept and rejected, "the small source set should both keep and reject records"

    funnel = curate_programs(raw, curation)

    assert set(funnel.programs["record_id"].to_list()) == kept
    assert {(r["record_id"], r["stage"], r["reason"]) for r in funnel.rejects.iter_rows(named=True)} == rejected
