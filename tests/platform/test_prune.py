"""`lintseq sources prune`: a source removed from sources.yaml keeps its rows, files and
partition until pruned (and summaries say so); pruning removes them through the loader, after
a confirmation, with a dry run first."""

from __future__ import annotations

import io

import yaml
from support.platform import small_settings

from lintseq_assets.cli.main import main
from lintseq_assets.platform.instance import platform_instance
from lintseq_assets.platform.progress import set_console
from resources.connect import connect_reader

TABLES = ("raw_instructions", "candidates", "programs", "rejects", "edit_sequences")


def _rows(settings, source: str) -> dict[str, int]:
    with connect_reader(settings.warehouse_path) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t} WHERE source = ?", [source]).fetchone()[0] for t in TABLES}


def test_a_removed_source_is_named_in_the_summary_and_pruned_after_confirmation(tmp_path, monkeypatch, capsys):
    settings = small_settings(tmp_path / "home", stdlib_limit=3, embedded_limit=4)
    for name, value in (("LINTSEQ_HOME", settings.home), ("LINTSEQ_SOURCES", settings.sources_file),
                        ("LINTSEQ_WORKERS", "2"), ("DAGSTER_HOME", settings.dagster_home)):
        monkeypatch.setenv(name, str(value))
    try:
        assert main(["materialize", "-s", "1"]) == 0
    finally:
        set_console(None)
    first = capsys.readouterr()
    assert "No longer configured" not in first.out
    # lintseq materialize shows where it is (issue 14, "Progress"): stage lines and sampling's progress.
    for line in ("lintseq: raw_instructions[local]: started", "lintseq: edit_sequence_shards: started (programs_to_sample=",
                 "lintseq: sampling: ", "lintseq: training_exports: done in "):
        assert line in first.err, (line, first.err[-3000:])
    local = _rows(settings, "local")
    assert local["raw_instructions"] and local["edit_sequences"]

    # The user removes `local` from sources.yaml; the next run says it is still there.
    document = yaml.safe_load(settings.sources_file.read_text())
    document["sources"] = [s for s in document["sources"] if s["name"] != "local"]
    settings.sources_file.write_text(yaml.safe_dump(document))
    try:
        assert main(["materialize", "-s", "1", "-v"]) == 0
    finally:
        set_console(None)
    second = capsys.readouterr()
    summary = second.out
    # -v shows Dagster's step logs, which carry the progress lines: each is printed once, not twice.
    assert second.err.count("edit_sequence_shards: started") == 1, second.err[-3000:]
    assert "No longer configured" in summary and "local (" in summary and "lintseq sources prune" in summary

    staged = [p for p in settings.staging_dir.rglob("*") if p.is_dir() and p.name in ("local", "raw_instructions-local", "source_programs-local")]
    assert staged and (settings.home / "partitions" / "local.yaml").is_file()

    # A dry run lists what goes and removes nothing.
    assert main(["sources", "prune", "--dry-run"]) == 0
    listed = capsys.readouterr().out
    assert "source 'local'" in listed and f"raw_instructions {local['raw_instructions']:,}" in listed and "dry run" in listed
    assert _rows(settings, "local") == local

    # Without a terminal and without --yes it refuses; a "no" keeps everything.
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["sources", "prune"]) == 1
    assert _rows(settings, "local") == local
    monkeypatch.setattr("sys.stdin", type("Tty", (io.StringIO,), {"isatty": lambda self: True})("n\n"))
    assert main(["sources", "prune"]) == 1
    assert _rows(settings, "local") == local
    # A configured source is refused.
    assert main(["sources", "prune", "stdlib", "--yes"]) == 2

    monkeypatch.setattr("sys.stdin", type("Tty", (io.StringIO,), {"isatty": lambda self: True})("y\n"))
    assert main(["sources", "prune"]) == 0
    assert "pruned local" in capsys.readouterr().out
    assert set(_rows(settings, "local").values()) == {0}
    assert _rows(settings, "stdlib")["raw_instructions"] == 3
    assert not any(p.exists() for p in staged) and not (settings.home / "partitions" / "local.yaml").exists()
    with platform_instance(settings) as instance:
        assert "local" not in instance.get_dynamic_partitions("sources")
        assert "stdlib" in instance.get_dynamic_partitions("sources")
    with connect_reader(settings.warehouse_path) as conn:  # the ledger lost local's programs only
        assert conn.execute("SELECT count(*) FROM sampling_ledger WHERE program_id NOT IN (SELECT program_id FROM programs)").fetchone()[0] == 0
    assert main(["sources", "prune", "--yes"]) == 0
    assert "nothing to prune" in capsys.readouterr().out
