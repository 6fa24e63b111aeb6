"""Settings from the command line: `--set NAME=VALUE` and `--config run.yaml` (the launchpad's
schema) build on the one run-config model; unknown keys are one line with a suggestion; and
docs/settings.md is generated from the same classes (issue 14, "Settings from the command line")."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from lintseq_assets.cli.main import main
from lintseq_assets.curation.config import CurationSettings
from lintseq_assets.exports.config import ExportSettings
from lintseq_assets.platform.run_config import (
    CONFIG_CLASSES,
    SETTINGS,
    RunConfigError,
    RunSettings,
    build_run_config,
    parse_set,
    settings_markdown,
    split_run_config,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "settings.md"


def test_set_names_one_setting_in_the_launchpad_schema():
    config = parse_set(["curation.decontaminate=false", "sampling.samples=5", "export.name=x", "export.formats=[lintseq, messages]"])
    assert config["ops"]["source_programs"]["config"]["curation"] == {"decontaminate": False}
    assert config["ops"]["edit_sequence_shards"]["config"] == {"samples": 5}
    assert config["ops"]["training_exports"]["config"]["export"] == {"name": "x", "formats": ["lintseq", "messages"]}
    ingest, downstream = split_run_config(config)
    # the curation settings hold for both halves of curation
    assert ingest["ops"]["source_programs"]["config"]["curation"] == downstream["ops"]["programs"]["config"]["curation"] == {"decontaminate": False}


def test_config_file_flags_then_set_in_that_order(tmp_path):
    run_yaml = tmp_path / "run.yaml"
    run_yaml.write_text(
        "ops:\n  edit_sequence_shards:\n    config: {samples: 2, seed: 7}\n"
        "  programs:\n    config:\n      curation: {jaccard_threshold: 0.9}\n"
        "  training_exports:\n    config:\n      export: {name: from-file}\n",
        encoding="utf-8",
    )
    config = build_run_config(RunSettings(samples=4), run_yaml, ["export.name=from-set"])
    assert config["ops"]["edit_sequence_shards"]["config"] == {"samples": 4, "seed": 7}
    assert config["ops"]["training_exports"]["config"]["export"] == {"name": "from-set"}
    assert config["ops"]["programs"]["config"]["curation"] == {"jaccard_threshold": 0.9}


@pytest.mark.parametrize(
    ("sets", "expected"),
    [
        (["curation.decontaminat=false"], "did you mean 'curation.decontaminate'?"),
        (["sampling.sample=5"], "did you mean 'sampling.samples'?"),
        (["curations.near_dedup=false"], "did you mean 'curation'?"),
        (["sampling.samples=0"], "sampling.samples must be a whole number of at least 1"),
        (["sampling.seed=abc"], "sampling.seed"),
        (["curation.jaccard_threshold=2"], "jaccard_threshold must be in (0, 1]"),
        (["export.formats=[lintseq, nope]"], "formats must be a non-empty subset"),
        (["curation.decontaminate"], "expected NAME=VALUE"),
    ],
)
def test_bad_set_is_one_line(sets, expected):
    with pytest.raises(RunConfigError) as err:
        build_run_config(RunSettings(), None, sets)
    assert expected in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ops:\n  edit_sequence_shard:\n    config: {samples: 2}\n", "unknown asset 'edit_sequence_shard' (did you mean 'edit_sequence_shards'?)"),
        ("ops:\n  edit_sequence_shards:\n    config: {sample: 2}\n", "unknown key 'sample' (did you mean 'samples'?)"),
        ("ops:\n  programs:\n    config:\n      curation: {jacard_threshold: 0.9}\n", "unknown setting 'curation.jacard_threshold' (did you mean 'curation.jaccard_threshold'?)"),
        ("op:\n  programs: {}\n", "unknown top-level key 'op' (did you mean 'ops'?)"),
        ("ops: [\n", "not valid YAML at line"),
    ],
)
def test_bad_config_file_is_one_line_naming_the_file(text, expected, tmp_path):
    run_yaml = tmp_path / "run.yaml"
    run_yaml.write_text(text, encoding="utf-8")
    with pytest.raises(RunConfigError) as err:
        build_run_config(RunSettings(), run_yaml)
    message = str(err.value)
    assert message.startswith(f"{run_yaml}: ") and expected in message and "\n" not in message


def test_materialize_refuses_an_unknown_setting_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LINTSEQ_HOME", str(tmp_path / "home"))
    assert main(["materialize", "--set", "curation.decontaminat=false"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("lintseq materialize: --set curation.decontaminat: unknown setting (did you mean 'curation.decontaminate'?); "
                   "`lintseq settings` lists every setting")
    assert not (tmp_path / "home" / "dagster").exists()


def test_every_setting_is_named_once_with_a_default_and_a_description():
    expected = (
        {f"ingest.{k}" for k in CONFIG_CLASSES["raw_instructions"].model_fields}
        | {f"curation.{f.name}" for f in dataclasses.fields(CurationSettings)}
        | {f"curation.{k}" for k in ("executor", "workers", "ray_address")}
        | {f"sampling.{k}" for k in CONFIG_CLASSES["edit_sequence_shards"].model_fields}
        | {f"export.{f.name}" for f in dataclasses.fields(ExportSettings)}
    )
    assert set(SETTINGS) == expected
    assert all(s.description for s in SETTINGS.values()), [s.name for s in SETTINGS.values() if not s.description]
    assert SETTINGS["curation.decontaminate"].default is True and SETTINGS["sampling.samples"].default == 3


def test_docs_settings_md_is_generated_from_the_model():
    assert DOC.read_text(encoding="utf-8") == settings_markdown(), (
        "docs/settings.md drifted from the run-config model: regenerate it with `.venv/bin/lintseq settings --markdown > docs/settings.md`"
    )
