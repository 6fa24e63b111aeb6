"""`training_exports` has a data version, like every other asset: the hash of what a trainer
reads (lintseq_assets.exports.manifest.content_version), so Dagster can tell a new export from
the same one written again."""

from __future__ import annotations

from lintseq_assets.exports.manifest import content_version


def test_training_exports_reports_a_data_version(small_graph):
    settings, _, result = small_graph
    events = [e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == "training_exports"]
    assert len(events) == 1
    materialization = events[0].event_specific_data.materialization
    version = materialization.tags.get("dagster/data_version")
    assert version, materialization.tags
    assert version == content_version(settings.exports_dir / "default" / "manifest.json")
