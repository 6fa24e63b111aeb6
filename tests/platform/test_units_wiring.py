"""Both units through the doors outside the engine: `lintseq sample --unit`, the sampling
asset's config (sticky like the other sampler settings) and the dataset card."""

from __future__ import annotations

import json
import subprocess
import sys

import polars as pl

from lintseq_assets.core import SamplerConfig, analyse_program, sample_analysed, verify_edit_path
from lintseq_assets.exports import ExportSettings, write_exports
from lintseq_assets.platform.run_config import RunSettings, SamplingConfig

PROGRAM = 'import os\n\n\ndef f(\n    a,\n    b=os.sep,\n):\n    """Join.\n\n    Two lines.\n    """\n    return [\n        a,\n        b,\n    ]\n'


def test_cli_sample_unit_flag(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "p", "program": PROGRAM}) + "\n")
    hashes = {}
    for unit in ("line", "statement", None):
        out = tmp_path / f"{unit}.jsonl"
        args = [sys.executable, "-m", "lintseq_assets.cli.main", "sample", str(src), "-o", str(out), "-s", "3", "-q"]
        subprocess.run(args + (["--unit", unit] if unit else []), check=True, capture_output=True)
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        assert all(verify_edit_path(PROGRAM, row["edit_path"]).ok for row in rows)
        hashes[unit] = (rows[0]["config_hash"], [row["edit_path"] for row in rows])
    assert hashes[None] == hashes["line"]  # line is the default
    assert hashes["line"][0] == SamplerConfig(unit="line").config_hash()
    assert hashes["statement"][0] == SamplerConfig(unit="statement").config_hash() != hashes["line"][0]


def test_sampling_asset_config_carries_the_unit_and_keeps_it_sticky():
    assert SamplingConfig().sampler().unit == "line"
    assert SamplingConfig(unit="statement").sampler() == SamplerConfig(unit="statement")
    assert "unit" in SamplingConfig.STICKY


def test_materialize_unit_flag_reaches_the_sampling_config():
    from lintseq_assets.cli.main import build_parser
    from lintseq_assets.cli.platform_commands import _run_config

    parser = build_parser()
    args = parser.parse_args(["materialize", "--unit", "statement"])
    assert _run_config(args)["ops"]["edit_sequence_shards"]["config"]["unit"] == "statement"
    assert "ops" not in _run_config(parser.parse_args(["materialize"]))
    assert RunSettings(unit="line").to_run_config()["ops"]["edit_sequence_shards"]["config"] == {"unit": "line"}


def test_dataset_card_names_the_unit(tmp_path):
    config = SamplerConfig(unit="line")
    analysed = analyse_program(PROGRAM, config)
    seqs = sample_analysed(analysed, samples=2, config=config)
    sequences = pl.DataFrame(
        [{"sequence_id": s.sequence_id, "program_id": s.program_id, "sample_index": s.sample_index, "seed": s.seed,
          "config_hash": s.config_hash, "n_edits": s.n_edits, "edit_path": s.edit_path} for s in seqs],
        schema_overrides={"seed": pl.UInt64, "edit_path": pl.List(pl.String)},
    )
    programs = pl.DataFrame([{"program_id": analysed.program.program_id, "record_id": "r", "source": "handwritten",
                              "instruction": "Join.", "program": analysed.program.text, "n_lines": len(analysed.program.lines)}])
    lineage = {"sources": {"handwritten": "1"}, "run_id": "t", "code_version": "t", "sampler_config": config.describe()}
    write_exports(sequences, programs, tmp_path / "x", ExportSettings(name="x", splits={"train": 1.0}), lineage)
    card = (tmp_path / "x" / "README.md").read_text()
    assert "edit unit: `line`" in card
