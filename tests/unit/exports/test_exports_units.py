"""The export's small parts on their own: settings, splits, formats, length control."""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

import polars as pl
import pytest

from lintseq_assets.core import sample_edit_paths
from lintseq_assets.exports import (
    FORMATS,
    ExportError,
    ExportSettings,
    assign_split,
    default_out_dir,
    lintseq_text,
    parse_edits,
    write_exports,
)
from lintseq_assets.exports.formats import FORMAT_SPECS, SequenceItem, subtrajectory_k
from lintseq_assets.exports.length import LengthLimit, Outcome, shape_row

PROGRAM = "import os\n\n\ndef main():\n    x = 1\n    y = x + 1\n    print(os.getcwd(), y)\n\n\nmain()"


def _item(path: list[str]) -> SequenceItem:
    return SequenceItem("s1", "p1", 0, "c1", "src", "Do it.", tuple(path))


def test_defaults_are_documented_and_sane():
    settings = ExportSettings()
    assert settings.formats == ("lintseq", "prompt_completion")
    assert settings.splits == {"train": 0.95, "test": 0.05}
    assert settings.max_chars is None and settings.overlong == "drop" and settings.push_to_hub is None


def test_from_dict_rejects_unknown_keys_and_accepts_lists():
    settings = ExportSettings.from_dict({"formats": ["lintseq", "messages"], "splits": {"train": 0.9, "test": 0.1}, "max_chars": 100})
    assert settings.formats == ("lintseq", "messages") and settings.max_chars == 100
    assert ExportSettings.from_dict({"formats": "baseline"}).formats == ("baseline",)
    with pytest.raises(ExportError, match="unknown export settings"):
        ExportSettings.from_dict({"format": ["lintseq"]})
    assert ExportSettings.from_dict(settings.to_dict()) == settings


@pytest.mark.parametrize(
    "values, message",
    [
        ({"formats": ["lintseq", "nope"]}, "formats"),
        ({"formats": []}, "formats"),
        ({"splits": {"train": 0.5, "test": 0.4}}, "sum to 1"),
        ({"splits": {"train": 1.0, "test": 0.0}}, "> 0"),
        ({"splits": {"train/x": 1.0}}, "split name"),
        ({"overlong": "wrap"}, "overlong"),
        ({"max_chars": 0}, "max_chars"),
        ({"shard_rows": 0}, "shard_rows"),
        ({"max_tokens": 10}, "together"),
        ({"name": "../escape"}, "name"),
    ],
)
def test_bad_settings_fail_early(values, message):
    with pytest.raises(ExportError, match=message):
        ExportSettings.from_dict(values)


def test_splits_are_deterministic_and_follow_the_ratio():
    splits = {"train": 0.8, "validation": 0.1, "test": 0.1}
    ids = [f"program-{i}" for i in range(5000)]
    first = [assign_split(pid, 7, splits) for pid in ids]
    assert first == [assign_split(pid, 7, splits) for pid in ids]
    shares = Counter(first)
    assert abs(shares["train"] / len(ids) - 0.8) < 0.03 and abs(shares["test"] / len(ids) - 0.1) < 0.02
    assert first != [assign_split(pid, 8, splits) for pid in ids]  # the seed matters


def test_text_parses_back_to_the_edit_path():
    path = sample_edit_paths(PROGRAM, seed=1)[0]
    text = lintseq_text("Do it.", path)
    assert text == "Do it." + "\n<|diff|>" + "\n<|diff|>".join(path)
    assert parse_edits(text) == path


def test_subtrajectory_k_stays_inside_the_path():
    for n in range(1, 30):
        ks = {subtrajectory_k(f"seq-{i}", 0, n) for i in range(200)}
        assert ks == ({0} if n == 1 else set(range(1, n)))


def test_truncation_keeps_the_most_whole_edits_that_fit():
    path = sample_edit_paths(PROGRAM, seed=2)[0]
    assert len(path) >= 3
    candidate = FORMAT_SPECS["lintseq"].candidate(_item(path), 0)
    limit = len(lintseq_text("Do it.", path[:2])) + 1
    row, outcome = shape_row(candidate, LengthLimit(max_chars=limit), "truncate")
    assert outcome is Outcome.TRUNCATED and parse_edits(row["text"]) == path[:2] and row["truncated"] and row["n_edits"] == 2
    row, outcome = shape_row(candidate, LengthLimit(max_chars=limit), "drop")
    assert outcome is Outcome.DROPPED and row is None
    row, outcome = shape_row(candidate, LengthLimit(max_chars=5), "truncate")  # not even one edit fits
    assert outcome is Outcome.DROPPED and row is None
    row, outcome = shape_row(candidate, LengthLimit(), "truncate")
    assert outcome is Outcome.KEPT and parse_edits(row["text"]) == path


def test_token_limit_uses_the_counter_and_both_limits_apply():
    path = sample_edit_paths(PROGRAM, seed=3)[0]
    candidate = FORMAT_SPECS["prompt_completion"].candidate(_item(path), 0)

    def words(text: str) -> int:
        return len(text.split())

    full = candidate.build(len(path))
    budget = words(full["prompt"] + full["completion"]) - 1
    row, outcome = shape_row(candidate, LengthLimit(count_tokens=words, max_tokens=budget), "truncate")
    assert outcome is Outcome.TRUNCATED and words(row["prompt"] + row["completion"]) <= budget
    row, outcome = shape_row(candidate, LengthLimit(max_chars=10**6, count_tokens=words, max_tokens=budget), "drop")
    assert outcome is Outcome.DROPPED


@pytest.mark.skipif(importlib.util.find_spec("transformers") is not None, reason="transformers is installed")
def test_a_tokenizer_without_transformers_is_a_clear_error(tmp_path):
    frame = pl.DataFrame({"sequence_id": ["s"], "program_id": ["p"], "sample_index": [0], "config_hash": ["c"], "edit_path": [["@@ -0,0 +1 @@\n+x = 1"]]})
    programs = pl.DataFrame({"program_id": ["p"], "instruction": ["i"], "program": ["x = 1"], "source": ["s"]})
    settings = ExportSettings(tokenizer="gpt2", max_tokens=100)
    with pytest.raises(ExportError, match="needs the `transformers` package"):
        write_exports(frame, programs, tmp_path / "x", settings, {})
    assert not (tmp_path / "x").exists()


def test_push_to_hub_without_a_token_fails_before_writing(tmp_path, monkeypatch):
    for variable in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    frame = pl.DataFrame({"sequence_id": ["s"], "program_id": ["p"], "sample_index": [0], "config_hash": ["c"], "edit_path": [["@@ -0,0 +1 @@\n+x = 1"]]})
    programs = pl.DataFrame({"program_id": ["p"], "instruction": ["i"], "program": ["x = 1"], "source": ["s"]})
    with pytest.raises(ExportError, match="needs a token"):
        write_exports(frame, programs, tmp_path / "x", ExportSettings(push_to_hub="me/lintseq"), {})
    assert not (tmp_path / "x").exists()


def test_every_format_is_specified():
    assert set(FORMAT_SPECS) == set(FORMATS)
    for spec in FORMAT_SPECS.values():
        assert {"program_id", "sequence_id", "source"} <= set(spec.schema.names)


def test_default_out_dir():
    assert default_out_dir(Path("/home"), ExportSettings(name="x")) == Path("/home/exports/x")


def test_size_categories_counts_examples_not_examples_times_formats(tmp_path):
    """597 sequences in two formats (and a split) is n<1K, not 1K<n<10K (issue 14)."""
    from lintseq_assets.exports.card import ExportStats, render_card

    settings = ExportSettings()
    counts = {
        "rows": {"lintseq": {"train": 567, "test": 30}, "prompt_completion": {"train": 567, "test": 30}},
        "truncated": {n: {"train": 0, "test": 0} for n in settings.formats},
        "dropped": {n: {"train": 0, "test": 0} for n in settings.formats},
        "programs_per_split": {"train": 189, "test": 10},
        "input": {"programs": 199, "sequences": 597},
    }
    data_files = {n: {"train": [], "test": []} for n in settings.formats}
    text = render_card(settings=settings, config_hash="c1", counts=counts, stats=ExportStats(), data_files=data_files,
                       plots=[], root=tmp_path, lineage={})
    import yaml

    header = yaml.safe_load(text.split("---\n")[1])
    assert header["size_categories"] == ["n<1K"]
    counts["rows"]["lintseq"] = {"train": 1500, "test": 10}
    text = render_card(settings=settings, config_hash="c1", counts=counts, stats=ExportStats(), data_files=data_files,
                       plots=[], root=tmp_path, lineage={})
    assert yaml.safe_load(text.split("---\n")[1])["size_categories"] == ["1K<n<10K"]
