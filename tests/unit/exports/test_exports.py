"""Training exports end to end: real engine output in, real `datasets` loading out.

Inputs are built by running the engine on small programs written here and a few
standard-library modules, shaped like the warehouse's `edit_sequences` and `programs`.
"""

from __future__ import annotations

import json
import os
import sysconfig
from pathlib import Path

import datasets
import polars as pl
import pyarrow.parquet as pq
import pytest
import yaml

from lintseq_assets.core import (
    SamplerConfig,
    analyse_program,
    apply_diff,
    replay_states,
    sample_analysed,
)
from lintseq_assets.exports import (
    FORMATS,
    STATE_MARKER,
    ExportError,
    ExportSettings,
    assign_split,
    parse_edits,
    parse_state,
    verify_manifest,
    write_exports,
)
from lintseq_assets.exports.manifest import sha256_file

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

HANDWRITTEN = {
    "Write a function that adds two numbers.": "def add(a, b):\n    return a + b\n\nprint(add(1, 2))",
    "Sum the squares of a list.": "def sum_squares(xs):\n    total = 0\n    for x in xs:\n        total += x * x\n    return total",
    "A counter class.": (
        "import itertools\n\n\nclass Counter:\n    def __init__(self):\n        self._ids = itertools.count()\n\n"
        "    def next(self):\n        return next(self._ids)\n\n\nc = Counter()\nprint(c.next(), c.next())"
    ),
    "Read a file and count its words.": (
        "import sys\n\n\ndef count_words(path):\n    with open(path) as handle:\n        return len(handle.read().split())\n\n\n"
        "if __name__ == '__main__':\n    print(count_words(sys.argv[1]))"
    ),
    "Fibonacci numbers.": "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n\n\nprint([fib(i) for i in range(10)])",
}
STDLIB = ("colorsys.py", "bisect.py", "keyword.py", "fnmatch.py", "textwrap.py")
SAMPLES = 3


def build_inputs(config: SamplerConfig = SamplerConfig(), samples: int = SAMPLES) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Run the engine and shape its output like the warehouse tables."""
    library = Path(sysconfig.get_paths()["stdlib"])
    records = [("handwritten", instruction, text) for instruction, text in HANDWRITTEN.items()]
    records += [("stdlib", f"Write the Python module `{name[:-3]}`.", (library / name).read_text()) for name in STDLIB]
    programs, sequences = [], []
    for row, (source, instruction, text) in enumerate(records):
        analysed = analyse_program(text, config)
        program = analysed.program
        programs.append({"program_id": program.program_id, "record_id": f"{source}:{row}", "source": source,
                         "instruction": instruction, "program": program.text, "n_lines": len(program.lines)})
        for seq in sample_analysed(analysed, samples=samples, seed=0, config=config):
            sequences.append({"sequence_id": seq.sequence_id, "program_id": seq.program_id, "sample_index": seq.sample_index,
                              "seed": seq.seed, "config_hash": seq.config_hash, "n_edits": seq.n_edits, "edit_path": seq.edit_path})
    sequence_frame = pl.DataFrame(sequences, schema_overrides={"seed": pl.UInt64, "edit_path": pl.List(pl.String)})
    return sequence_frame, pl.DataFrame(programs)


LINEAGE = {"sources": {"handwritten": "rev-1", "stdlib": "3.11"}, "run_id": "test-run", "code_version": "test"}


@pytest.fixture(scope="module")
def inputs() -> tuple[pl.DataFrame, pl.DataFrame]:
    return build_inputs()


@pytest.fixture(scope="module")
def full_export(inputs, tmp_path_factory):
    """Every format, a three-way split, JSONL and a save_to_disk copy."""
    sequences, programs = inputs
    out = tmp_path_factory.mktemp("exports") / "all"
    settings = ExportSettings(name="all", formats=FORMATS, splits={"train": 0.6, "validation": 0.2, "test": 0.2},
                              split_seed=3, jsonl=True, save_to_disk=True, shard_rows=10)
    return write_exports(sequences, programs, out, settings, LINEAGE), settings


def _program_texts(programs: pl.DataFrame) -> dict[str, str]:
    return dict(zip(programs["program_id"], programs["program"], strict=True))


def _load(out: Path, name: str) -> datasets.DatasetDict:
    return datasets.load_dataset("parquet", data_dir=str(out / name))


def test_every_format_loads_with_datasets(full_export):
    result, settings = full_export
    for name in settings.formats:
        by_dir = _load(result.out_dir, name)
        by_card = datasets.load_dataset(str(result.out_dir), name=name)
        expected = {s: n for s, n in result.counts["rows"][name].items() if n}
        assert {s: len(d) for s, d in by_dir.items()} == expected
        assert {s: len(d) for s, d in by_card.items()} == expected
        for split in by_dir:
            row = by_dir[split][0]
            assert {"program_id", "sequence_id", "source"} <= set(row)
            assert row["program_id"]


def test_shards_follow_shard_rows(full_export):
    result, settings = full_export
    for by_split in result.data_files.values():
        for paths in by_split.values():
            rows = [pq.ParquetFile(p).metadata.num_rows for p in paths]
            assert all(0 < r <= settings.shard_rows for r in rows)
            assert all(p.name.endswith(f"-of-{len(paths):05d}.parquet") for p in paths)


def test_lintseq_and_prompt_completion_replay_to_their_program(full_export, inputs):
    result, _ = full_export
    texts = _program_texts(inputs[1])
    n_rows = 0
    for name, text_of in (("lintseq", lambda r: r["text"]), ("prompt_completion", lambda r: r["prompt"] + r["completion"]),
                          ("messages", lambda r: "\n" + r["messages"][1]["content"])):
        for split in _load(result.out_dir, name).values():
            for row in split:
                edits = parse_edits(text_of(row))
                assert len(edits) == row["n_edits"] and not row["truncated"]
                assert "\n".join(replay_states(edits)[-1]) == texts[row["program_id"]]
                n_rows += 1
    assert n_rows == 3 * len(inputs[0])


def test_prompt_completion_is_the_lintseq_text(full_export):
    result, _ = full_export
    lintseq = {r["sequence_id"]: r["text"] for d in _load(result.out_dir, "lintseq").values() for r in d}
    for split in _load(result.out_dir, "prompt_completion").values():
        for row in split:
            assert row["prompt"] + row["completion"] == lintseq[row["sequence_id"]]
    messages = _load(result.out_dir, "messages")["train"][0]["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant"]


def test_subtrajectory_state_plus_completion_rebuilds_the_program(full_export, inputs):
    result, _ = full_export
    texts = _program_texts(inputs[1])
    paths = {r["sequence_id"]: r["edit_path"] for r in inputs[0].iter_rows(named=True)}
    ks = set()
    for split in _load(result.out_dir, "subtrajectory").values():
        for row in split:
            path, k = paths[row["sequence_id"]], row["state_edits"]
            assert 1 <= k < len(path) or (k == 0 and len(path) == 1)
            state = parse_state(row["prompt"])
            assert state == replay_states(path[:k])[-1]
            edits = parse_edits(row["completion"])
            assert edits == path[k:]
            final = state  # replay the completion from the prompt's state, not from empty
            for diff in edits:
                final = apply_diff(final, diff)
            assert "\n".join(final) == texts[row["program_id"]]
            ks.add(k)
    assert len(ks) > 3  # k really varies


def test_baseline_is_one_row_per_program(full_export, inputs):
    result, _ = full_export
    programs = inputs[1]
    rows = [r for d in _load(result.out_dir, "baseline").values() for r in d]
    assert sorted(r["program_id"] for r in rows) == sorted(programs["program_id"])
    instruction = dict(zip(programs["program_id"], programs["instruction"], strict=True))
    texts = _program_texts(programs)
    for row in rows:
        assert row["text"] == instruction[row["program_id"]] + "\n" + texts[row["program_id"]]
        assert row["sequence_id"] is None


def test_splits_share_no_program(full_export, inputs):
    result, settings = full_export
    for name in settings.formats:
        seen: dict[str, str] = {}
        for split, data in _load(result.out_dir, name).items():
            for pid in data["program_id"]:
                assert seen.setdefault(pid, split) == split, f"{pid} in {seen[pid]} and {split}"
                assert assign_split(pid, settings.split_seed, settings.splits) == split
    assert sum(result.counts["programs_per_split"].values()) == inputs[1].height


def test_manifest_checksums_match_the_files(full_export):
    result, _ = full_export
    manifest = json.loads(result.manifest_path.read_text())
    assert verify_manifest(result.out_dir) == []
    listed = {e["path"]: e for e in manifest["files"]}
    on_disk = {p.relative_to(result.out_dir).as_posix() for p in result.out_dir.rglob("*") if p.is_file()}
    assert set(listed) == on_disk - {"manifest.json"}
    for path, entry in listed.items():
        assert sha256_file(result.out_dir / path) == entry["sha256"]
        if path.endswith(".parquet"):
            assert entry["rows"] == pq.ParquetFile(result.out_dir / path).metadata.num_rows
    assert manifest["lineage"] == LINEAGE
    assert manifest["counts"]["rows"] == result.counts["rows"]
    assert manifest["code_version"]["package"]
    assert sorted(result.files) == sorted(result.out_dir / p for p in on_disk)


def test_card_header_lists_every_format_and_embeds_plots(full_export):
    result, settings = full_export
    text = result.card_path.read_text()
    header = yaml.safe_load(text.split("---\n")[1])
    assert [c["config_name"] for c in header["configs"]] == list(settings.formats)
    assert header["license"] and "lintseq" in header["tags"]
    assert len(result.plots) == 4
    for plot in result.plots:
        assert plot.read_bytes().startswith(b"\x89PNG")
        assert f"(plots/{plot.name})" in text


def test_jsonl_and_save_to_disk_copies(full_export):
    result, _ = full_export
    jsonl = datasets.load_dataset("json", data_dir=str(result.out_dir / "jsonl" / "lintseq"))
    assert {s: len(d) for s, d in jsonl.items()} == {s: n for s, n in result.counts["rows"]["lintseq"].items() if n}
    on_disk = datasets.load_from_disk(str(result.out_dir / "disk" / "prompt_completion"))
    parquet = _load(result.out_dir, "prompt_completion")
    assert on_disk["train"]["completion"] == parquet["train"]["completion"]


@pytest.mark.parametrize("overlong", ["drop", "truncate"])
def test_length_control_cuts_at_edit_boundaries_and_counts(inputs, tmp_path, overlong):
    sequences, programs = inputs
    full_lengths = []
    instruction = dict(zip(programs["program_id"], programs["instruction"], strict=True))
    for row in sequences.iter_rows(named=True):
        full_lengths.append(len(instruction[row["program_id"]] + "".join("\n<|diff|>" + d for d in row["edit_path"])))
    limit = sorted(full_lengths)[len(full_lengths) // 2]
    settings = ExportSettings(formats=("lintseq", "prompt_completion", "subtrajectory", "baseline"),
                              max_chars=limit, overlong=overlong, splits={"train": 1.0})
    result = write_exports(sequences, programs, tmp_path / "x", settings, LINEAGE)
    overlong_rows = sum(n > limit for n in full_lengths)
    assert overlong_rows > 0
    paths = {r["sequence_id"]: r["edit_path"] for r in sequences.iter_rows(named=True)}
    for name, text_of in (("lintseq", lambda r: r["text"]), ("prompt_completion", lambda r: r["prompt"] + r["completion"])):
        rows = list(_load(result.out_dir, name)["train"])
        truncated = sum(result.counts["truncated"][name].values())
        dropped = sum(result.counts["dropped"][name].values())
        assert truncated + dropped == overlong_rows
        assert len(rows) == len(full_lengths) - dropped
        assert (truncated == 0) == (overlong == "drop")
        assert sum(r["truncated"] for r in rows) == truncated
        for row in rows:
            text = text_of(row)
            assert len(text) <= limit
            edits = parse_edits(text)
            assert edits == paths[row["sequence_id"]][: len(edits)]  # whole diffs, a prefix of the path
            replay_states(edits)  # still replays
            if row["truncated"]:
                assert len(text + "\n<|diff|>" + paths[row["sequence_id"]][len(edits)]) > limit  # as many as fit
    for row in _load(result.out_dir, "subtrajectory")["train"]:
        assert len(row["prompt"] + row["completion"]) <= limit
    for row in _load(result.out_dir, "baseline")["train"]:
        assert len(row["text"]) <= limit
    assert sum(result.counts["truncated"]["baseline"].values()) == 0  # a program is never cut


def test_same_inputs_give_byte_identical_files(inputs, tmp_path):
    sequences, programs = inputs
    settings = ExportSettings(formats=FORMATS, split_seed=1, splits={"train": 0.7, "test": 0.3})
    first = write_exports(sequences, programs, tmp_path / "a", settings, LINEAGE)
    shuffled = write_exports(sequences.sample(fraction=1.0, shuffle=True, seed=7), programs.reverse(),
                             tmp_path / "b", settings, LINEAGE)
    files_a = {p.relative_to(first.out_dir): sha256_file(p) for p in first.files}
    files_b = {p.relative_to(shuffled.out_dir): sha256_file(p) for p in shuffled.files}
    assert files_a == files_b
    assert any(str(p).endswith(".parquet") for p in files_a)


def test_rewrite_replaces_the_export_whole_and_leaves_no_temp(inputs, tmp_path):
    sequences, programs = inputs
    out = tmp_path / "exports" / "x"
    write_exports(sequences, programs, out, ExportSettings(formats=("lintseq", "baseline")), LINEAGE)
    second = write_exports(sequences, programs, out, ExportSettings(), LINEAGE)
    assert not (out / "baseline").exists()  # nothing left over from the first export
    assert verify_manifest(out) == []
    assert sorted(p.name for p in out.parent.iterdir()) == ["x"]
    assert second.counts["rows"].keys() == {"lintseq", "prompt_completion"}


def test_a_crash_leaves_the_previous_export_intact(inputs, tmp_path, monkeypatch):
    sequences, programs = inputs
    out = tmp_path / "x"
    write_exports(sequences, programs, out, ExportSettings(), LINEAGE)
    before = {p: sha256_file(p) for p in out.rglob("*") if p.is_file()}

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("lintseq_assets.exports.writer.write_manifest", crash)
    with pytest.raises(OSError, match="disk full"):
        write_exports(sequences, programs, out, ExportSettings(formats=FORMATS), LINEAGE)
    assert {p: sha256_file(p) for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x"]


def test_several_configs_need_a_config_hash(inputs, tmp_path):
    sequences, programs = inputs
    other_config = SamplerConfig(linter="none")
    other, _ = build_inputs(other_config, samples=1)
    mixed = pl.concat([sequences, other])
    with pytest.raises(ExportError, match="set config_hash"):
        write_exports(mixed, programs, tmp_path / "x", ExportSettings(), LINEAGE)
    chosen = other_config.config_hash()
    result = write_exports(mixed, programs, tmp_path / "x", ExportSettings(config_hash=chosen), LINEAGE)
    assert result.config_hash == chosen
    assert sum(result.counts["rows"]["lintseq"].values()) == other.height
    assert json.loads(result.manifest_path.read_text())["config_hash"] == chosen
    with pytest.raises(ExportError, match="not in the sequences"):
        write_exports(sequences, programs, tmp_path / "y", ExportSettings(config_hash="0" * 16), LINEAGE)


def test_missing_programs_are_an_error(inputs, tmp_path):
    sequences, programs = inputs
    with pytest.raises(ExportError, match="missing"):
        write_exports(sequences, programs.head(2), tmp_path / "x", ExportSettings(), LINEAGE)
    assert not (tmp_path / "x").exists()


def test_instructions_holding_a_marker_are_left_out_and_counted(inputs, tmp_path):
    sequences, programs = inputs
    poisoned = programs.with_columns(
        pl.when(pl.col("source") == "handwritten").then(pl.col("instruction") + STATE_MARKER).otherwise(pl.col("instruction")).alias("instruction")
    )
    result = write_exports(sequences, poisoned, tmp_path / "x", ExportSettings(), LINEAGE)
    assert result.counts["input"]["programs_excluded_marker_in_instruction"] == len(HANDWRITTEN)
    assert result.counts["input"]["programs"] == len(STDLIB)


def test_markdown_for_the_asset_metadata(full_export):
    result, settings = full_export
    table = result.counts_markdown()
    assert all(f"| {name} |" in table for name in settings.formats)
    inlined = result.plots_markdown()
    assert inlined.count("data:image/png;base64,") == len(result.plots)


def test_custom_split_names_load_through_the_card(inputs, tmp_path):
    sequences, programs = inputs
    settings = ExportSettings(splits={"train": 0.5, "holdout": 0.5}, split_seed=2)
    result = write_exports(sequences, programs, tmp_path / "x", settings, LINEAGE)
    loaded = datasets.load_dataset(str(result.out_dir), name="lintseq")
    assert all(result.counts["rows"]["lintseq"].values())
    assert {s: len(d) for s, d in loaded.items()} == result.counts["rows"]["lintseq"]
    assert "only knows train, validation, test" in result.card_path.read_text()


def test_content_version_follows_the_data_not_the_run(inputs, tmp_path):
    """training_exports' data version: the same sequences exported by another run have the same
    version; one sequence fewer gives another."""
    from lintseq_assets.exports.manifest import content_version

    sequences, programs = inputs
    settings = ExportSettings(split_seed=1)
    first = write_exports(sequences, programs, tmp_path / "a", settings, LINEAGE)
    again = write_exports(sequences, programs, tmp_path / "b", settings, {**LINEAGE, "run_id": "another-run"})
    fewer = write_exports(sequences.head(sequences.height - 1), programs, tmp_path / "c", settings, LINEAGE)
    assert content_version(first.manifest_path) == content_version(again.manifest_path)
    assert content_version(first.manifest_path) != content_version(fewer.manifest_path)
