"""The drop-folder rules and the hub check on their own (no Dagster, no network)."""

from __future__ import annotations

import yaml

from lintseq_assets.dropfolder import content_hash, register_drop, scan_incoming
from lintseq_assets.hub_revisions import check_hub_sources
from lintseq_assets.sources import SourceSpec, load_sources


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
